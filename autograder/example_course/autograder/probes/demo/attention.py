"""Probe for exercise 4 of the demo assignment: ``scaled_dot_product_attention(q, k, v, mask)``.

The reference is written out in NumPy here; the course's own probes call ``llm_keras``.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="attention",
    answer_cells=("attention-answer",),
    grade_cell="attention-check",
    names=("scaled_dot_product_attention",),
    uses=("softmax",),
    graded=("keras.ops.dot_product_attention", "llm_keras.layers.CausalSelfAttention"),
)

CHECKS = (
    Check("attention without a mask", output="plain", rtol=1e-4, atol=1e-5,
          hint="Scores are q k^T divided by sqrt(d), then a softmax over the keys."),
    Check("attention with a causal mask", output="masked", rtol=1e-4, atol=1e-5,
          hint="Masked scores must be set to a large negative number before the softmax."),
)


def inputs(rng):
    batch, t, d, dv = (int(n) for n in rng.integers(2, 7, size=4))
    q, k = (rng.normal(size=(batch, t, d)).astype("float32") for _ in range(2))
    v = rng.normal(size=(batch, t, dv)).astype("float32")
    return {"q": q, "k": k, "v": v, "mask": np.tril(np.ones((t, t), dtype=bool))}


def probe(learner, inputs):
    attend = learner.scaled_dot_product_attention
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    return {"plain": attend(q, k, v), "masked": attend(q, k, v, mask=inputs["mask"])}


def attention(q, k, v, mask=None):
    scores = q.astype("float64") @ np.swapaxes(k, 1, 2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)) @ v


def reference(inputs):
    q, k, v = inputs["q"], inputs["k"], inputs["v"]
    return {"plain": attention(q, k, v), "masked": attention(q, k, v, inputs["mask"])}
