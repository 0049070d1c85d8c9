"""Probe for week 4, exercise 2: ``apply_temperature(logits, t)``, the logits divided by the
temperature. The probe compares ``softmax`` of what it returns (the distribution the next token
is drawn from), so a constant added to a row does not matter; the reference is
``llm_keras.generation.samplers.apply_temperature``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="apply_temperature",
    answer_cells=("temperature-answer",),
    grade_cell="temperature-check",
    names=("apply_temperature",),
    graded=("llm_keras.generation.samplers.apply_temperature",),
)

HINT = ("Divide the logits by t before the softmax; dividing the probabilities changes nothing "
        "once they are normalised.")
TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}
CHECKS = (
    Check("distribution at a temperature below 1", output="sharper", hint=HINT, **TOLERANCE),
    Check("distribution at a temperature above 1", output="flatter", hint=HINT, **TOLERANCE),
    Check("distribution at temperature 1", output="one", hint=HINT, **TOLERANCE),
    Check("a temperature given as a tensor", output="tensor", hint=HINT, **TOLERANCE),
)


def inputs(rng):
    batch, vocab = int(rng.integers(2, 6)), int(rng.integers(5, 40))
    return {"logits": rng.normal(0, 2, size=(batch, vocab)).astype("float32"),
            "low": np.array(rng.uniform(0.2, 0.9)), "high": np.array(rng.uniform(1.2, 4.0))}


def probe(learner, inputs):
    import keras

    def distribution(t):
        scaled = learner.apply_temperature(inputs["logits"], t)
        return keras.ops.softmax(keras.ops.convert_to_tensor(scaled, "float32"), axis=-1)

    low = float(inputs["low"])
    return {"sharper": distribution(low), "flatter": distribution(float(inputs["high"])),
            "one": distribution(1.0),
            "tensor": distribution(keras.ops.convert_to_tensor(low, "float32"))}


def reference(inputs):
    import keras

    from llm_keras.generation.samplers import apply_temperature

    library = SimpleNamespace(apply_temperature=apply_temperature)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
