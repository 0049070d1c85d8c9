"""Probe for week 3, exercise 1: ``cross_entropy(logits, targets)``, the mean next-token loss; the
reference is ``llm_keras.training.losses.token_losses``, averaged."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="cross_entropy",
    answer_cells=("cross-entropy-answer",),
    grade_cell="cross-entropy-check",
    names=("cross_entropy",),
    graded=("llm_keras.training.losses.token_losses", "llm_keras.training.losses.CausalLMLoss",
            "keras.losses.SparseCategoricalCrossentropy",
            "keras.losses.sparse_categorical_crossentropy",
            "keras.ops.sparse_categorical_crossentropy", "keras.ops.log_softmax",
            "keras.ops.logsumexp"),
)

CHECKS = (
    Check("mean loss of random logits", output="normal", rtol=1e-5, atol=1e-5,
          hint="The mean over every position of `log(sum(exp(logits)))` minus the target's "
          "logit; the result is a scalar, shape `()`."),
    Check("mean loss of very large logits (1e4 and above)", output="large", rtol=1e-5, atol=1e-2,
          hint="Subtract each position's largest logit before exp (the log-sum-exp trick): "
          "`exp(89.0)` is already inf in float32."),
)


def inputs(rng):
    batch, seq = (int(n) for n in rng.integers(2, 5, size=2))
    vocab = int(rng.integers(5, 70))
    logits = (3.0 * rng.normal(size=(batch, seq, vocab))).astype("float32")
    # Large logits: a big common offset per position (which changes no probability) on top of a
    # spread of thousands, so that the naive exp overflows and the softmax is far from uniform.
    offset = rng.uniform(1e4, 3e4, size=(batch, seq, 1))
    large = (offset + 2e3 * rng.normal(size=(batch, seq, vocab))).astype("float32")
    return {"logits": logits, "large": large,
            "targets": rng.integers(0, vocab, size=(batch, seq)).astype("int32"),
            "large_targets": rng.integers(0, vocab, size=(batch, seq)).astype("int32")}


def probe(learner, inputs):
    return {"normal": learner.cross_entropy(inputs["logits"], inputs["targets"]),
            "large": learner.cross_entropy(inputs["large"], inputs["large_targets"])}


def cross_entropy(logits, targets):
    from keras import ops

    from llm_keras.training.losses import token_losses

    return ops.mean(token_losses(targets, logits))


def reference(inputs):
    import keras

    library = SimpleNamespace(cross_entropy=cross_entropy)
    return {k: np.asarray(keras.ops.convert_to_numpy(v), dtype="float32")
            for k, v in probe(library, inputs).items()}
