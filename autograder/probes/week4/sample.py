"""Probe for week 4, exercise 5: ``sample(logits, uniform)``, graded deterministically: the
grader supplies the uniform numbers and the learner inverts the cumulative distribution of
``softmax(logits)``: per row, the first id whose cumulative probability is greater than the
row's number. The reference is ``llm_keras.generation.inverse_cdf.sample_with_uniform``.

The grader's numbers lie at least 1e-4 from every cumulative probability, so float32 rounding
cannot change an id.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

SAMPLERS = "llm_keras.generation.samplers."
EXERCISE = Exercise(
    name="sample",
    answer_cells=("sample-answer",),
    grade_cell="sample-check",
    names=("sample",),
    graded=("llm_keras.generation.inverse_cdf.sample_with_uniform", SAMPLERS + "sample_token",
            SAMPLERS + "next_token", "keras.random.categorical"),
)

RULE = ("Per row: `cdf = cumsum(softmax(logits))` in the order of the ids; the id is the "
        "first i with `cdf[i] > u`.")
CHECKS = (
    Check("ids for random logits and numbers", output="ids", dtype="int", exact=True, weight=2,
          hint=RULE),
    Check("tokens of probability 0 are never picked", output="filtered", dtype="int",
          exact=True, hint=RULE),
    Check("u = 0 picks the first token of non-zero probability", output="zero", dtype="int",
          exact=True, hint="A token of logit -inf has an empty stretch: `cdf[i] > u`, not `>=`."),
)


def _safe_uniform(rng, row):
    """A number in [0, 0.999) at least 1e-4 from every cumulative probability of ``row``."""
    finite = np.isfinite(row)
    probabilities = np.where(finite, np.exp(np.where(finite, row - row[finite].max(), 0)), 0)
    cdf = np.cumsum(probabilities / probabilities.sum())
    while True:
        u = rng.uniform(0, 0.999)
        if np.min(np.abs(cdf - u)) >= 1e-4:
            return u


def inputs(rng):
    batch, vocab = int(rng.integers(3, 8)), int(rng.integers(5, 40))
    logits = rng.normal(0, 1.5, size=(batch, vocab)).astype("float32")
    filtered = rng.normal(0, 1.5, size=(batch, vocab)).astype("float32")
    for row in filtered:  # about half the tokens impossible, the first one always
        row[rng.uniform(size=vocab) < 0.5] = -np.inf
        row[0] = -np.inf
        row[rng.choice(np.arange(1, vocab), size=2, replace=False)] = rng.normal(0, 1.5, size=2)
    return {"logits": logits, "uniform": np.float32([_safe_uniform(rng, r) for r in logits]),
            "filtered": filtered,
            "filtered_uniform": np.float32([_safe_uniform(rng, r) for r in filtered])}


def probe(learner, inputs):
    filtered = inputs["filtered"]
    return {"ids": learner.sample(inputs["logits"], inputs["uniform"]),
            "filtered": learner.sample(filtered, inputs["filtered_uniform"]),
            "zero": learner.sample(filtered, np.zeros(len(filtered), "float32"))}


def reference(inputs):
    import keras

    from llm_keras.generation.inverse_cdf import sample_with_uniform

    library = SimpleNamespace(sample=sample_with_uniform)
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
