"""Probe for week 3, exercise 2: ``perplexity(loss)`` and ``bits_per_character(loss,
tokens_per_character=1.0)``; the reference is the formulas of ``llm_keras.training.metrics``'s
``Perplexity`` and ``BitsPerCharacter`` (tested against them in tests/course/weeks)."""

import numpy as np

from autograder.contract import Check, Exercise

METRICS = "llm_keras.training.metrics."
EXERCISE = Exercise(
    name="perplexity_and_bits",
    answer_cells=("metrics-answer",),
    grade_cell="metrics-check",
    names=("perplexity", "bits_per_character"),
    graded=(METRICS + "Perplexity", METRICS + "BitsPerCharacter"),
)

CHECKS = (
    Check("perplexity of several losses", output="perplexity", weight=2, dtype="any",
          kinds=("ndarray", "tensor", "list"), rtol=1e-5, atol=0.0,
          hint="perplexity = exp(loss), the loss in nats per token."),
    Check("bits per character of a character model", output="bits", dtype="any",
          kinds=("ndarray", "tensor", "list"), rtol=1e-5, atol=0.0,
          hint="bits per character = loss / ln(2) for a character tokenizer."),
    Check("bits per character of a subword model", output="subword_bits", dtype="any",
          kinds=("ndarray", "tensor", "list"), rtol=1e-5, atol=0.0,
          hint="Multiply by tokens_per_character (fewer tokens than characters: fewer bits per "
          "character than per token)."),
)


def inputs(rng):
    return {"losses": rng.uniform(0.5, 4.5, size=4), "ratios": rng.uniform(0.2, 0.5, size=4)}


def probe(learner, inputs):
    losses, ratios = inputs["losses"], inputs["ratios"]
    return {
        "perplexity": [float(learner.perplexity(float(loss))) for loss in losses],
        "bits": [float(learner.bits_per_character(float(loss))) for loss in losses],
        "subword_bits": [float(learner.bits_per_character(float(loss), tokens_per_character=r))
                         for loss, r in zip(losses, ratios, strict=True)],
    }


def reference(inputs):
    # The formulas of llm_keras.training.metrics (Perplexity: exp of the mean loss;
    # BitsPerCharacter: / ln 2 * tokens_per_character), in float64 on the same losses.
    losses, ratios = inputs["losses"], inputs["ratios"]
    return {"perplexity": np.exp(losses), "bits": losses / np.log(2),
            "subword_bits": losses / np.log(2) * ratios}
