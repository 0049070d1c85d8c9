"""What an exercise author declares: the ``Exercise`` and its ``Check`` list (see README.md).

One probe module per exercise, ``autograder/probes/<assignment>/<exercise>.py``::

    EXERCISE = Exercise(name="softmax", answer_cells=("softmax-answer",),
                        grade_cell="softmax-check", names=("softmax",),
                        graded=("keras.ops.softmax",))
    CHECKS = (Check("last_axis", rtol=1e-5, atol=1e-6), ...)

    def inputs(rng): ...            # trusted: NumPy arrays drawn from the derived seed
    def probe(learner, inputs): ... # sandbox: calls the learner's code, returns {name: value}
    def reference(inputs): ...      # trusted: the expected {name: array}, same inputs, same backend

Top-level imports of a probe module stay light (NumPy, ``autograder.contract``,
``autograder.sandbox.probe_tools``): Keras and ``llm_keras`` are imported inside ``probe`` and
``reference``, because the orchestrating process never imports a framework.
"""

from __future__ import annotations

import dataclasses


class ContractError(ValueError):
    """A probe module's ``Exercise`` or ``Check`` does not follow the contract."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One graded piece of a notebook.

    Attributes:
        name: the exercise's id, unique in its assignment (``"causal_mask"``).
        answer_cells: nbgrader ``grade_id`` of the autograded answer cell(s) the learner fills in.
        grade_cell: nbgrader ``grade_id`` of the exercise's visible-check cell; its nbgrader
            ``points`` are the exercise's points, and its score in the gradebook is the grade.
        names: the names the probe takes from the learner's notebook (``("softmax",)``).
        graded: dotted names of the library objects that *are* this exercise's answer
            (``"llm_keras.layers.causal_mask"``, ``"keras.ops.softmax"``); required, at least one.
            The ``llm_keras`` ones are absent from the sandbox's copy of the library
            (``autograder.library_view``); a solution that names any of them in its answer cells
            gets no credit for this exercise (``autograder.delegation``).
        notebook: the notebook's file name without ``.ipynb``; empty when the assignment has one.
        timeout: seconds this exercise's probe may run (default: the grader's per-cell limit).
        uses: names of the earlier exercises whose functions or layers this one calls
            (``("scaled_dot_product_attention",)``): when one of them fails, the feedback of this
            exercise says that it is the cause to fix first.
    """

    name: str
    answer_cells: tuple[str, ...]
    grade_cell: str
    names: tuple[str, ...] = ()
    graded: tuple[str, ...] = ()
    notebook: str = ""
    timeout: float | None = None
    uses: tuple[str, ...] = ()

    def __post_init__(self):
        graded = self.graded
        if isinstance(graded, str) or not graded or not all(
                isinstance(name, str) and "." in name for name in graded):
            raise ContractError(
                f"Exercise {self.name!r} must say which library pieces it grades: give "
                "graded=(dotted names, ...) the library objects that are its answer, e.g. "
                "graded=(\"llm_keras.layers.causal_mask\",) or (\"keras.ops.softmax\",); "
                f"got graded={graded!r}")


@dataclasses.dataclass(frozen=True)
class Check:
    """One test of an exercise: compare the probe's output ``output`` with the reference's.

    Attributes:
        name: the test's name in the feedback (``"softmax over the last axis"``).
        output: the key in the dicts returned by ``probe`` and ``reference`` (default: ``name``).
        weight: share of the exercise's points (points = grade cell points * weight / sum).
        dtype: ``"float"``, ``"int"``, ``"bool"`` (kind of the array), a NumPy dtype name for an
            exact dtype, or ``"any"``.
        kinds: accepted kinds of returned value: ``"ndarray"``, ``"tensor"``, ``"list"``,
            ``"tuple"``, ``"int"``, ``"float"``, ``"bool"``.
        exact: compare with equality instead of a tolerance (masks, token ids).
        rtol, atol: tolerances, or dicts ``{backend: value}`` (missing backends use ``"default"``).
        hint: a sentence for the learner when this check fails on values.
    """

    name: str
    output: str = ""
    weight: float = 1.0
    dtype: str = "float"
    kinds: tuple[str, ...] = ("ndarray", "tensor")
    exact: bool = False
    rtol: float | dict = 1e-5
    atol: float | dict = 1e-6
    hint: str = ""

    @property
    def key(self) -> str:
        return self.output or self.name

    def tolerance(self, backend: str) -> tuple[float, float]:
        def pick(value):
            if isinstance(value, dict):
                return float(value.get(backend, value.get("default", 0.0)))
            return float(value)

        return pick(self.rtol), pick(self.atol)
