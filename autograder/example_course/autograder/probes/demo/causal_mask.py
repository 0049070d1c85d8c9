"""Probe for exercise 2 of the demo assignment: ``causal_mask(seq_len)``."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="causal_mask",
    answer_cells=("causal-mask-answer",),
    grade_cell="causal-mask-check",
    names=("causal_mask",),
    graded=("llm_keras.layers.causal_mask",),
)

HINT = "True must mark the positions a query may attend to: key j <= query i."
CHECKS = (
    Check("mask for a random length", output="mask", dtype="bool", exact=True, hint=HINT),
    Check("mask of length 1", output="one", dtype="bool", exact=True, hint=HINT),
)


def inputs(rng):
    return {"seq_len": np.array(rng.integers(3, 12), dtype="int64")}


def probe(learner, inputs):
    return {"mask": learner.causal_mask(int(inputs["seq_len"])), "one": learner.causal_mask(1)}


def reference(inputs):
    n = int(inputs["seq_len"])
    return {"mask": np.tril(np.ones((n, n), dtype=bool)), "one": np.ones((1, 1), dtype=bool)}
