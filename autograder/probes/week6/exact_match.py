"""Probe for week 6, exercise 6: ``exact_match(predictions, references)``, the fraction of answers
equal to their reference, character for character; the reference is
``llm_keras.finetuning.evaluate.exact_match``.

The answers are those of the week's arithmetic task (``"47+8"`` -> ``"55"``): right ones, wrong
ones, and near misses that are wrong too (a space, a leading zero or a ``+`` sign, another
case of a letter, a digit more or less).
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="exact_match",
    answer_cells=("exact-match-answer",),
    grade_cell="exact-match-check",
    names=("exact_match",),
    graded=("llm_keras.finetuning.evaluate.exact_match",),
)

# A Python float, as the exercise asks (an int, 0 or 1, or a 0-d array are accepted too).
NUMBER = {"dtype": "any", "kinds": ("float", "int", "ndarray", "tensor"), "rtol": 1e-9,
          "atol": 1e-12}
CHECKS = (
    Check("right and wrong answers", output="mixed",
          hint="The number of equal pairs divided by the number of references.", **NUMBER),
    Check("near misses (spaces, leading zeros, signs) are wrong", output="near",
          hint="Compare the strings exactly: strip nothing, convert nothing.", **NUMBER),
)
# Near misses of an answer: each is a different string.
NEAR = (" {}", "{} ", "0{}", "+{}", "{}.", "{}0", "{}\n")


def inputs(rng):
    n = int(rng.integers(5, 15))
    answers = rng.integers(-99, 199, size=n)
    right = rng.random(n) < 0.5
    right[0], right[1] = True, False
    wrong = answers + rng.choice([-10, -1, 1, 2, 10], size=n)
    near = rng.integers(0, len(NEAR), size=n)
    near_right = rng.random(n) < 0.3
    near[0], near_right[0] = 0, False  # at least one near miss by a space
    return {"answers": answers, "right": right, "wrong": wrong, "near": near,
            "near_right": near_right}


def probe(learner, inputs):
    references = [str(int(a)) for a in inputs["answers"]]
    mixed = [r if ok else str(int(w)) for r, ok, w in
             zip(references, inputs["right"], inputs["wrong"], strict=True)]
    near_misses = (" {}", "{} ", "0{}", "+{}", "{}.", "{}0", "{}\n")  # the probe runs alone
    near = [r if ok else near_misses[int(k)].format(r) for r, ok, k in
            zip(references, inputs["near_right"], inputs["near"], strict=True)]
    return {"mixed": learner.exact_match(mixed, references),
            "near": learner.exact_match(near, references)}


def reference(inputs):
    from llm_keras.finetuning.evaluate import exact_match

    library = SimpleNamespace(exact_match=exact_match)
    return {k: np.asarray(v, dtype="float64") for k, v in probe(library, inputs).items()}
