"""Probe for week 6, exercise 1: ``last_token_features(hidden, lengths)``, each row's hidden state
at its last real position ``lengths[b] - 1``; the reference is
``llm_keras.finetuning.classification.last_token_features``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="last_token_features",
    answer_cells=("last-token-answer",),
    grade_cell="last-token-check",
    names=("last_token_features",),
    graded=("llm_keras.finetuning.classification.last_token_features",),
)

HINT = ("Row b's features are `hidden[b, lengths[b] - 1]`: the last real token, not the last "
        "position of the padded row.")
CHECKS = (
    Check("rows of different lengths, padded on the right", output="padded", weight=3,
          hint=HINT),
    Check("rows without padding: the last position", output="full", hint=HINT),
)


def inputs(rng):
    batch, seq, d_model = int(rng.integers(3, 7)), int(rng.integers(4, 12)), int(rng.integers(2, 9))
    lengths = rng.integers(1, seq, size=batch)  # at least one row shorter than seq ...
    lengths[0], lengths[1] = 1, seq  # ... one of a single token, one of full length
    return {"hidden": rng.normal(size=(batch, seq, d_model)).astype("float32"),
            "lengths": rng.permutation(lengths).astype("int64")}


def probe(learner, inputs):
    hidden, lengths = inputs["hidden"], inputs["lengths"]
    full = np.full_like(lengths, hidden.shape[1])
    return {"padded": learner.last_token_features(hidden, lengths),
            "full": learner.last_token_features(hidden, full)}


def reference(inputs):
    import keras

    from llm_keras.finetuning.classification import last_token_features

    library = SimpleNamespace(last_token_features=lambda hidden, lengths: last_token_features(
        keras.ops.convert_to_tensor(hidden), lengths))
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
