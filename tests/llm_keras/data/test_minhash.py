"""Shingles, exact Jaccard, and MinHash signatures equal to datasketch's on the same shingles."""

import doctest
import hashlib
import itertools
import struct

import numpy as np
import pytest
from datasketch import MinHash

from llm_keras.data import minhash as minhash_module
from llm_keras.data.corpora import corpus_path
from llm_keras.data.minhash import (
    MAX_HASH,
    MinHasher,
    estimate_jaccard,
    jaccard,
    shingles,
)
from llm_keras.data.streaming import read_documents


@pytest.fixture(scope="module")
def paragraphs(data_dir):
    """The first 2,000 paragraphs of the Gutenberg Shakespeare (speeches, stage directions)."""
    path = corpus_path("shakespeare_gutenberg", data_dir)
    return list(itertools.islice(read_documents(path, "paragraph"), 2000))


def datasketch_signature(shingle_set, num_perm, seed):
    m = MinHash(num_perm=num_perm, seed=seed)
    m.update_batch([s.encode("utf-8") for s in shingle_set])
    return m.hashvalues


def test_word_shingles():
    assert shingles("a b c d", n=2) == {"a b", "b c", "c d"}
    assert shingles("a  b\tc\r\nd", n=3) == {"a b c", "b c d"}  # any whitespace run is one space
    assert shingles("a b a b a", n=2) == {"a b", "b a"}  # a set: repeats count once
    assert shingles("Word, word.", n=1) == {"Word,", "word."}  # case and punctuation kept


def test_shingles_stay_within_paragraphs():
    assert shingles("a b c\n\nd e f", n=2) == {"a b", "b c", "d e", "e f"}
    assert shingles("a b c\n  \t\n\n\nd e f", n=2) == shingles("d e f\n\na b c", n=2)
    assert shingles("a b c\nd e f", n=2) == {"a b", "b c", "c d", "d e", "e f"}  # one line end


def test_short_and_empty_texts():
    assert shingles("to be", n=5) == {"to be"}  # fewer words than n: the paragraph itself
    assert shingles("a b c d e f\n\nExit.", n=5) == {"a b c d e", "b c d e f", "Exit."}
    assert shingles("", n=5) == set() and shingles(" \n\n\t ", n=5) == set()
    assert shingles("", n=3, unit="char") == set()


def test_char_shingles():
    assert shingles("abcd", n=2, unit="char") == {"ab", "bc", "cd"}
    assert shingles("ab  c\nd", n=3, unit="char") == {"ab ", "b c", " c ", "c d"}
    assert shingles("ab", n=3, unit="char") == {"ab"}


def test_shingles_of_normalised_text():
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    assert composed != decomposed
    assert shingles(composed, n=2) == shingles(decomposed, n=2) == {"caf\u00e9 au", "au lait"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "n=0 must be"),
        ({"n": 2.0}, "n=2.0 must be"),
        ({"n": True}, "n=True must be"),
        ({"unit": "token"}, "unit='token' is not one of"),
    ],
)
def test_shingle_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        shingles("a b c", **kwargs)


def test_exact_jaccard():
    assert jaccard({1, 2, 3}, {2, 3, 4, 5}) == 2 / 5
    assert jaccard({"a"}, {"b"}) == 0.0 and jaccard({"a"}, {"a"}) == 1.0
    assert jaccard(set(), set()) == 1.0 and jaccard(set(), {"a"}) == 0.0


@pytest.mark.parametrize("num_perm, seed", [(128, 1), (16, 0), (200, 12345)])
def test_permutations_are_datasketchs(num_perm, seed):
    hasher = MinHasher(num_perm, seed)
    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    assert hasher.a.dtype == hasher.b.dtype == np.uint64
    np.testing.assert_array_equal(hasher.a, a)
    np.testing.assert_array_equal(hasher.b, b)


@pytest.mark.parametrize(
    "num_perm, seed, n, unit", [(128, 1, 5, "word"), (64, 7, 3, "word"), (128, 1, 9, "char")]
)
def test_signatures_equal_datasketch(paragraphs, num_perm, seed, n, unit):
    """400 documents of 1 to 12 paragraphs (1 to ~900 words), some with fewer words than n."""
    documents = ["\n\n".join(paragraphs[i : i + 1 + i % 12]) for i in range(0, 2000, 5)]
    sets = [shingles(d, n, unit) for d in documents]
    assert min(map(len, sets)) == 1 and max(map(len, sets)) > 500
    signatures = MinHasher(num_perm, seed).signatures(sets)
    assert signatures.shape == (400, num_perm) and signatures.dtype == np.uint64
    expected = np.stack([datasketch_signature(s, num_perm, seed) for s in sets])
    np.testing.assert_array_equal(signatures, expected)


def test_signature_from_the_published_formula():
    """Python integers, outside NumPy: h(x) = ((a x + b) mod 2^64 mod (2^61 - 1)) & (2^32 - 1)."""
    hasher = MinHasher(num_perm=32, seed=3)
    words = "shall i compare thee to a summer's day thou art more lovely and more temperate"
    shingle_set = shingles(words, n=3)
    xs = [struct.unpack("<I", hashlib.sha1(s.encode()).digest()[:4])[0] for s in shingle_set]
    expected = [
        min((((int(a) * x + int(b)) % 2**64) % (2**61 - 1)) & (2**32 - 1) for x in xs)
        for a, b in zip(hasher.a, hasher.b)
    ]
    assert hasher.signature(shingle_set).tolist() == expected


def test_signatures_in_many_chunks_and_from_a_generator(paragraphs, monkeypatch):
    """Chunks of 7 shingles: documents cut across chunks, empty sets inside a chunk."""
    documents = paragraphs[:60] + ["", "  "] + paragraphs[60:80]
    expected = np.stack([datasketch_signature(shingles(d), 128, 1) for d in documents])
    monkeypatch.setattr(minhash_module, "_CHUNK_SHINGLES", 7)
    signatures = MinHasher().signatures(shingles(d) for d in documents)
    np.testing.assert_array_equal(signatures, expected)
    assert (signatures[60] == MAX_HASH).all() and (signatures[61] == MAX_HASH).all()
    assert MinHasher().signatures([]).shape == (0, 128)
    np.testing.assert_array_equal(MinHasher().signature(shingles(documents[3])), expected[3])


def test_the_estimate_is_close_to_the_exact_jaccard(paragraphs):
    """Pairs of overlapping windows of paragraphs: Jaccard from 0 to 1. With 256 permutations
    the estimate's standard deviation is sqrt(J (1 - J) / 256) <= 0.031; each error stays within
    4 of them (0.125), and the mean error over the 300 pairs within 0.01 (measured: largest
    error 0.089, mean error 0.0021)."""
    hasher = MinHasher(num_perm=256, seed=5)
    exact, estimated = [], []
    for i in range(300):
        start, shift = 5 * i, i % 10
        a = shingles("\n\n".join(paragraphs[start : start + 10]))
        b = shingles("\n\n".join(paragraphs[start + shift : start + shift + 10]))
        exact.append(jaccard(a, b))
        estimated.append(estimate_jaccard(hasher.signature(a), hasher.signature(b)))
        m_a, m_b = (MinHash(256, seed=5, hashvalues=hasher.signature(s)) for s in (a, b))
        assert estimated[-1] == m_a.jaccard(m_b)
    exact, estimated = np.array(exact), np.array(estimated)
    assert exact.min() < 0.1 and exact.max() == 1.0
    np.testing.assert_array_less(np.abs(estimated - exact), 4 * np.sqrt(0.25 / 256))
    assert abs(np.mean(estimated - exact)) < 0.01


def test_estimate_jaccard_of_matrices():
    signatures = np.array([[1, 2, 3, 4], [1, 2, 0, 0], [9, 9, 9, 9]], dtype=np.uint64)
    np.testing.assert_array_equal(estimate_jaccard(signatures, signatures[0]), [1.0, 0.5, 0.0])
    assert estimate_jaccard(signatures[0], signatures[1]) == 0.5
    with pytest.raises(ValueError, match="same length, num_perm"):
        estimate_jaccard(signatures[0], signatures[0, :3])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_perm": 0}, "num_perm=0 must be"),
        ({"num_perm": 1.5}, "num_perm=1.5 must be"),
        ({"seed": -1}, r"seed=-1 must be a whole number in \[0, 2\*\*32 - 1\]"),
        ({"seed": 2**32}, "seed=4294967296 must be"),
    ],
)
def test_minhasher_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MinHasher(**kwargs)


def test_docstring_examples():
    result = doctest.testmod(minhash_module)
    assert result.attempted > 0 and result.failed == 0
