"""Probe for week 2, exercise 2: ``scaled_dot_product_attention(q, k, v, mask=None)``, which
returns ``(outputs, weights)``.

The reference is the written-out attention of ``llm_keras.layers.CausalSelfAttention``
(``written_out_attention``), run as one head over the flattened leading axes.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="scaled_dot_product_attention",
    answer_cells=("attention-answer",),
    grade_cell="attention-check",
    names=("scaled_dot_product_attention",),
    graded=("keras.ops.dot_product_attention", "keras.layers.MultiHeadAttention",
            "keras.layers.Attention", "llm_keras.layers.CausalSelfAttention"),
)

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
SCALE = "Scores are q k^T divided by sqrt(d), d the last axis of q; the softmax runs over the keys."
MASK = ("Where the mask is False the score must become -inf (or a very large negative number) "
        "before the softmax, so that the weight is 0.")
CHECKS = (
    Check("weights without a mask (more keys than queries)", output="weights", hint=SCALE,
          **TOLERANCE),
    Check("outputs without a mask", output="outputs", hint=SCALE, **TOLERANCE),
    Check("weights with a causal mask", output="masked_weights", hint=MASK, **TOLERANCE),
    Check("outputs of (batch, heads, seq, d) inputs with a causal mask", output="heads",
          hint="Work on the last two axes, whatever the leading ones.", **TOLERANCE),
)


def inputs(rng):
    batch, heads, t_q, t_k, d, d_v = (int(n) for n in rng.integers(2, 7, size=6))
    t_k += t_q

    def normal(*shape):
        return rng.normal(size=shape).astype("float32")

    return {"q": normal(batch, t_q, d), "k": normal(batch, t_k, d), "v": normal(batch, t_k, d_v),
            "qh": normal(batch, heads, t_q, d), "kh": normal(batch, heads, t_q, d),
            "vh": normal(batch, heads, t_q, d_v), "mask": np.tril(np.ones((t_q, t_q), bool))}


def probe(learner, inputs):
    attend = learner.scaled_dot_product_attention
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    outputs, weights = attend(q, k, v)
    _, masked_weights = attend(q, k[:, : q.shape[1]], v[:, : q.shape[1]], mask=inputs["mask"])
    heads, _ = attend(inputs["qh"], inputs["kh"], inputs["vh"], mask=inputs["mask"])
    return {"weights": weights, "outputs": outputs, "masked_weights": masked_weights,
            "heads": heads}


def attention(q, k, v, mask=None):
    """The library's attention on (..., T, d) arrays: one head of ``CausalSelfAttention``."""
    import keras

    from llm_keras.layers import CausalSelfAttention

    lead, (t_q, d), (t_k, d_v) = q.shape[:-2], q.shape[-2:], v.shape[-2:]
    q, k, v = (a.reshape(-1, *a.shape[-2:])[:, :, None, :] for a in (q, k, v))  # (B, T, 1, d)
    mask = np.ones((t_q, t_k), bool) if mask is None else mask
    layer = CausalSelfAttention(d_model=d, n_heads=1)  # head_dim = d: the scale is sqrt(d)
    outputs, weights = layer.written_out_attention(q, k, v, keras.ops.convert_to_tensor(mask))
    return (keras.ops.reshape(outputs, (*lead, t_q, d_v)),
            keras.ops.reshape(weights, (*lead, t_q, t_k)))


def reference(inputs):
    import keras

    library = SimpleNamespace(scaled_dot_product_attention=attention)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
