"""Probe for week 6, exercise 4: the ``LoRADense(units, rank, alpha=None)`` layer, a frozen
``kernel`` and ``bias`` plus a trainable low-rank update ``(alpha / rank) (x A) B`` with weights
``lora_a`` and ``lora_b``; the reference is ``llm_keras.finetuning.lora.LoRADense`` with the same
weights, loaded by name.

Four things are compared: the outputs for the grader's ``W``, ``b``, ``A``, ``B`` and ``alpha``;
the outputs with ``alpha`` omitted (a scale of 1); the outputs of a new layer given only ``W`` and
``b`` (``B`` starts at zero, so they are the frozen ``x W + b`` whatever ``A`` is); and the numbers
of trainable and frozen parameters (``A`` and ``B`` train, ``W`` and ``b`` do not).
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="lora_dense",
    answer_cells=("lora-answer",),
    grade_cell="lora-check",
    names=("LoRADense",),
    graded=("llm_keras.finetuning.lora.LoRADense",),
)

TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
FORMULA = ("The output is x W + b + (alpha / rank) (x A) B, with the kernel W, the bias b, "
           "lora_a A and lora_b B.")
CHECKS = (
    Check("outputs with the grader's W, b, A, B and alpha", output="outputs", weight=2,
          hint=FORMULA, **TOLERANCE),
    Check("alpha omitted: alpha = rank, a scale of 1", output="default_alpha",
          hint="alpha=None means alpha = rank: the update is scaled by 1.", **TOLERANCE),
    Check("a new layer (B = 0 at the start) gives the frozen x W + b", output="fresh",
          hint="Initialise lora_b with zeros (and lora_a at random), so that A B = 0 before "
          "training.", **TOLERANCE),
    Check("trainable: A and B only; frozen: W and b", output="counts", weight=2, dtype="int",
          exact=True, hint="kernel and bias are frozen (trainable=False), lora_a and lora_b "
          "trainable: rank * (in + units) trainable numbers."),
)


def inputs(rng):
    in_features, units = int(rng.integers(3, 10)), int(rng.integers(3, 10))
    rank = int(rng.integers(2, min(in_features, units) + 1))
    alpha = float(rng.choice([2 * rank, 16.0, 0.5 * rank, rank + 3]))

    def normal(*shape):
        return rng.normal(size=shape).astype("float32")

    return {"x": normal(int(rng.integers(1, 4)), int(rng.integers(2, 6)), in_features),
            "sizes": np.array([units, rank]), "alpha": np.array(alpha),
            "kernel": normal(in_features, units), "bias": normal(units),
            "lora_a": normal(in_features, rank), "lora_b": normal(rank, units)}


def probe(learner, inputs):
    import math

    from autograder.sandbox.probe_tools import load_weights

    x = inputs["x"]
    units, rank = (int(n) for n in inputs["sizes"])
    weights = {name: inputs[name] for name in ("kernel", "bias", "lora_a", "lora_b")}
    layer = learner.LoRADense(units, rank, alpha=float(inputs["alpha"]))
    load_weights(layer, x.shape, weights)
    default = learner.LoRADense(units, rank)
    load_weights(default, x.shape, weights)
    fresh = learner.LoRADense(units, rank, alpha=float(inputs["alpha"]))
    load_weights(fresh, x.shape, {"kernel": inputs["kernel"], "bias": inputs["bias"]})
    counts = [sum(math.prod(tuple(v.shape)) for v in group)
              for group in (fresh.trainable_weights, fresh.non_trainable_weights)]
    return {"outputs": layer(x), "default_alpha": default(x), "fresh": fresh(x),
            "counts": np.array(counts, dtype="int64")}


def reference(inputs):
    import keras

    from llm_keras.finetuning.lora import LoRADense

    library = SimpleNamespace(LoRADense=LoRADense)
    return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in probe(library,
                                                                             inputs).items()}
