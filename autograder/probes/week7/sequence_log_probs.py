"""Probe for week 7, exercise 2: ``sequence_log_probs(logits, ids, mask, average=False)``, the
log-probability of each row's masked targets, summed (or averaged over the mask); the reference is
``llm_keras.alignment.log_probs.sequence_log_probs``.

The rows are laid out as the week's chats are: a prompt (mask 0), the response and its end token
(mask 1), padding (mask 0), with responses of different lengths.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="sequence_log_probs",
    answer_cells=("sequence-log-probs-answer",),
    grade_cell="sequence-log-probs-check",
    names=("sequence_log_probs",),
    graded=("llm_keras.alignment.log_probs.sequence_log_probs",
            "llm_keras.alignment.log_probs.token_log_probs"),
)

TOLERANCE = {"rtol": 1e-5, "atol": 1e-4}
MASKED = ("`log softmax(logits)[ids]` at each position, times the mask, summed over each row: "
          "the prompt and the padding (mask 0) do not count.")
CHECKS = (
    Check("summed over each response's targets", output="summed", weight=2, hint=MASKED,
          **TOLERANCE),
    Check("average=True: the mean over each response's targets", output="averaged",
          hint="Divide each row's sum by its number of masked positions (the sum of its mask "
          "row), not by seq.", **TOLERANCE),
    Check("a row without response targets: 0", output="empty_summed", weight=0.5, hint=MASKED,
          **TOLERANCE),
    Check("a row without response targets, average=True: 0, not nan", output="empty_averaged",
          weight=0.5, hint="Divide by max(sum of the mask row, 1): a row whose mask is all 0 "
          "has sum 0, and 0 / 0 is nan.", **TOLERANCE),
    Check("logits in the thousands: finite", output="large", weight=2,
          hint="Use `log_softmax(z)` (`z - logsumexp(z)`), not `log(softmax(z))`: softmax "
          "underflows to 0 for large logits and its log is -inf.", **TOLERANCE),
)


def _mask(rng, batch, seq):
    """Each row: a prompt of at least one target, a response of at least one, then padding."""
    mask = np.zeros((batch, seq), dtype="float32")
    lengths = set()
    for row in mask:
        start = int(rng.integers(1, seq - 1))
        end = int(rng.integers(start + 1, seq + 1))
        row[start:end] = 1.0
        lengths.add(end - start)
    if len(lengths) == 1:  # responses of different lengths
        mask[0, 1:] = 1.0
        mask[1, 1:] = 0.0
        mask[1, seq - 1] = 1.0
    return mask


def inputs(rng):
    batch, seq, vocab = int(rng.integers(2, 5)), int(rng.integers(5, 13)), int(rng.integers(5, 40))
    empty_mask = _mask(rng, batch, seq)
    empty_mask[int(rng.integers(0, batch))] = 0.0  # one row without a response
    return {"logits": (2.0 * rng.normal(size=(batch, seq, vocab))).astype("float32"),
            "ids": rng.integers(0, vocab, size=(batch, seq)).astype("int32"),
            "mask": _mask(rng, batch, seq), "empty_mask": empty_mask,
            "large": (1e3 * rng.normal(size=(batch, seq, vocab))).astype("float32")}


def probe(learner, inputs):
    logits, ids, mask = inputs["logits"], inputs["ids"], inputs["mask"]
    empty = inputs["empty_mask"]
    return {"summed": learner.sequence_log_probs(logits, ids, mask),
            "averaged": learner.sequence_log_probs(logits, ids, mask, average=True),
            "empty_summed": learner.sequence_log_probs(logits, ids, empty),
            "empty_averaged": learner.sequence_log_probs(logits, ids, empty, average=True),
            "large": learner.sequence_log_probs(inputs["large"], ids, mask)}


def reference(inputs):
    import keras

    from llm_keras.alignment.log_probs import sequence_log_probs

    def log_probs(logits, mask, average=False):
        value = sequence_log_probs(keras.ops.convert_to_tensor(logits), inputs["ids"], mask,
                                   average=average)
        return np.asarray(keras.ops.convert_to_numpy(value), dtype="float32")

    logits, mask, empty = inputs["logits"], inputs["mask"], inputs["empty_mask"]
    return {"summed": log_probs(logits, mask), "averaged": log_probs(logits, mask, True),
            "empty_summed": log_probs(logits, empty),
            "empty_averaged": log_probs(logits, empty, True),
            "large": log_probs(inputs["large"], mask)}
