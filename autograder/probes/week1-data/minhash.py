"""Probe for week 1 (data curation), exercise 2: ``shingle_hash(shingle)`` and
``minhash_signature(shingle_set, a, b)``; the reference is ``llm_keras.data.minhash``'s
``shingle_hashes`` and ``MinHasher`` (datasketch's scheme) given the same permutations.

The permutations ``a`` (in [1, p)) and ``b`` (in [0, p)) are drawn here, as large as
datasketch's, so that ``a * x + b`` wraps around modulo ``2**64`` as the exercise says it must.
Shingles hold non-ASCII characters, so that the hash is taken of the UTF-8 bytes.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="minhash_signature",
    answer_cells=("minhash-answer",),
    grade_cell="minhash-check",
    names=("shingle_hash", "minhash_signature"),
    graded=("llm_keras.data.minhash.MinHasher", "llm_keras.data.minhash.shingle_hashes"),
)

MERSENNE_PRIME = (1 << 61) - 1
CHECKS = (
    Check("hashes of shingles", output="hashes", dtype="int", exact=True,
          hint='The first 4 bytes of `hashlib.sha1(shingle.encode("utf-8")).digest()`, read '
               'with `int.from_bytes(..., "little")`.'),
    Check("signature of a set of shingles", output="signature", dtype="uint64", exact=True,
          weight=2, hint="Position i is the smallest `((a[i] * x + b[i]) % p) & MAX_HASH` over the "
          "hashes x, computed in NumPy uint64 (`a[i] * x` wraps around modulo `2**64`)."),
    Check("signature of the empty set", output="empty", dtype="uint64", exact=True,
          hint="An empty set has MAX_HASH at every position."),
)

PIECES = ("to be", "or not", "café", "naïve", "中文", "\U0001f600", "the", "king", ",", "1599")


def inputs(rng):
    num_perm = int(rng.integers(3, 40))
    count = int(rng.integers(5, 20))
    shingles = {" ".join(rng.choice(PIECES, size=int(rng.integers(1, 5)))) for _ in range(count)}
    codes = [[ord(c) for c in s] for s in sorted(shingles)]
    return {"codes": np.array([c for s in codes for c in s], dtype=np.int64),
            "lengths": np.array([len(s) for s in codes], dtype=np.int64),
            "a": rng.integers(1, MERSENNE_PRIME, size=num_perm, dtype=np.uint64),
            "b": rng.integers(0, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)}


def probe(learner, inputs):
    import numpy as np

    codes, ends = inputs["codes"].tolist(), np.cumsum(inputs["lengths"]).tolist()
    shingles = ["".join(map(chr, codes[start:end])) for start, end in zip([0, *ends], ends)]
    a, b = inputs["a"].copy(), inputs["b"].copy()
    return {"hashes": np.array([int(learner.shingle_hash(s)) for s in shingles], dtype=np.int64),
            "signature": learner.minhash_signature(set(shingles), a, b),
            "empty": learner.minhash_signature(set(), a, b)}


def reference(inputs):
    from llm_keras.data.minhash import MinHasher, shingle_hashes

    def signature(shingle_set, a, b):
        hasher = MinHasher(num_perm=len(a))
        hasher.a, hasher.b = a, b  # the grader's permutations instead of the seed's
        return hasher.signature(shingle_set)

    def shingle_hash(shingle):
        return int(shingle_hashes([shingle])[0])

    return probe(SimpleNamespace(shingle_hash=shingle_hash, minhash_signature=signature), inputs)
