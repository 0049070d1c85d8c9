"""Probe for week 2, exercise 3: ``split_heads(x, n_heads)`` and ``merge_heads(x)``.

The reference split is ``llm_keras.layers.CausalSelfAttention.split_heads`` (which gives
``(batch, seq, heads, head_dim)``) with the heads axis moved before the positions; merging is
its inverse.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="split_merge_heads",
    answer_cells=("heads-answer",),
    grade_cell="heads-check",
    names=("split_heads", "merge_heads"),
    graded=("llm_keras.layers.CausalSelfAttention",),  # its split_heads and merge_heads
)

CHECKS = (
    Check("split_heads", output="split", exact=True,
          hint="Reshape to (batch, seq, n_heads, head_dim), then swap the seq and heads axes."),
    Check("merge_heads", output="merged", exact=True,
          hint="Swap the heads and seq axes back, then reshape to (batch, seq, d_model)."),
)


def inputs(rng):
    batch, seq, n_heads, head_dim = (int(n) for n in rng.integers(2, 6, size=4))
    return {"x": rng.normal(size=(batch, seq, n_heads * head_dim)).astype("float32"),
            "n_heads": np.array(n_heads),
            "heads": rng.normal(size=(batch, n_heads, seq, head_dim)).astype("float32")}


def probe(learner, inputs):
    return {"split": learner.split_heads(inputs["x"], int(inputs["n_heads"])),
            "merged": learner.merge_heads(inputs["heads"])}


def split_heads(x, n_heads):
    import keras

    from llm_keras.layers import CausalSelfAttention

    layer = CausalSelfAttention(d_model=x.shape[-1], n_heads=n_heads)
    return keras.ops.transpose(layer.split_heads(x), (0, 2, 1, 3))


def merge_heads(x):
    batch, n_heads, seq, head_dim = x.shape
    return np.transpose(x, (0, 2, 1, 3)).reshape(batch, seq, n_heads * head_dim)


def reference(inputs):
    import keras

    library = SimpleNamespace(split_heads=split_heads, merge_heads=merge_heads)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
