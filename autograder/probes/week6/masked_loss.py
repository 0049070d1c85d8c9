"""Probe for week 6, exercise 3: ``masked_loss(targets, logits, weights)``, the next-token loss
averaged over the weighted targets, ``sum(w * nll) / sum(w)`` (0 when every weight is 0); the
reference is ``llm_keras.finetuning.sft.MaskedCausalLMLoss`` (Keras's
``"mean_with_sample_weight"`` reduction).
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="masked_loss",
    answer_cells=("masked-loss-answer",),
    grade_cell="masked-loss-check",
    names=("masked_loss",),
    graded=("llm_keras.finetuning.sft.MaskedCausalLMLoss",),
)

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
CHECKS = (
    Check("the mean over the weighted targets (answers only, padding 0)", output="masked",
          weight=1, hint="Divide `sum(weights * nll)` by `sum(weights)`, not by the number of "
          "positions.", **TOLERANCE),
    Check("weights other than 0 and 1", output="graded", weight=1,
          hint="`sum(weights * nll) / sum(weights)`, with the weights as given.", **TOLERANCE),
    Check("every weight 0: loss 0", output="zero",
          hint="When `sum(weights)` is 0 the loss is 0, not nan (`ops.divide_no_nan`).",
          **TOLERANCE),
)


def inputs(rng):
    batch, seq, vocab = int(rng.integers(2, 5)), int(rng.integers(4, 10)), int(rng.integers(5, 40))
    weights = np.zeros((batch, seq), dtype="float32")
    for row in weights:  # a prompt of at least one target (0), the answer (1), padding (0)
        start = int(rng.integers(1, seq - 1))
        row[start:int(rng.integers(start + 1, seq + 1))] = 1.0
    return {"logits": (2.0 * rng.normal(size=(batch, seq, vocab))).astype("float32"),
            "targets": rng.integers(0, vocab, size=(batch, seq)).astype("int32"),
            "weights": weights,
            "graded_weights": rng.uniform(0, 2, size=(batch, seq)).astype("float32")}


def probe(learner, inputs):
    targets, logits = inputs["targets"], inputs["logits"]
    zero = np.zeros_like(inputs["weights"])
    return {"masked": learner.masked_loss(targets, logits, inputs["weights"]),
            "graded": learner.masked_loss(targets, logits, inputs["graded_weights"]),
            "zero": learner.masked_loss(targets, logits, zero)}


def reference(inputs):
    import keras

    from llm_keras.finetuning.sft import MaskedCausalLMLoss

    loss = MaskedCausalLMLoss()
    targets, logits = inputs["targets"], keras.ops.convert_to_tensor(inputs["logits"])

    def masked(weights):
        value = loss(targets, logits, sample_weight=keras.ops.convert_to_tensor(weights))
        return np.asarray(keras.ops.convert_to_numpy(value), dtype="float32")

    return {"masked": masked(inputs["weights"]), "graded": masked(inputs["graded_weights"]),
            "zero": masked(np.zeros_like(inputs["weights"]))}
