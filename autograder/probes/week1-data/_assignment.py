"""Week 1, data curation (shingles, MinHash, a quality rule, token shards): graded under the three
Keras backends by default.

The answers are plain Python and NumPy, so the backends agree; grading them all checks that a
learner's notebook runs wherever the course says it does. ``--backend jax`` grades one.

A second assignment of week 1 rather than a second notebook of ``week1``: a submission of
``week1`` would then need both notebooks, and the library pieces each notebook grades would be
missing from the other's sandbox too.
"""

BACKENDS = ("jax", "tensorflow", "torch")
