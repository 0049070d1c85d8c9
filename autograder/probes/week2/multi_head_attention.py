"""Probe for week 2, exercise 4: the ``MultiHeadAttention(d_model, n_heads)`` layer.

The grader's weights are assigned to the sublayers the exercise names (``query``, ``key``,
``value``, ``output_projection``: ``kernel`` and ``bias`` each), the names of
``llm_keras.layers.CausalSelfAttention``, the reference, which gets the same weights.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="multi_head_attention",
    answer_cells=("multi-head-attention-answer",),
    grade_cell="multi-head-attention-check",
    names=("MultiHeadAttention",),
    uses=("causal_mask", "scaled_dot_product_attention", "split_merge_heads"),
    graded=("llm_keras.layers.CausalSelfAttention", "keras.layers.MultiHeadAttention",
            "keras.ops.dot_product_attention"),
)

CHECKS = (
    Check("outputs with the grader's weights", output="outputs", weight=2, rtol=1e-4, atol=1e-5,
          hint="Is the attention causal, in every head, and are the heads merged before the "
          "output projection?"),
    Check("outputs of a one-token sequence, one head", output="one_token", rtol=1e-4, atol=1e-5),
)

PROJECTIONS = ("query", "key", "value", "output_projection")


def inputs(rng):
    batch, seq, head_dim = (int(n) for n in rng.integers(2, 6, size=3))
    n_heads = int(rng.integers(2, 5))
    d_model = n_heads * head_dim
    arrays = {"x": rng.normal(size=(batch, seq, d_model)).astype("float32"),
              "n_heads": np.array(n_heads)}
    for name in PROJECTIONS:
        kernel = rng.normal(size=(d_model, d_model)) / np.sqrt(d_model)
        arrays[f"{name}.kernel"] = kernel.astype("float32")
        arrays[f"{name}.bias"] = (0.1 * rng.normal(size=d_model)).astype("float32")
    return arrays


def probe(learner, inputs):
    from autograder.sandbox.probe_tools import call_with_weights

    weights = {path: value for path, value in inputs.items() if "." in path}

    def run(layer, x):
        return call_with_weights(layer, x, weights)

    x, d_model = inputs["x"], inputs["x"].shape[-1]
    return {"outputs": run(learner.MultiHeadAttention(d_model, int(inputs["n_heads"])), x),
            "one_token": run(learner.MultiHeadAttention(d_model, 1), x[:, :1])}


def reference(inputs):
    import keras

    from llm_keras.layers import CausalSelfAttention

    library = SimpleNamespace(MultiHeadAttention=CausalSelfAttention)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
