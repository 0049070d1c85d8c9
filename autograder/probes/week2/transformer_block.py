"""Probe for week 2, exercise 7: the pre-LN ``TransformerBlock(d_model, n_heads, d_ff)`` layer.

The grader's weights are assigned through the sublayers the exercise names, which are those of
``llm_keras.layers.TransformerBlock``, the reference (``norm_first=True``, no dropout), so the
same probe loads both.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="transformer_block",
    answer_cells=("transformer-block-answer",),
    grade_cell="transformer-block-check",
    names=("TransformerBlock",),
    uses=("layer_norm", "multi_head_attention"),
    graded=("llm_keras.layers.TransformerBlock",),
)

HINT = ("Pre-LN: `x + attention(attention_norm(x))`, then "
        "`x + feed_forward(feed_forward_norm(x))`; GELU is the tanh approximation, and the norms' epsilon 1e-5.")
CHECKS = (
    Check("block outputs with the grader's weights", output="outputs", weight=2, rtol=2e-5,
          atol=2e-5, hint=HINT),
    Check("block outputs of a one-token sequence", output="one_token", rtol=2e-5, atol=2e-5,
          hint=HINT),
)


def inputs(rng):
    batch, seq, head_dim = (int(n) for n in rng.integers(2, 6, size=3))
    n_heads = int(rng.integers(2, 5))
    d_model = n_heads * head_dim
    d_ff = 4 * d_model

    def normal(*shape, scale=1.0, mean=0.0):
        return (mean + scale * rng.normal(size=shape)).astype("float32")

    arrays = {"x": normal(batch, seq, d_model), "n_heads": np.array(n_heads),
              "d_ff": np.array(d_ff)}
    for norm in ("attention_norm", "feed_forward_norm"):
        arrays[f"{norm}.gamma"] = normal(d_model, scale=0.2, mean=1.0)
        arrays[f"{norm}.beta"] = normal(d_model, scale=0.2)
    for name in ("query", "key", "value", "output_projection"):
        arrays[f"attention.{name}.kernel"] = normal(d_model, d_model, scale=d_model ** -0.5)
        arrays[f"attention.{name}.bias"] = normal(d_model, scale=0.1)
    # Hidden features of a size where GELU's two forms differ most (by up to 5e-4): a block with
    # the exact GELU is off by 6 to 20 times the tolerance, a correct one by a twentieth of it.
    arrays["feed_forward.up_projection.kernel"] = normal(d_model, d_ff, scale=2.0 * d_model ** -0.5)
    arrays["feed_forward.up_projection.bias"] = normal(d_ff, scale=0.1)
    arrays["feed_forward.down_projection.kernel"] = normal(d_ff, d_model, scale=d_ff ** -0.5)
    arrays["feed_forward.down_projection.bias"] = normal(d_model, scale=0.1)
    return arrays


def probe(learner, inputs):
    from autograder.sandbox.probe_tools import call_with_weights

    weights = {path: value for path, value in inputs.items() if "." in path}

    def run(layer, x):
        return call_with_weights(layer, x, weights)

    x, d_model = inputs["x"], inputs["x"].shape[-1]
    n_heads, d_ff = int(inputs["n_heads"]), int(inputs["d_ff"])
    return {"outputs": run(learner.TransformerBlock(d_model, n_heads, d_ff), x),
            "one_token": run(learner.TransformerBlock(d_model, n_heads, d_ff), x[:, :1])}


def reference(inputs):
    import keras

    from llm_keras.layers import TransformerBlock

    library = SimpleNamespace(TransformerBlock=TransformerBlock)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
