"""The course's autograder: ``llm-course release / grade / export / feedback``.

nbgrader keeps what it does well (``solutions/`` as its source folder, ``exercises/`` as its
release folder, the gradebook, formgrader, CSV export); grading itself is replaced by three stages
that no submission can fool:

1. ``rebuild``: the learner's answer cells, by nbgrader cell id, spliced into a fresh copy of the
   release notebook (``autograder.rebuild``);
2. run untrusted: those cells and the exercise probes run in a bubblewrap sandbox, in a process
   forked from a pre-warmed "zygote" that has imported Keras (``autograder.sandbox``);
3. score trusted: a separate process compares the plain data the probes wrote with the reference
   implementation on the same inputs and writes the gradebook (``autograder.scoring``,
   ``autograder.gradebook``).

``autograder/README.md`` is the instructor's guide and the contract for exercise authors.
"""
