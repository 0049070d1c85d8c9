"""Probe for exercise 1 of the demo assignment: ``softmax(x, axis=-1)``."""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="softmax",
    answer_cells=("softmax-answer",),
    grade_cell="softmax-check",
    names=("softmax",),
    graded=("keras.ops.softmax", "keras.activations.softmax"),
)

CHECKS = (
    Check("softmax over the last axis", output="last", weight=2),
    Check("softmax over axis 1", output="axis1"),
    Check("large inputs (subtract the maximum first)", output="large",
          hint="Did you subtract the maximum before exp?"),
)


def inputs(rng):
    shape = tuple(int(n) for n in rng.integers(2, 7, size=3))
    x = rng.normal(size=shape).astype("float32")
    return {"x": x, "large": (x * 50 + 1000).astype("float32")}


def probe(learner, inputs):
    return {
        "last": learner.softmax(inputs["x"]),
        "axis1": learner.softmax(inputs["x"], axis=1),
        "large": learner.softmax(inputs["large"], axis=-1),
    }


def reference(inputs):
    import keras

    def softmax(x, axis):
        return keras.ops.convert_to_numpy(keras.ops.softmax(x, axis=axis))

    return {"last": softmax(inputs["x"], -1), "axis1": softmax(inputs["x"], 1),
            "large": softmax(inputs["large"], -1)}
