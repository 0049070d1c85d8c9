"""Locality-sensitive hashing: finding the near-duplicate documents without comparing all pairs (week 1, "Data: from the web to token shards").

MinHash signatures (``llm_keras.data.minhash``) estimate the Jaccard similarity of two documents,
but a million documents still make 5 x 10^11 pairs. LSH looks only at pairs that are likely to
be similar:

1. Cut each signature into ``bands`` bands of ``rows`` values (``bands * rows <= num_perm``).
2. Two documents are a *candidate pair* when all ``rows`` values of at least one band are equal:
   put each band into a hash table, and the pairs are the documents that share a bucket.
3. With Jaccard similarity ``s``, one band matches with probability ``s^rows``, so the pair is a
   candidate with probability ``1 - (1 - s^rows)^bands``: the *S-curve*, near 0 below a
   threshold and near 1 above it. More rows move the threshold up and make the step steeper;
   more bands move it down. ``lsh_parameters`` picks the pair ``(bands, rows)`` that minimises
   the weighted area under the curve below the threshold (false positives) plus the area above
   it under ``1 - curve`` (false negatives), as the ``datasketch`` package does (the same result,
   tested): 9 bands of 13 rows for ``threshold=0.8`` and 128 permutations. The threshold is
   not where the curve reaches one half: a pair of similarity 0.8 is found 40% of the time, one
   of 0.9 93% of the time, one of 0.7 8% of the time (``s_curve``).

``near_duplicates`` runs the whole method on a list of documents: shingles, signatures, LSH
candidate pairs, then clusters, the connected components of the candidate pairs (as datatrove
and NeMo Curator do): the first document of each cluster is kept and the others are dropped
(drop reason ``"near_duplicate"``). Candidates are pairs that *probably* have a similarity above
the threshold; ``verify=True`` computes the exact Jaccard similarity of each candidate pair's
shingles and keeps only the pairs at or above the threshold, which removes the false positives
(pairs that collided in a band but are less similar). False negatives (similar pairs that
collided in no band) stay missed: the S-curve says how many. Chained pairs join clusters: when
``A~B`` and ``B~C``, ``A`` and ``C`` are in one cluster even when they are not alike.

Example:
    >>> lsh_parameters(0.8, 128)
    (9, 13)
    >>> documents = ["to be or not to be that is the question",
    ...              "to be or not to be that is the question !",
    ...              "all the world's a stage and all the men and women merely players"]
    >>> near_duplicates(documents, threshold=0.5, n=3)
    [[0, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from llm_keras.data.minhash import MinHasher, check_shingle_options, jaccard, shingles

DROP_REASON = "near_duplicate"  # the reason a CleaningReport counts these drops under


def s_curve(similarity, bands: int, rows: int):
    """The probability that LSH makes a pair of a given Jaccard similarity a candidate.

    ``1 - (1 - s^rows)^bands``: one band of ``rows`` values is equal with probability
    ``s^rows``, and the pair is a candidate when at least one of ``bands`` bands is.

    Args:
        similarity: a Jaccard similarity ``s`` in [0, 1], or an array of them.
        bands, rows: the LSH parameters.

    Returns:
        The probability, a float or an array of ``similarity``'s shape.

    Example:
        >>> round(s_curve(0.9, 9, 13), 3), round(s_curve(0.8, 9, 13), 3)
        (0.929, 0.399)
    """
    _check_bands_rows(bands, rows)
    s = np.asarray(similarity, dtype=np.float64)
    probability = 1.0 - (1.0 - s**rows) ** bands
    return float(probability) if probability.ndim == 0 else probability


def s_curve_points(bands: int, rows: int, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The S-curve on a grid of similarities, ready to plot.

    Args:
        bands, rows: the LSH parameters.
        points: how many similarities, evenly spaced from 0 to 1.

    Returns:
        ``(similarity, probability)``: two ``(points,)`` float64 arrays.

    Example:
        >>> s, p = s_curve_points(9, 13, points=5)
        >>> s.tolist(), p.round(3).tolist()
        ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.001, 0.195, 1.0])
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ValueError(f"points={points!r} must be a whole number >= 2.")
    similarity = np.linspace(0.0, 1.0, points)
    return similarity, s_curve(similarity, bands, rows)


def lsh_parameters(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """The ``(bands, rows)`` whose S-curve best separates similarities around ``threshold``.

    For every ``bands`` in 1..num_perm and ``rows`` in 1..num_perm // bands, the error is
    ``false_positive_weight * FP + false_negative_weight * FN`` with ``FP`` the area under the
    S-curve from 0 to ``threshold`` and ``FN`` the area under ``1 - S-curve`` from
    ``threshold`` to 1; the first pair (in that order) with the smallest error wins. This is
    datasketch's ``MinHashLSH`` choice; it integrates with SciPy's adaptive quadrature, here
    the S-curve is a polynomial of degree ``bands * rows <= num_perm`` and a Gauss-Legendre rule
    of ``num_perm // 2 + 1`` points integrates it exactly, for all pairs at once.

    Args:
        threshold: the Jaccard similarity above which pairs should be found, in [0, 1].
        num_perm: the signatures' length.
        false_positive_weight, false_negative_weight: the weights of the two errors, each in
            [0, 1], summing to 1; weigh false negatives more to miss fewer near-duplicates
            (at the cost of more candidates to check).

    Returns:
        ``(bands, rows)``.

    Raises:
        ValueError: an argument is out of range (the message names it).

    Example:
        >>> lsh_parameters(0.5, 128), lsh_parameters(0.9, 128)
        ((25, 5), (5, 25))
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold!r} must be a Jaccard similarity in [0, 1].")
    if isinstance(num_perm, bool) or not isinstance(num_perm, int) or num_perm < 1:
        raise ValueError(f"num_perm={num_perm!r} must be a whole number >= 1 (128 is usual).")
    weights = {
        "false_positive_weight": false_positive_weight,
        "false_negative_weight": false_negative_weight,
    }
    for name, weight in weights.items():
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"{name}={weight!r} must be in [0, 1].")
    if not math.isclose(false_positive_weight + false_negative_weight, 1.0):
        raise ValueError(
            f"false_positive_weight={false_positive_weight!r} and false_negative_weight="
            f"{false_negative_weight!r} must sum to 1 (e.g. 0.4 and 0.6 to miss fewer pairs)."
        )
    bands, rows = np.array(
        [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    ).T[:, :, None]  # (pairs, 1)
    nodes, node_weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)  # on [-1, 1]

    def integral(function, low, high):  # (pairs,): each pair's integral over [low, high]
        s = low + (high - low) * (nodes + 1) / 2
        return function(s) @ node_weights * (high - low) / 2

    def curve(s):
        return 1.0 - (1.0 - s**rows) ** bands

    false_positive = integral(curve, 0.0, threshold)
    false_negative = integral(lambda s: 1.0 - curve(s), threshold, 1.0)
    error = false_positive * false_positive_weight + false_negative * false_negative_weight
    best = int(np.argmin(error))  # the first of equal minima, as datasketch's strict "<"
    return int(bands[best, 0]), int(rows[best, 0])


class LSHIndex:
    """Hash tables of signature bands: which inserted keys collide with a signature in a band.

    Args:
        bands, rows: the LSH parameters; the signatures' first ``bands * rows`` values are used.

    Example:
        >>> index = LSHIndex(bands=2, rows=2)
        >>> index.insert("a", [1, 2, 3, 4])
        >>> index.insert("b", [1, 2, 9, 9])
        >>> index.insert("c", [7, 7, 9, 8])
        >>> index.query([5, 5, 3, 4]), index.query([1, 2, 9, 9])
        (['a'], ['a', 'b'])
        >>> sorted(index.candidate_pairs())
        [('a', 'b')]
    """

    def __init__(self, bands: int, rows: int):
        _check_bands_rows(bands, rows)
        self.bands, self.rows = bands, rows
        self._tables: list[dict[bytes, list]] = [{} for _ in range(bands)]
        self._order: dict[Hashable, int] = {}  # key -> when it was inserted

    def __len__(self) -> int:
        return len(self._order)

    def insert(self, key: Hashable, signature) -> None:
        """Adds ``key`` to the bucket of each of its signature's bands.

        Raises:
            ValueError: ``key`` was already inserted, or the signature is too short.
        """
        if key in self._order:
            raise ValueError(f"key={key!r} is already in the index: keys must be unique.")
        for table, band in zip(self._tables, self._band_keys(signature)):
            table.setdefault(band, []).append(key)
        self._order[key] = len(self._order)

    def query(self, signature) -> list:
        """The keys that share at least one band's bucket with ``signature``, in insertion order."""
        found = {
            key
            for table, band in zip(self._tables, self._band_keys(signature))
            for key in table.get(band, ())
        }
        return sorted(found, key=self._order.__getitem__)

    def candidate_pairs(self) -> set[tuple]:
        """Every pair of inserted keys that share a bucket in some band.

        Returns:
            A set of ``(first, second)`` tuples, ``first`` inserted before ``second``. A bucket
            of ``k`` keys gives ``k (k - 1) / 2`` pairs (remove exact duplicates first).
        """
        return {
            pair
            for table in self._tables
            for bucket in table.values()
            if len(bucket) > 1
            for pair in combinations(bucket, 2)
        }

    def _band_keys(self, signature) -> list[bytes]:
        values = np.asarray(signature, dtype=np.uint64)
        used = self.bands * self.rows
        if values.shape != (len(values),) or len(values) < used:
            raise ValueError(
                f"The signature has shape {values.shape}: the index needs one signature of at "
                f"least bands * rows = {self.bands} * {self.rows} = {used} values."
            )
        return [band.tobytes() for band in values[:used].reshape(self.bands, self.rows)]


def candidate_pairs(signatures, bands: int, rows: int) -> set[tuple[int, int]]:
    """The LSH candidate pairs of a matrix of signatures: rows that share a bucket in some band.

    Args:
        signatures: ``(documents, num_perm)``, e.g. ``MinHasher.signatures(...)``.
        bands, rows: the LSH parameters (``lsh_parameters``).

    Returns:
        A set of ``(i, j)`` row indices, ``i < j``.

    Example:
        >>> sorted(candidate_pairs([[1, 2, 3, 4], [1, 2, 0, 0], [0, 0, 3, 4]], bands=2, rows=2))
        [(0, 1), (0, 2)]
    """
    index = LSHIndex(bands, rows)
    for position, signature in enumerate(signatures):
        index.insert(position, signature)
    return index.candidate_pairs()


@dataclass
class NearDuplicateExample:
    """A dropped document beside the one kept in its cluster, for a reader to judge."""

    kept: int
    dropped: int
    jaccard: float  # the exact Jaccard similarity of their shingles
    kept_text: str
    dropped_text: str


@dataclass
class NearDuplicateReport:
    """What ``near_duplicates`` found: its settings, the clusters, the kept and dropped documents.

    A pipeline folds it into a ``CleaningReport`` as ``len(report.dropped)`` drops of reason
    ``DROP_REASON`` (``"near_duplicate"``). ``dataclasses.asdict`` gives a JSON-ready dict.

    Attributes:
        documents_seen: documents compared.
        threshold, num_perm, n, unit, seed: the settings of the run.
        bands, rows: the LSH parameters chosen for ``threshold`` and ``num_perm``.
        candidate_pairs: pairs of documents that shared a bucket in some band.
        verified_pairs: of those, the pairs whose exact Jaccard similarity reached the threshold
            (``None`` when the run did not verify).
        clusters: the clusters of two or more documents, each a sorted list of indices.
        kept: indices of the documents kept (the first of each cluster and all the others).
        dropped: indices of the documents dropped (the rest of each cluster).
        examples: up to ``max_examples`` dropped documents beside the kept one, one per cluster.
    """

    documents_seen: int = 0
    threshold: float = 0.8
    num_perm: int = 128
    n: int = 5
    unit: str = "word"
    seed: int = 1
    bands: int = 0
    rows: int = 0
    candidate_pairs: int = 0
    verified_pairs: int | None = None
    clusters: list[list[int]] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    examples: list[NearDuplicateExample] = field(default_factory=list)

    def __str__(self) -> str:
        verified = (
            ""
            if self.verified_pairs is None
            else f", {self.verified_pairs:,} with exact Jaccard >= {self.threshold}"
        )
        lines = [
            (
                f"near-duplicates (Jaccard >= {self.threshold} on {self.n}-{self.unit} shingles, "
                f"{self.num_perm} permutations, {self.bands} bands x {self.rows} rows):"
            ),
            f"  {self.candidate_pairs:,} candidate pairs{verified}",
            (
                f"  {len(self.clusters):,} clusters: kept {len(self.kept):,} of "
                f"{self.documents_seen:,} documents, dropped {len(self.dropped):,}"
            ),
        ]
        for example in self.examples:
            lines.append(
                f"  #{example.dropped} ~ #{example.kept} (Jaccard {example.jaccard:.2f}):"
                f" {_snippet(example.dropped_text)!r} ~ {_snippet(example.kept_text)!r}"
            )
        return "\n".join(lines)


def near_duplicates(
    documents: Sequence[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    n: int = 5,
    seed: int = 1,
    *,
    unit: str = "word",
    verify: bool = False,
    report: NearDuplicateReport | None = None,
    max_examples: int = 5,
    progress: bool = False,
) -> list[list[int]]:
    """The clusters of near-duplicate documents: MinHash signatures, LSH, connected components.

    About 2 seconds for 10,000 documents of 200 words on one CPU core, most of it hashing
    shingles. Documents without shingles (empty or whitespace only) are all alike (two empty
    sets have Jaccard similarity 1) and make one cluster: drop them first (``clean_documents``
    does).

    Args:
        documents: the documents, a sequence of strings held in memory (an iterable is read
            into a list).
        threshold: the Jaccard similarity of shingle sets above which documents are
            near-duplicates; it sets the LSH ``(bands, rows)`` (``lsh_parameters``).
        num_perm: the signatures' length.
        n, unit: the shingles (``shingles``): ``n`` words or characters.
        seed: the permutations' seed.
        verify: keep only the candidate pairs whose exact Jaccard similarity is at least
            ``threshold`` (removes the false positives; costs one set intersection per pair).
        report: a ``NearDuplicateReport`` to fill in; pass your own to read it afterwards.
        max_examples: how many example pairs the report keeps.
        progress: show a tqdm progress bar while signing the documents.

    Returns:
        The clusters of two or more documents, each a sorted list of indices into
        ``documents``, ordered by their first index. Keep the first of each cluster.

    Raises:
        TypeError: ``documents`` is one ``str``.
        ValueError: an option is out of range (the message names it).

    Example:
        >>> report = NearDuplicateReport()
        >>> near_duplicates(["a b c d e f", "x y z", "a b c d e f g"], n=2, report=report)
        [[0, 2]]
        >>> report.kept, report.dropped
        ([0, 1], [2])
    """
    if isinstance(documents, str):
        raise TypeError("documents must be a sequence of strings, not one str: pass [text].")
    documents = documents if isinstance(documents, Sequence) else list(documents)
    check_shingle_options(n, unit)
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise ValueError(f"max_examples={max_examples!r} must be a whole number >= 0.")
    bands, rows = lsh_parameters(threshold, num_perm)
    hasher = MinHasher(num_perm, seed)
    signatures = hasher.signatures((shingles(d, n, unit) for d in documents), progress=progress)
    pairs = candidate_pairs(signatures, bands, rows)
    report = NearDuplicateReport() if report is None else report
    report.candidate_pairs = len(pairs)
    shingles_of = _ShingleCache(documents, n, unit)
    if verify:
        pairs = {(i, j) for i, j in pairs if jaccard(shingles_of[i], shingles_of[j]) >= threshold}
        report.verified_pairs = len(pairs)
    clusters = connected_components(len(documents), pairs)
    dropped = sorted(i for cluster in clusters for i in cluster[1:])
    report.documents_seen = len(documents)
    report.threshold, report.num_perm, report.n, report.unit, report.seed = (
        threshold,
        num_perm,
        n,
        unit,
        seed,
    )
    report.bands, report.rows = bands, rows
    report.clusters = clusters
    report.dropped = dropped
    report.kept = sorted(set(range(len(documents))) - set(dropped))
    report.examples = [
        NearDuplicateExample(
            kept=c[0],
            dropped=c[1],
            jaccard=jaccard(shingles_of[c[0]], shingles_of[c[1]]),
            kept_text=documents[c[0]],
            dropped_text=documents[c[1]],
        )
        for c in clusters[:max_examples]
    ]
    return clusters


def connected_components(count: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The groups of ``0..count-1`` that ``pairs`` connect (union-find).

    Args:
        count: the number of items.
        pairs: ``(i, j)`` edges between items.

    Returns:
        The components of two or more items, each a sorted list, ordered by their first item.

    Example:
        >>> connected_components(6, [(4, 1), (2, 4), (0, 5)])
        [[0, 5], [1, 2, 4]]
    """
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees shallow
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)  # the smallest index is the root
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    return [group for _, group in sorted(groups.items()) if len(group) > 1]


class _ShingleCache(dict):
    """Shingle sets computed on first use: only the documents that appear in pairs."""

    def __init__(self, documents: Sequence[str], n: int, unit: str):
        super().__init__()
        self._documents, self._n, self._unit = documents, n, unit

    def __missing__(self, position: int) -> set[str]:
        self[position] = shingles(self._documents[position], self._n, self._unit)
        return self[position]


def _snippet(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _check_bands_rows(bands, rows) -> None:
    for name, value in (("bands", bands), ("rows", rows)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name}={value!r} must be a whole number >= 1.")
