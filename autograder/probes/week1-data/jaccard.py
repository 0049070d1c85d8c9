"""Probe for week 1 (data curation), exercise 3: ``jaccard(a, b)``, exact, and
``estimate_jaccard(signature_a, signature_b)``; the references are
``llm_keras.data.minhash.jaccard`` and ``estimate_jaccard``.

Sets of small integers overlap by a random share; signatures are random uint64 arrays with a
random share of equal positions.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="jaccard",
    answer_cells=("jaccard-answer",),
    grade_cell="jaccard-check",
    names=("jaccard", "estimate_jaccard"),
    graded=("llm_keras.data.minhash.jaccard", "llm_keras.data.minhash.estimate_jaccard"),
)

TOLERANCE = {"rtol": 0.0, "atol": 1e-9}
CHECKS = (
    Check("Jaccard similarity of pairs of sets", output="exact", weight=2,
          hint="|a & b| / |a | b|: the intersection over the union.", **TOLERANCE),
    Check("Jaccard similarity of two empty sets, and of an empty set and another",
          output="empty", hint="Two empty sets are equal: 1.0.", **TOLERANCE),
    Check("estimates from pairs of signatures", output="estimate", weight=2,
          hint="The share of positions where the two signatures are equal.", **TOLERANCE),
)
PAIRS = 4


def inputs(rng):
    drawn = {}
    for k in range(PAIRS):
        universe = rng.permutation(60)
        size_a, size_b = int(rng.integers(1, 25)), int(rng.integers(1, 25))
        shared = int(rng.integers(int(k == 0), min(size_a, size_b) + 1))  # pair 0 shares some
        drawn[f"set_a{k}"] = universe[:size_a]
        drawn[f"set_b{k}"] = np.concatenate([universe[:shared],
                                             universe[size_a:size_a + size_b - shared]])
        num_perm = int(rng.integers(4, 64))
        signature = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64)
        other = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64)
        equal = rng.random(num_perm) < rng.random()
        equal[0] |= k == 0  # pair 0 has an equal position
        drawn[f"sig_a{k}"], drawn[f"sig_b{k}"] = signature, np.where(equal, signature, other)
    drawn["lone"] = rng.integers(0, 60, size=int(rng.integers(1, 10)))
    return drawn


def probe(learner, inputs):
    import numpy as np

    def as_set(array):
        return {int(v) for v in array}

    pairs = [(as_set(inputs[f"set_a{k}"]), as_set(inputs[f"set_b{k}"])) for k in range(4)]
    lone = as_set(inputs["lone"])
    return {
        "exact": np.array([float(learner.jaccard(a, b)) for a, b in pairs]),
        "empty": np.array([float(learner.jaccard(set(), set())),
                           float(learner.jaccard(set(), lone)),
                           float(learner.jaccard(lone, set()))]),
        "estimate": np.array([float(learner.estimate_jaccard(inputs[f"sig_a{k}"].copy(),
                                                             inputs[f"sig_b{k}"].copy()))
                              for k in range(4)]),
    }


def reference(inputs):
    from llm_keras.data.minhash import estimate_jaccard, jaccard

    return probe(SimpleNamespace(jaccard=jaccard, estimate_jaccard=estimate_jaccard), inputs)
