"""Probe for exercise 5 of the demo assignment: the ``SelfAttention(d_model)`` layer.

The grader's weights are loaded into the learner's layer (``wq``, ``wk``, ``wv``), so the output
does not depend on how the layer initialises them.
"""

import importlib.util
from pathlib import Path

import numpy as np

from autograder.contract import Check, Exercise
from autograder.sandbox.probe_tools import load_weights

EXERCISE = Exercise(
    name="self_attention",
    answer_cells=("self-attention-answer",),
    grade_cell="self-attention-check",
    names=("SelfAttention",),
    graded=("llm_keras.layers.CausalSelfAttention",),
    uses=("causal_mask", "attention"),
)

CHECKS = (
    Check("layer output with the grader's weights", output="y", rtol=1e-4, atol=1e-5,
          hint="Is the attention causal, and are q, k and v computed as x @ wq, x @ wk, x @ wv?"),
)


def inputs(rng):
    batch, t = (int(n) for n in rng.integers(2, 6, size=2))
    d = int(rng.integers(4, 9))
    weights = {name: (rng.normal(size=(d, d)) / np.sqrt(d)).astype("float32")
               for name in ("wq", "wk", "wv")}
    return {"x": rng.normal(size=(batch, t, d)).astype("float32"), **weights}


def probe(learner, inputs):
    x = inputs["x"]
    layer = learner.SelfAttention(x.shape[-1])
    load_weights(layer, x.shape, {name: inputs[name] for name in ("wq", "wk", "wv")})
    return {"y": layer(x)}


def reference(inputs):
    attention = _sibling("attention").attention
    x = inputs["x"].astype("float64")
    q, k, v = (x @ inputs[name] for name in ("wq", "wk", "wv"))
    mask = np.tril(np.ones((x.shape[1], x.shape[1]), dtype=bool))
    return {"y": attention(q, k, v, mask)}


def _sibling(name):
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"demo_probe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
