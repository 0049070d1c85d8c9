"""LSH: bands and rows, the S-curve, the index, and near_duplicates, against datasketch."""

import dataclasses
import doctest
import itertools
import json
import math

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from llm_keras.data import lsh as lsh_module
from llm_keras.data.corpora import corpus_path
from llm_keras.data.lsh import (
    DROP_REASON,
    LSHIndex,
    NearDuplicateReport,
    candidate_pairs,
    connected_components,
    lsh_parameters,
    near_duplicates,
    s_curve,
    s_curve_points,
)
from llm_keras.data.minhash import MinHasher, jaccard, shingles
from llm_keras.data.planted import planted_near_duplicates
from llm_keras.data.streaming import read_documents


@pytest.fixture(scope="module")
def planted(data_dir):
    """300 documents of 10 Shakespeare paragraphs (~200 words) and 150 copies, 2% of words
    edited: the copies' Jaccard similarity to their original spreads from ~0.5 to ~1."""
    path = corpus_path("shakespeare_gutenberg", data_dir)
    paragraphs = list(itertools.islice(read_documents(path, "paragraph"), 3000))
    documents = ["\n\n".join(paragraphs[i : i + 10]) for i in range(0, 3000, 10)]
    return planted_near_duplicates(documents, n_copies=150, edit_rate=0.02, seed=0)


def datasketch_pairs(signatures, threshold, num_perm):
    """Candidate pairs of datasketch's MinHashLSH: every document queried against all."""
    index = MinHashLSH(threshold=threshold, num_perm=num_perm)
    minhashes = [MinHash(num_perm, hashvalues=s) for s in signatures]
    for key, m in enumerate(minhashes):
        index.insert(key, m)
    return {
        (min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in index.query(m) if i != j
    }


def components(count, pairs):
    """Connected components by breadth-first search (the test's own), clusters of 2 or more."""
    neighbours = {i: set() for i in range(count)}
    for i, j in pairs:
        neighbours[i].add(j)
        neighbours[j].add(i)
    seen, found = set(), []
    for start in range(count):
        if start in seen:
            continue
        group, frontier = {start}, [start]
        while frontier:
            frontier = [k for i in frontier for k in neighbours[i] if k not in group]
            group.update(frontier)
        seen |= group
        if len(group) > 1:
            found.append(sorted(group))
    return found


@pytest.mark.parametrize("num_perm", [2, 16, 64, 128, 256])
def test_bands_and_rows_are_datasketchs(num_perm):
    thresholds = [0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0]
    weights = [(0.5, 0.5), (0.3, 0.7), (0.8, 0.2)] if num_perm <= 128 else [(0.5, 0.5)]
    for threshold, (fp, fn) in itertools.product(thresholds, weights):
        assert lsh_parameters(threshold, num_perm, fp, fn) == _optimal_param(
            threshold, num_perm, fp, fn
        ), (threshold, fp, fn)


def test_bands_and_rows_of_usual_settings():
    assert lsh_parameters(0.8, 128) == (9, 13) == (MinHashLSH(0.8, 128).b, MinHashLSH(0.8, 128).r)
    assert lsh_parameters(0.5, 128) == (25, 5)
    assert lsh_parameters(0.8, 128, 0.3, 0.7)[0] > 9  # fewer misses wanted: more bands


def test_s_curve():
    s = np.array([0.0, 0.3, 0.8, 0.9, 1.0])
    expected = [1 - (1 - x**13) ** 9 for x in s.tolist()]  # the formula, in Python floats
    np.testing.assert_allclose(s_curve(s, 9, 13), expected, rtol=1e-12)
    assert s_curve(0.8, 9, 13) == pytest.approx(0.3988, abs=1e-4)
    assert s_curve(0.5, 1, 1) == 0.5 and s_curve(0.5, 2, 1) == 0.75 and s_curve(0.5, 1, 2) == 0.25
    similarity, probability = s_curve_points(9, 13, points=201)
    assert similarity.shape == probability.shape == (201,)
    assert similarity[0] == 0.0 and similarity[-1] == 1.0 and probability[-1] == 1.0
    assert np.all(np.diff(probability) >= 0)  # it only rises
    # Half the pairs are found where s^r = 1 - 2^(-1/b): 0.8445 for 9 bands of 13 rows.
    assert np.interp(0.5, probability, similarity) == pytest.approx(
        (1 - 0.5 ** (1 / 9)) ** (1 / 13), abs=2e-3
    )


def test_index_finds_every_key_with_an_equal_band():
    rng = np.random.default_rng(0)
    signatures = rng.integers(0, 3, size=(60, 12)).astype(np.uint64)  # small values: collisions
    index = LSHIndex(bands=3, rows=4)
    for key, signature in enumerate(signatures):
        index.insert(f"doc{key}", signature)
    assert len(index) == 60
    for query in rng.integers(0, 3, size=(20, 12)):
        equal_band = (signatures.reshape(60, 3, 4) == query.reshape(3, 4)).all(axis=2).any(axis=1)
        assert index.query(query) == [f"doc{k}" for k in np.flatnonzero(equal_band)]
    assert index.query(np.full(12, 7)) == []
    bands = signatures.reshape(60, 3, 4)
    expected = {
        (f"doc{i}", f"doc{j}")
        for i, j in itertools.combinations(range(60), 2)
        if (bands[i] == bands[j]).all(axis=1).any()
    }
    assert index.candidate_pairs() == expected and len(expected) > 50


def test_index_checks_its_input():
    with pytest.raises(ValueError, match="bands=0 must be"):
        LSHIndex(0, 4)
    index = LSHIndex(bands=2, rows=3)
    with pytest.raises(ValueError, match=r"at least bands \* rows = 2 \* 3 = 6 values"):
        index.insert("a", [1, 2, 3, 4, 5])
    index.insert("a", [1, 2, 3, 4, 5, 6, 99])  # values after bands * rows are not used
    assert index.query([1, 2, 3, 0, 0, 0]) == ["a"] and index.query([0, 2, 3, 4, 5, 0]) == []
    with pytest.raises(ValueError, match="key='a' is already in the index"):
        index.insert("a", [1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_candidate_pairs_equal_datasketchs(planted, threshold):
    corpus, _ = planted
    signatures = MinHasher(128, 1).signatures(shingles(d) for d in corpus)
    expected = datasketch_pairs(signatures, threshold, 128)
    bands, rows = lsh_parameters(threshold, 128)
    assert candidate_pairs(signatures, bands, rows) == expected
    report = NearDuplicateReport()
    clusters = near_duplicates(corpus, threshold, report=report)
    assert report.candidate_pairs == len(expected) >= 10
    assert clusters == components(len(corpus), expected)


def test_lsh_finds_pairs_as_often_as_the_s_curve_says(planted):
    """A pair of Jaccard similarity s is a candidate with probability S(s): of the 150 pairs of a
    planted cluster's first document with another, the number found is within 3 standard
    deviations of the sum of S over them (measured: 69 found, 75.8 expected, standard deviation
    5.4), and so is the number found below and above s = 0.85 (44 for 48.8, 25 for 26.9)."""
    corpus, truth = planted
    signatures = MinHasher(128, 1).signatures(shingles(d) for d in corpus)
    candidates = candidate_pairs(signatures, 9, 13)
    sets = [shingles(d) for d in corpus]
    pairs = {(cluster[0], other) for cluster in truth for other in cluster[1:]}
    similarity = np.array([jaccard(sets[i], sets[j]) for i, j in pairs])
    found = np.array([pair in candidates for pair in pairs])
    assert len(pairs) == 150 and similarity.min() < 0.7 and similarity.max() > 0.95
    for part in (similarity < 0.85, similarity >= 0.85, np.ones_like(found)):
        p = s_curve(similarity[part], 9, 13)
        assert abs(found[part].sum() - p.sum()) <= 3 * math.sqrt(np.sum(p * (1 - p))) + 1


def test_verify_keeps_the_candidates_above_the_threshold(planted):
    corpus, _ = planted
    loose, exact = NearDuplicateReport(), NearDuplicateReport()
    unverified = near_duplicates(corpus, 0.8, report=loose)
    verified = near_duplicates(corpus, 0.8, verify=True, report=exact)
    candidates = candidate_pairs(MinHasher().signatures(shingles(d) for d in corpus), 9, 13)
    sets = [shingles(d) for d in corpus]
    above = {
        (i, j) for i, j in candidates if len(sets[i] & sets[j]) >= 0.8 * len(sets[i] | sets[j])
    }
    assert loose.verified_pairs is None and exact.candidate_pairs == loose.candidate_pairs
    assert exact.verified_pairs == len(above) < loose.candidate_pairs  # false positives removed
    assert verified == components(len(corpus), above) != unverified


def test_report(planted):
    corpus, _ = planted
    report = NearDuplicateReport()
    clusters = near_duplicates(corpus, 0.8, report=report, max_examples=3)
    assert DROP_REASON == "near_duplicate"
    assert (report.documents_seen, report.bands, report.rows) == (450, 9, 13)
    assert report.clusters == clusters
    assert report.dropped == sorted(i for c in clusters for i in c[1:])
    assert sorted(report.kept + report.dropped) == list(range(450))
    assert len(report.kept) == 450 - sum(len(c) - 1 for c in clusters)
    assert [(e.kept, e.dropped) for e in report.examples] == [(c[0], c[1]) for c in clusters[:3]]
    for e in report.examples:
        assert e.jaccard == jaccard(shingles(corpus[e.kept]), shingles(corpus[e.dropped]))
        assert (e.kept_text, e.dropped_text) == (corpus[e.kept], corpus[e.dropped])
    text = str(report)
    assert f"{report.candidate_pairs:,} candidate pairs" in text and "9 bands x 13 rows" in text
    assert f"kept {len(report.kept):,} of 450 documents, dropped {len(report.dropped):,}" in text
    assert json.loads(json.dumps(dataclasses.asdict(report)))["clusters"] == clusters


def test_near_duplicates_of_small_documents():
    documents = ["a b c d e f g h i j", "x y z", "a b c d e f g h i j k", "x y z", "q"]
    assert near_duplicates(documents) == [[0, 2], [1, 3]]  # J = 6/7 and 1
    assert near_duplicates(iter(documents), threshold=0.9, verify=True) == [[1, 3]]
    assert near_duplicates([]) == []
    assert near_duplicates(["", "a b c", " \n "]) == [[0, 2]]  # no shingles: all alike


def test_near_duplicates_checks_its_options():
    with pytest.raises(TypeError, match="not one str"):
        near_duplicates("a b c")
    with pytest.raises(ValueError, match=r"threshold=1.5 must be a Jaccard similarity in \[0, 1\]"):
        near_duplicates(["a"], threshold=1.5)
    with pytest.raises(ValueError, match="n=0 must be"):
        near_duplicates(["a"], n=0)
    with pytest.raises(ValueError, match="num_perm=0 must be"):
        lsh_parameters(0.8, 0)
    with pytest.raises(ValueError, match="must sum to 1"):
        lsh_parameters(0.8, 128, 0.5, 0.6)


def test_connected_components():
    assert connected_components(7, [(5, 3), (3, 1), (6, 0)]) == [[0, 6], [1, 3, 5]]
    assert connected_components(3, []) == [] and connected_components(2, [(0, 1), (1, 0)]) == [
        [0, 1]
    ]


def test_docstring_examples():
    result = doctest.testmod(lsh_module)
    assert result.attempted > 0 and result.failed == 0
