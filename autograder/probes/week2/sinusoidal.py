"""Probe for week 2, exercise 5: ``sinusoidal_positions(seq_len, d_model)``; the reference is
``llm_keras.layers.SinusoidalPositionalEncoding``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="sinusoidal_positions",
    answer_cells=("sinusoidal-answer",),
    grade_cell="sinusoidal-check",
    names=("sinusoidal_positions",),
    graded=("llm_keras.layers.SinusoidalPositionalEncoding",),
)

CHECKS = (
    Check("position vectors", output="positions", rtol=1e-5, atol=1e-5,
          hint="Feature 2i is `sin(p / 10000 ** (2 * i / d_model))` and feature 2i + 1 the "
          "cosine of the same angle."),
)


def inputs(rng):
    return {"seq_len": np.array(int(rng.integers(5, 60))),
            "d_model": np.array(2 * int(rng.integers(2, 17)))}


def probe(learner, inputs):
    return {"positions": learner.sinusoidal_positions(int(inputs["seq_len"]),
                                                      int(inputs["d_model"]))}


def sinusoidal_positions(seq_len, d_model):
    from llm_keras.layers import SinusoidalPositionalEncoding

    return SinusoidalPositionalEncoding()(np.zeros((1, seq_len, d_model), "float32"))[0]


def reference(inputs):
    import keras

    library = SimpleNamespace(sinusoidal_positions=sinusoidal_positions)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
