"""Probe for exercise 3 of the demo assignment: ``shift_targets(ids) -> (inputs, labels)``."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="shift_targets",
    answer_cells=("shift-targets-answer",),
    grade_cell="shift-targets-check",
    names=("shift_targets",),
    graded=("llm_keras.data.windows.windows_at",),  # cuts (inputs, targets) out of windows
)

CHECKS = (
    Check("inputs", dtype="int", exact=True),
    Check("labels", dtype="int", exact=True,
          hint="The label at position t is the token at position t + 1."),
)


def inputs(rng):
    batch, length = (int(n) for n in rng.integers(2, 9, size=2))
    return {"ids": rng.integers(0, 1000, size=(batch, length + 1)).astype("int32")}


def probe(learner, inputs):
    x, y = learner.shift_targets(inputs["ids"])
    return {"inputs": x, "labels": y}


def reference(inputs):
    return {"inputs": inputs["ids"][:, :-1], "labels": inputs["ids"][:, 1:]}
