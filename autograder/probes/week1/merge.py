"""Probe for week 1, exercise 3: ``merge(ids, pair, new_id)``; the reference is
``llm_keras.tokenizers.bpe_merges.merge_pair``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="merge",
    answer_cells=("merge-answer",),
    grade_cell="merge-check",
    names=("merge",),
    graded=("llm_keras.tokenizers.bpe_merges.merge_pair",),
)

SEQUENCES = ("list", "tuple", "ndarray", "tensor")
CHECKS = (
    Check("a pair that occurs several times", output="pairs", weight=2, dtype="int", exact=True,
          kinds=SEQUENCES),
    Check("a pair of equal ids (occurrences overlap)", output="overlapping", dtype="int",
          exact=True, kinds=SEQUENCES,
          hint="Read from left to right: in [5, 5, 5] the pair (5, 5) is replaced once."),
    Check("a pair that does not occur", output="absent", dtype="int", exact=True,
          kinds=SEQUENCES, hint="Without the pair, the ids come back unchanged."),
)


def inputs(rng):
    same, pair = int(rng.integers(0, 4)), rng.choice(4, size=2, replace=False)
    ids = rng.integers(0, 4, size=int(rng.integers(20, 40)))
    start = int(rng.integers(0, len(ids) - 1))
    ids[start : start + 2] = pair  # the pair occurs at least once
    return {"ids": ids, "pair": pair,
            "run": np.full(2 * int(rng.integers(1, 4)) + 1, same),  # an odd run: 5, 5, 5
            "new_id": np.array(256 + int(rng.integers(0, 100)))}


def probe(learner, inputs):
    ids = [int(i) for i in inputs["ids"]]
    a, b = (int(i) for i in inputs["pair"])
    run, new_id = [int(i) for i in inputs["run"]], int(inputs["new_id"])
    return {"pairs": learner.merge(ids, (a, b), new_id),
            "overlapping": learner.merge([9] + run + [9], (run[0], run[0]), new_id),
            "absent": learner.merge(tuple(ids), (a, 999), new_id)}


def reference(inputs):
    from llm_keras.tokenizers.bpe_merges import merge_pair

    def merge(ids, pair, new_id):
        return merge_pair(list(ids), *pair, new_id) or list(ids)

    outputs = probe(SimpleNamespace(merge=merge), inputs)
    return {name: np.asarray(ids) for name, ids in outputs.items()}
