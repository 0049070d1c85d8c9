"""Probe for week 4, exercise 4: ``top_p_filter(logits, p)``, the nucleus: going down from the
likeliest token, keep a token while the probability before it is below p (so the token that
crosses p is kept), ties with the last kept token too, everything for p = 1. The reference is
``llm_keras.generation.samplers.top_p_filter``.

The grader's p lies at least 1e-3 from every running sum of a row's probabilities, so float32
rounding cannot decide which tokens are kept.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="top_p_filter",
    answer_cells=("top-p-answer",),
    grade_cell="top-p-check",
    names=("top_p_filter",),
    graded=("llm_keras.generation.samplers.top_p_filter",),
)

RULE = ("Sort the tokens from the likeliest; keep a token while the probability of the tokens "
        "before it (not counting itself) is below p, so that the token that crosses p is kept.")
CHECKS = (
    Check("the nucleus of probability p", output="nucleus", weight=2, hint=RULE),
    Check("a tiny p keeps the likeliest token", output="tiny", hint=RULE),
    Check("p = 1 keeps every token", output="all",
          hint="p = 1 keeps every token even when the float32 running sum reaches 1 early."),
    Check("a token tied with the last kept one is kept", output="ties",
          hint="Keep every logit >= the lowest kept logit."),
)


def _running_sums(row):
    """Float64 running sums of the row's probabilities, likeliest first."""
    probabilities = np.exp(row - row.max())
    return np.cumsum(np.sort(probabilities / probabilities.sum())[::-1])


def inputs(rng):
    batch, vocab = int(rng.integers(2, 6)), int(rng.integers(6, 40))
    p = float(rng.uniform(0.3, 0.9))
    logits = np.zeros((batch, vocab), "float32")
    for row in logits:
        row[:] = rng.normal(0, 2, size=vocab)
        while np.min(np.abs(_running_sums(row) - p)) < 1e-3:
            row[:] = rng.normal(0, 2, size=vocab)
    unlikely = (-40.0 - 5.0 * rng.uniform(size=(batch, vocab))).astype("float32")
    unlikely[np.arange(batch), rng.integers(0, vocab, size=batch)] = 0.0  # one token has it all
    # One row where the token that crosses p is tied with the next one.
    tied = np.sort(rng.normal(0, 2, size=vocab))[::-1].astype("float32")
    crossing = int(rng.integers(1, vocab - 2))
    tied[crossing + 1] = tied[crossing]
    probabilities = np.exp(tied - tied.max()) / np.exp(tied - tied.max()).sum()
    before = probabilities[:crossing].sum()
    p_tied = before + rng.uniform(0.2, 0.8) * probabilities[crossing]
    return {"logits": logits, "p": np.array(p), "unlikely": unlikely,
            "tied": rng.permutation(tied)[None, :], "p_tied": np.array(p_tied)}


def probe(learner, inputs):
    top_p = learner.top_p_filter
    return {"nucleus": top_p(inputs["logits"], float(inputs["p"])),
            "tiny": top_p(inputs["logits"], 1e-6), "all": top_p(inputs["unlikely"], 1.0),
            "ties": top_p(inputs["tied"], float(inputs["p_tied"]))}


def reference(inputs):
    import keras

    from llm_keras.generation.samplers import top_p_filter

    library = SimpleNamespace(  # the library filters tensors
        top_p_filter=lambda logits, p: top_p_filter(keras.ops.convert_to_tensor(logits), p))
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
