"""Probe for week 3, exercise 3: ``learning_rate(step, max_lr, warmup_steps, total_steps,
min_lr)``; the reference is ``llm_keras.training.schedule.WarmupCosineDecay``."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="learning_rate",
    answer_cells=("learning-rate-answer",),
    grade_cell="learning-rate-check",
    names=("learning_rate",),
    graded=("llm_keras.training.schedule.WarmupCosineDecay",
            "keras.optimizers.schedules.CosineDecay"),
)

TOLERANCE = {"rtol": 1e-5, "atol": 0.0}
CHECKS = (
    Check("every step of the warm-up", output="warmup", dtype="any",
          kinds=("ndarray", "tensor", "list"), **TOLERANCE,
          hint="During the warm-up (`step < warmup_steps`): "
          "`max_lr * (step + 1) / (warmup_steps + 1)`."),
    Check("the cosine decay, from step warmup_steps to step total_steps", output="decay",
          weight=2, dtype="any", kinds=("ndarray", "tensor", "list"), **TOLERANCE,
          hint="Step warmup_steps gets max_lr and step total_steps gets min_lr: the cosine's "
          "argument is `pi * (step - warmup_steps) / (total_steps - warmup_steps)`."),
    Check("steps after total_steps", output="after", dtype="any",
          kinds=("ndarray", "tensor", "list"), **TOLERANCE,
          hint="After total_steps the rate stays at min_lr."),
)


def inputs(rng):
    warmup = int(rng.integers(3, 40))
    total = warmup + int(rng.integers(20, 500))
    max_lr = float(10 ** rng.uniform(-4, -2))
    decay = np.unique(np.concatenate([[warmup, warmup + 1, total - 1, total],
                                      rng.integers(warmup, total + 1, size=8)]))
    return {"settings": np.array([max_lr, warmup, total, max_lr * rng.uniform(0.0, 0.2)]),
            "warmup": np.arange(warmup), "decay": decay,
            "after": total + rng.integers(1, 1000, size=4)}


def probe(learner, inputs):
    max_lr, warmup, total, min_lr = inputs["settings"].tolist()
    warmup, total = int(warmup), int(total)

    def rates(steps):
        return [float(learner.learning_rate(int(step), max_lr, warmup, total, min_lr))
                for step in steps]

    return {key: rates(inputs[key]) for key in ("warmup", "decay", "after")}


def reference(inputs):
    import keras

    from llm_keras.training.schedule import WarmupCosineDecay

    max_lr, warmup, total, min_lr = inputs["settings"].tolist()
    schedule = WarmupCosineDecay(max_lr, int(warmup), int(total), min_lr)
    return {key: np.array([float(keras.ops.convert_to_numpy(schedule(int(step))))
                           for step in inputs[key]])
            for key in ("warmup", "decay", "after")}
