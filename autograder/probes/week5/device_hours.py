"""Probe for week 5, exercise 3: ``device_hours(flops, peak_flops, utilisation)`` and
``model_flops_utilisation(flops_per_token, tokens_per_second, peak_flops)``; the references are
those of ``llm_keras.training.budget``."""

import numpy as np

from autograder.contract import Check, Exercise

BUDGET = "llm_keras.training.budget."
EXERCISE = Exercise(
    name="device_hours",
    answer_cells=("device-hours-answer",),
    grade_cell="device-hours-check",
    names=("device_hours", "model_flops_utilisation"),
    graded=(BUDGET + "device_hours", BUDGET + "model_flops_utilisation",
            BUDGET + "compute_budget", BUDGET + "ComputeBudget"),
)

CHECKS = (
    Check("device-hours of runs from 1e18 to 1e24 FLOPs", output="hours", dtype="any",
          rtol=1e-9, atol=0.0,
          hint="The device does `peak_flops * utilisation` operations per second; an hour is 3600 "
          "seconds."),
    Check("model FLOPs utilisation", output="mfu", dtype="any", rtol=1e-9, atol=0.0,
          hint="MFU is a fraction (0.4, not 40): FLOPs per token times tokens per second, over "
          "the peak FLOP/s."),
)


def inputs(rng):
    peak = rng.choice([19.5e12, 66.9e12, 312e12, 989.4e12, 275e12], size=5)
    flops_per_token = 10 ** rng.uniform(7, 13, size=5)
    mfu = rng.uniform(0.1, 0.7, size=5)
    return {"flops": 10 ** rng.uniform(18, 24, size=5), "peak": peak,
            "utilisation": rng.uniform(0.15, 0.75, size=5), "flops_per_token": flops_per_token,
            "tokens_per_second": mfu * peak / flops_per_token}


def probe(learner, inputs):
    hours = [learner.device_hours(float(f), float(p), float(u)) for f, p, u in
             zip(inputs["flops"], inputs["peak"], inputs["utilisation"], strict=True)]
    mfu = [learner.model_flops_utilisation(float(f), float(t), float(p)) for f, t, p in
           zip(inputs["flops_per_token"], inputs["tokens_per_second"], inputs["peak"],
               strict=True)]
    return {"hours": np.array(hours), "mfu": np.array(mfu)}


def reference(inputs):
    from types import SimpleNamespace

    from llm_keras.training.budget import device_hours, model_flops_utilisation

    library = SimpleNamespace(device_hours=device_hours,
                              model_flops_utilisation=model_flops_utilisation)
    return probe(library, inputs)
