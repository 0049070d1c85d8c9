"""Shingles and MinHash signatures: how alike two documents are, in 128 numbers (week 1, "Data: from the web to token shards").

Exact deduplication (``llm_keras.data.cleaning``) misses the copies that web corpora are full of:
the same article with another header, a page with a few words changed, paragraphs in another
order. Near-duplicate detection compares *sets*:

1. Shingles. A document becomes the set of its ``n``-grams: ``n`` consecutive words (or
   characters) of a paragraph. Two documents that share most of their text share most of their
   shingles, in whatever order their paragraphs come; each edited word changes at most ``n``
   shingles.
2. Jaccard similarity. ``J(A, B) = |A & B| / |A | B|``, from 0 (nothing shared) to 1 (the same
   set). Computing it for every pair of a million documents is 5 x 10^11 set intersections.
3. MinHash. Hash every shingle to a number, shuffle the numbers with a random permutation ``h``
   and keep the smallest: ``min h(A)``. The smallest element of ``A | B`` under ``h`` is equally
   likely to be any of its elements, and ``min h(A) == min h(B)`` exactly when it lies in
   ``A & B``: so ``P[min h(A) == min h(B)] = J(A, B)``. With ``num_perm`` independent
   permutations, a document's *signature* is its ``num_perm`` minima, and the share of equal
   positions in two signatures estimates ``J`` with a standard deviation of
   ``sqrt(J (1 - J) / num_perm)`` (0.035 at ``J = 0.8``, 128 permutations), whatever the
   documents' lengths. ``llm_keras.data.lsh`` then finds the similar signatures without comparing
   all pairs.

The hashing follows the ``datasketch`` package exactly, so that its signatures are the same numbers
(tested): a shingle's hash is the first 4 bytes of the SHA-1 of its UTF-8 bytes, read as a
little-endian 32-bit integer ``x``; the permutations are ``h_i(x) = ((a_i x + b_i) mod p) & (2^32
- 1)`` with the Mersenne prime ``p = 2^61 - 1``, and ``a_i``, ``b_i`` drawn in turn from
``np.random.RandomState(seed)``. Like datasketch, the products are taken in 64-bit unsigned
integers, so ``a_i x + b_i`` wraps around modulo ``2^64`` before the ``mod p`` (``a_i`` has up to
61 bits and ``x`` 32): each ``h_i`` is still a fixed pseudo-random function of ``x``, which is all
MinHash needs.

Example:
    >>> hasher = MinHasher(num_perm=128, seed=1)
    >>> a = shingles("the quick brown fox jumps over the lazy dog", n=3)
    >>> b = shingles("the quick brown fox jumped over the lazy dog", n=3)
    >>> round(jaccard(a, b), 3)
    0.4
    >>> estimate = estimate_jaccard(hasher.signature(a), hasher.signature(b))
    >>> abs(estimate - 0.4) < 0.15
    True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np
from tqdm import tqdm

from llm_keras.data.cleaning import normalize_text

SHINGLE_UNITS = ("word", "char")
MERSENNE_PRIME = (1 << 61) - 1  # p: the permutations are taken modulo this prime
MAX_HASH = (1 << 32) - 1  # hashes and permuted hashes have 32 bits; an empty set's signature
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")  # a blank line (empty or whitespace only)
_CHUNK_SHINGLES = 1 << 15  # shingles permuted at once: a (32768, num_perm) uint64 array


def shingles(text: str, n: int = 5, unit: str = "word") -> set[str]:
    """The set of ``n``-grams of a text: its shingles.

    The text is normalised first (``normalize_text``: line ends, then NFC) and cut into
    paragraphs at blank lines; each paragraph is split on whitespace, so runs of spaces, tabs and
    line ends count as one space (the same words wrapped at other places have the same
    shingles). Shingles do not cross a blank line: a copy whose paragraphs come in another order
    has the same shingles. Case and punctuation are kept (a shingle is words as a reader sees
    them); lower-case the text first for a looser match.

    Args:
        text: a document.
        n: the shingle's length, in units (5 words is the usual choice for web text: longer
            shingles make unrelated documents share fewer, shorter ones make near copies
            share more).
        unit: ``"word"``: ``n`` consecutive words joined by one space; ``"char"``: ``n``
            consecutive characters of a paragraph with its whitespace runs made one space
            (for text without spaces between words, or short documents).

    Returns:
        The set of shingles of all paragraphs. A paragraph with fewer than ``n`` units gives
        one shingle, itself (normalised), so that short documents are still compared; an empty
        or whitespace-only text has none.

    Raises:
        ValueError: ``n`` is not a whole number >= 1, or ``unit`` is not known.

    Example:
        >>> sorted(shingles("to be or\\nnot  to be", n=3))
        ['be or not', 'not to be', 'or not to', 'to be or']
        >>> sorted(shingles("to be or\\n\\nnot  to be", n=3))
        ['not to be', 'to be or']
        >>> sorted(shingles("to be", n=3, unit="char"))
        [' be', 'o b', 'to ']
    """
    check_shingle_options(n, unit)
    found: set[str] = set()
    glue = " " if unit == "word" else ""
    for paragraph in PARAGRAPH_BREAK.split(normalize_text(text)):
        words = paragraph.split()
        units = words if unit == "word" else " ".join(words)
        if len(units) < n:
            found.update([glue.join(units)] if units else [])
        else:
            found.update(glue.join(units[start : start + n]) for start in range(len(units) - n + 1))
    return found


def check_shingle_options(n, unit) -> None:
    """Raises ``ValueError`` naming ``n`` or ``unit`` when ``shingles`` would not accept it."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a whole number >= 1 (5 words is the usual shingle).")
    if unit not in SHINGLE_UNITS:
        raise ValueError(f"unit={unit!r} is not one of {SHINGLE_UNITS}.")


def jaccard(a: set, b: set) -> float:
    """The exact Jaccard similarity ``|a & b| / |a | b|`` of two sets.

    Args:
        a, b: sets (of shingles, or anything hashable).

    Returns:
        A float in [0, 1]; two empty sets are equal, so their similarity is 1.

    Example:
        >>> jaccard({"a", "b", "c"}, {"b", "c", "d"})
        0.5
    """
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def estimate_jaccard(signature_a, signature_b):
    """The MinHash estimate of the Jaccard similarity: the share of equal signature positions.

    Args:
        signature_a, signature_b: signatures of the same ``MinHasher`` (same ``num_perm`` and
            ``seed``), each ``(num_perm,)``; or arrays ``(..., num_perm)`` that broadcast
            against each other, e.g. a ``(documents, num_perm)`` matrix and one signature.

    Returns:
        A float for two signatures; an array of the broadcast shape without the last axis
        otherwise.

    Raises:
        ValueError: the signatures have different lengths (different ``num_perm``).

    Example:
        >>> estimate_jaccard(np.array([1, 2, 3, 4]), np.array([1, 2, 5, 6]))
        0.5
    """
    a, b = np.asarray(signature_a), np.asarray(signature_b)
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"The signatures have shapes {a.shape} and {b.shape}: they must have the same "
            f"length, num_perm (compare signatures of one MinHasher)."
        )
    estimate = np.mean(a == b, axis=-1)
    return float(estimate) if estimate.ndim == 0 else estimate


def shingle_hashes(shingle_set: Iterable[str]) -> np.ndarray:
    """The 32-bit hash of each shingle: the first 4 bytes of its SHA-1, little-endian.

    Args:
        shingle_set: strings (hashed as UTF-8).

    Returns:
        ``(len(shingle_set),)`` uint64 array, in the iteration order of ``shingle_set``.
    """
    digests = b"".join([hashlib.sha1(s.encode("utf-8")).digest()[:4] for s in shingle_set])
    return np.frombuffer(digests, dtype="<u4").astype(np.uint64)


class MinHasher:
    """``num_perm`` random permutations of 32-bit hashes, and the signatures they give.

    Args:
        num_perm: the number of permutations, the length of a signature (128 by default;
            the estimate's standard deviation falls as ``1 / sqrt(num_perm)``).
        seed: the seed of the permutations. Only signatures of the same ``num_perm`` and
            ``seed`` can be compared.

    Attributes:
        a: ``(num_perm,)`` uint64, the multipliers, in [1, p).
        b: ``(num_perm,)`` uint64, the offsets, in [0, p).

    Raises:
        ValueError: ``num_perm`` or ``seed`` is out of range.

    Example:
        >>> hasher = MinHasher(num_perm=4)
        >>> hasher.signature(set()).tolist() == [MAX_HASH] * 4
        True
    """

    def __init__(self, num_perm: int = 128, seed: int = 1):
        if isinstance(num_perm, bool) or not isinstance(num_perm, int) or num_perm < 1:
            raise ValueError(f"num_perm={num_perm!r} must be a whole number >= 1 (128 is usual).")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_HASH:
            raise ValueError(f"seed={seed!r} must be a whole number in [0, 2**32 - 1].")
        self.num_perm = num_perm
        self.seed = seed
        # Drawn as datasketch draws them: a then b, one permutation after the other.
        generator = np.random.RandomState(seed)
        p = np.uint64(MERSENNE_PRIME)
        draws = [
            (generator.randint(1, p, dtype=np.uint64), generator.randint(0, p, dtype=np.uint64))
            for _ in range(num_perm)
        ]
        self.a, self.b = np.array(draws, dtype=np.uint64).reshape(num_perm, 2).T.copy()

    def __repr__(self) -> str:
        return f"MinHasher(num_perm={self.num_perm}, seed={self.seed})"

    def signature(self, shingle_set: Iterable[str]) -> np.ndarray:
        """The MinHash signature of one set of shingles.

        Args:
            shingle_set: strings, e.g. ``shingles(text)``.

        Returns:
            ``(num_perm,)`` uint64: for each permutation, the smallest permuted hash of the
            set's elements; ``MAX_HASH`` everywhere for an empty set (as datasketch).
        """
        return self.signatures([shingle_set])[0]

    def signatures(
        self, shingle_sets: Iterable[Iterable[str]], *, progress: bool = False
    ) -> np.ndarray:
        """The signatures of many sets, vectorised: each permutation applied to many hashes at once.

        ``shingle_sets`` is read lazily, a chunk of about 32,768 shingles at a time, so it can be a
        generator (``(shingles(d) for d in documents)``): memory holds one chunk's sets plus the
        signatures.

        Args:
            shingle_sets: an iterable of sets of strings.
            progress: show a tqdm progress bar, in documents.

        Returns:
            ``(len(shingle_sets), num_perm)`` uint64, one signature a row.
        """
        rows: list[np.ndarray] = []
        chunk: list[np.ndarray] = []
        chunk_size = 0
        for shingle_set in tqdm(shingle_sets, desc="MinHash", unit="doc", disable=not progress):
            hashes = shingle_hashes(shingle_set)
            chunk.append(hashes)
            chunk_size += len(hashes)
            if chunk_size >= _CHUNK_SHINGLES:
                rows.append(self._signatures_of_hashes(chunk))
                chunk, chunk_size = [], 0
        if chunk:
            rows.append(self._signatures_of_hashes(chunk))
        if not rows:
            return np.empty((0, self.num_perm), dtype=np.uint64)
        return np.concatenate(rows)

    def _signatures_of_hashes(self, hash_arrays: list[np.ndarray]) -> np.ndarray:
        """``(len(hash_arrays), num_perm)``: the minimum permuted hash of each array."""
        lengths = np.array([len(h) for h in hash_arrays])
        result = np.full((len(hash_arrays), self.num_perm), MAX_HASH, dtype=np.uint64)
        if lengths.sum() == 0:
            return result
        hashes = np.concatenate(hash_arrays)  # (shingles,)
        permuted = hashes[:, None] * self.a  # (shingles, num_perm), wraps modulo 2**64
        permuted += self.b
        np.remainder(permuted, np.uint64(MERSENNE_PRIME), out=permuted)
        np.bitwise_and(permuted, np.uint64(MAX_HASH), out=permuted)
        nonempty = lengths > 0
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[nonempty]
        result[nonempty] = np.minimum.reduceat(permuted, starts, axis=0)
        return result
