"""Probe for week 5, exercise 1: ``training_flops(n_params, n_tokens)``; the reference is
``llm_keras.training.budget.training_flops`` (``6 N D``)."""

import numpy as np

from autograder.contract import Check, Exercise

BUDGET = "llm_keras.training.budget."
EXERCISE = Exercise(
    name="training_flops",
    answer_cells=("training-flops-answer",),
    grade_cell="training-flops-check",
    names=("training_flops",),
    graded=(BUDGET + "training_flops", BUDGET + "compute_budget"),
)

CHECKS = (
    Check("FLOPs of models from 1M to 1T parameters on 100M to 10T tokens", output="flops",
          dtype="any", rtol=1e-9, atol=0.0,
          hint="Per token, the forward pass costs 2 FLOPs per parameter and the backward pass "
          "twice that: 6 N D in all."),
)


def inputs(rng):
    return {"n_params": 10 ** rng.uniform(6, 12, size=6),
            "n_tokens": 10 ** rng.uniform(8, 13, size=6)}


def probe(learner, inputs):
    return {"flops": np.array([learner.training_flops(float(n), float(d)) for n, d in
                               zip(inputs["n_params"], inputs["n_tokens"], strict=True)])}


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.budget import training_flops

    return probe(SimpleNamespace(training_flops=training_flops), inputs)
