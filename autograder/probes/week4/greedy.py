"""Probe for week 4, exercise 1: ``greedy(logits)``, the id of each row's highest logit; the
reference is ``llm_keras.generation.samplers.greedy_token``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

SAMPLERS = "llm_keras.generation.samplers."
EXERCISE = Exercise(
    name="greedy",
    answer_cells=("greedy-answer",),
    grade_cell="greedy-check",
    names=("greedy",),
    graded=(SAMPLERS + "greedy_token", SAMPLERS + "next_token"),
)

CHECKS = (
    Check("ids of the highest logits", output="ids", dtype="int", exact=True,
          hint="Take the argmax over the vocabulary, the last axis: one id per row."),
    Check("ties: the lowest id", output="ties", dtype="int", exact=True,
          hint="When several tokens share the highest logit, take the lowest id (as ops.argmax "
          "does)."),
)


def inputs(rng):
    batch, vocab = int(rng.integers(2, 6)), int(rng.integers(5, 40))
    ties = rng.integers(0, 3, size=(batch, vocab)).astype("float32")
    for row in ties:  # the highest logit, 3, at two or more places
        row[rng.choice(vocab, size=int(rng.integers(2, 4)), replace=False)] = 3.0
    return {"logits": rng.normal(0, 2, size=(batch, vocab)).astype("float32"), "ties": ties}


def probe(learner, inputs):
    return {"ids": learner.greedy(inputs["logits"]), "ties": learner.greedy(inputs["ties"])}


def reference(inputs):
    import keras

    from llm_keras.generation.samplers import greedy_token

    library = SimpleNamespace(  # the library takes tensors
        greedy=lambda logits: greedy_token(keras.ops.convert_to_tensor(logits)))
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
