"""Probe for week 1 (data curation), exercise 4: ``s_curve(similarity, bands, rows)`` and
``candidate_pairs(signatures, bands, rows)``, locality-sensitive hashing's S-curve and its
candidate pairs; the references are ``llm_keras.data.lsh.s_curve`` and ``candidate_pairs``.

Signature values are drawn from a few values only, so that bands collide by chance and some
pairs agree in single values without agreeing in a whole band; the signatures have more columns
than ``bands * rows``, which no band uses. A set of pairs is sent back as a sorted ``(pairs, 2)``
integer array.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="lsh",
    answer_cells=("lsh-answer",),
    grade_cell="lsh-check",
    names=("s_curve", "candidate_pairs"),
    graded=("llm_keras.data.lsh.s_curve", "llm_keras.data.lsh.candidate_pairs"),
)

CHECKS = (
    Check("the S-curve on an array of similarities", output="curve", rtol=1e-9, atol=1e-12,
          hint="`1 - (1 - s ** rows) ** bands`, element by element."),
    Check("candidate pairs of a matrix of signatures", output="pairs", dtype="int", exact=True,
          hint="A set of (i, j) with i < j: the rows equal in every value of at least "
          "one band; band k is columns k * rows to (k + 1) * rows."),
)


def inputs(rng):
    bands, rows = int(rng.integers(4, 7)), int(rng.integers(1, 4))  # bands > rows
    documents = int(rng.integers(8, 20))
    values = int(rng.integers(2, 4))
    extra = int(rng.integers(1, 4))
    return {"bands": np.array(bands), "rows": np.array(rows),
            "signatures": rng.integers(0, values, size=(documents, bands * rows + extra),
                                       dtype=np.uint64),
            "similarity": rng.random(12)}


def probe(learner, inputs):
    import numpy as np

    def as_array(pairs):
        """A set of pairs of ints as a sorted (pairs, 2) array; anything else as [[-1, -1]]."""
        if not isinstance(pairs, (set, frozenset)) or not all(
                isinstance(p, tuple) and len(p) == 2 for p in pairs):
            return np.array([[-1, -1]], dtype=np.int64)
        return np.array(sorted((int(i), int(j)) for i, j in pairs), dtype=np.int64).reshape(-1, 2)

    bands, rows = int(inputs["bands"]), int(inputs["rows"])
    return {"curve": np.asarray(learner.s_curve(inputs["similarity"].copy(), bands, rows),
                                dtype=np.float64),
            "pairs": as_array(learner.candidate_pairs(inputs["signatures"].copy(), bands, rows))}


def reference(inputs):
    from llm_keras.data.lsh import candidate_pairs, s_curve

    return probe(SimpleNamespace(s_curve=s_curve, candidate_pairs=candidate_pairs), inputs)
