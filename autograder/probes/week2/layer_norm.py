"""Probe for week 2, exercise 6: ``layer_norm(x, gamma, beta, epsilon=1e-5)``; the reference is
``llm_keras.layers.LayerNorm`` with the same ``gamma`` and ``beta``."""

from types import SimpleNamespace

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="layer_norm",
    answer_cells=("layer-norm-answer",),
    grade_cell="layer-norm-check",
    names=("layer_norm",),
    graded=("llm_keras.layers.LayerNorm", "keras.layers.LayerNormalization",
            "keras.ops.layer_normalization"),
)

CHECKS = (
    Check("normalised vectors", output="normal", rtol=1e-4, atol=1e-5,
          hint="Normalise over the last axis, with the variance that divides by the number of "
          "features."),
    Check("vectors of a small variance, where epsilon matters", output="small", rtol=1e-4,
          atol=1e-5, hint="Add epsilon to the variance, inside the square root."),
)


def inputs(rng):
    shape = tuple(int(n) for n in rng.integers(2, 6, size=2)) + (int(rng.integers(4, 17)),)
    x = rng.normal(size=shape).astype("float32")
    return {"x": (3 * x + 1).astype("float32"), "small": (0.003 * x).astype("float32"),
            "gamma": (1 + 0.2 * rng.normal(size=shape[-1])).astype("float32"),
            "beta": (0.2 * rng.normal(size=shape[-1])).astype("float32")}


def probe(learner, inputs):
    gamma, beta = inputs["gamma"], inputs["beta"]
    return {"normal": learner.layer_norm(inputs["x"], gamma, beta),
            "small": learner.layer_norm(inputs["small"], gamma, beta, epsilon=1e-5)}


def layer_norm(x, gamma, beta, epsilon=1e-5):
    from llm_keras.layers import LayerNorm

    layer = LayerNorm(epsilon=epsilon)
    layer.build(x.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    return layer(x)


def reference(inputs):
    import keras

    library = SimpleNamespace(layer_norm=layer_norm)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
