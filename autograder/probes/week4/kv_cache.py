"""Probe for week 4, exercise 6: ``cached_attention_step(q, k, v, cache, index)``, one decoding
step with a preallocated KV cache ``(batch, 2, max_length, n_heads, head_dim)``.

The reference is what the step must equal: full causal attention over the whole sequence (the
written-out attention of ``llm_keras.layers.CausalSelfAttention``, head by head) at the
step's position, and the grader's cache with the new key and value in slot ``index``. The slots
from ``index`` on start with random numbers that belong to no token, so a step that attends to
them, or writes to another slot, is caught.

``llm_keras.layers.CausalSelfAttention`` is not among the names that earn no credit: the week's
generation probe builds its GPT from it.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="cached_attention_step",
    answer_cells=("kv-cache-answer",),
    grade_cell="kv-cache-check",
    names=("cached_attention_step",),
    graded=("keras.ops.dot_product_attention", "keras.layers.MultiHeadAttention"),
)

TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
ATTEND = ("Attend over slots 0 .. index, the new token included (write k and v first); the "
          "slots after index hold no token and must get weight 0. Divide the scores by `sqrt(head_dim)`.")
CHECKS = (
    Check("one step at a random position", output="step", weight=2, hint=ATTEND, **TOLERANCE),
    Check("the cache after one step", output="cache",
          hint="k goes to cache[:, 0, index] and v to cache[:, 1, index] "
          "(ops.slice_update); every other slot stays as it was.", **TOLERANCE),
    Check("several steps in a row equal full causal attention", output="steps", weight=2,
          hint=ATTEND, **TOLERANCE),
    Check("the first step, index 0", output="first", hint=ATTEND, **TOLERANCE),
)


def inputs(rng):
    batch, n_heads, head_dim = (int(n) for n in rng.integers(1, 4, size=3))
    head_dim += 1
    max_length = int(rng.integers(8, 15))
    shape = (batch, max_length, n_heads, head_dim)

    def normal(*size, scale=1.0):
        return (scale * rng.normal(size=size)).astype("float32")

    q, k, v = normal(*shape), normal(*shape), normal(*shape)
    index, start = int(rng.integers(1, max_length - 1)), int(rng.integers(0, 3))
    steps = int(rng.integers(3, max_length - start + 1))
    cache = normal(batch, 2, max_length, n_heads, head_dim, scale=2.0)  # no token's numbers
    cache[:, 0, :index], cache[:, 1, :index] = k[:, :index], v[:, :index]
    running = normal(batch, 2, max_length, n_heads, head_dim, scale=2.0)
    running[:, 0, :start], running[:, 1, :start] = k[:, :start], v[:, :start]
    return {"q": q, "k": k, "v": v, "cache": cache, "index": np.array(index),
            "running": running, "start": np.array(start), "steps": np.array(steps),
            "empty": normal(batch, 2, max_length, n_heads, head_dim, scale=2.0)}


def probe(learner, inputs):
    import keras

    step = learner.cached_attention_step
    q, k, v = inputs["q"], inputs["k"], inputs["v"]

    def token(t):  # the query, key and value of position t: (batch, 1, n_heads, head_dim) each
        return q[:, t : t + 1], k[:, t : t + 1], v[:, t : t + 1]

    index, start, steps = int(inputs["index"]), int(inputs["start"]), int(inputs["steps"])
    output, cache = step(*token(index), inputs["cache"], index)
    outputs, running = [], inputs["running"]
    for t in range(start, start + steps):  # the index as a tensor, as in a compiled loop
        out, running = step(*token(t), running, keras.ops.convert_to_tensor(t, "int32"))
        outputs.append(keras.ops.convert_to_numpy(out))
    first, _ = step(*token(0), inputs["empty"], 0)
    return {"step": output, "cache": cache, "steps": np.concatenate(outputs, axis=1),
            "first": first}


def reference(inputs):
    import keras

    from llm_keras.layers import CausalSelfAttention

    q, k, v = inputs["q"], inputs["k"], inputs["v"]  # (batch, max_length, n_heads, head_dim)
    max_length, n_heads, head_dim = q.shape[1:]
    attention = CausalSelfAttention(d_model=n_heads * head_dim, n_heads=n_heads)
    mask = keras.ops.convert_to_tensor(np.tril(np.ones((max_length, max_length), bool)))
    full, _ = attention.written_out_attention(*(keras.ops.convert_to_tensor(a) for a in (q, k, v)),
                                              mask)
    full = keras.ops.convert_to_numpy(full)  # every position, as full causal attention gives it
    index, start, steps = int(inputs["index"]), int(inputs["start"]), int(inputs["steps"])
    cache = inputs["cache"].copy()
    cache[:, 0, index], cache[:, 1, index] = k[:, index], v[:, index]
    return {"step": full[:, index : index + 1], "cache": cache,
            "steps": full[:, start : start + steps], "first": full[:, :1]}
