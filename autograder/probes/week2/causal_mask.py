"""Probe for week 2, exercise 1: ``causal_mask(seq_len)``; the reference is
``llm_keras.layers.causal_mask``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="causal_mask",
    answer_cells=("causal-mask-answer",),
    grade_cell="causal-mask-check",
    names=("causal_mask",),
    graded=("llm_keras.layers.causal_mask",),
)

HINT = "True must mark the keys a query may attend to: key j <= query i (row i, column j)."
CHECKS = (
    Check("mask of a random length", output="mask", dtype="bool", exact=True, hint=HINT),
    Check("mask of length 1", output="one", dtype="bool", exact=True, hint=HINT),
)


def inputs(rng):
    return {"seq_len": np.array(int(rng.integers(3, 13)))}


def probe(learner, inputs):
    return {"mask": learner.causal_mask(int(inputs["seq_len"])), "one": learner.causal_mask(1)}


def reference(inputs):
    import keras

    from llm_keras.layers import causal_mask

    library = SimpleNamespace(causal_mask=lambda n: causal_mask(n, n))
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
