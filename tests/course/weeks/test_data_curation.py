"""The data curation notebook (assignment ``week1-data``): its visible checks catch the mistakes
that its hidden probes grade, before the learner submits; and its worked numbers are the
published ones (datasketch's signatures), not the reference answer's."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from tests.course.weeks import corpus
from tests.course.weeks.conftest import REPO, run_notebook

W1D = corpus.W1D
RELEASE = REPO / "exercises" / W1D / corpus.NOTEBOOKS[W1D].name
CASES = {case.name: case for case in corpus.WEEK1_DATA}


# Notebooks with one wrong answer per exercise (a check cell fails for its own exercise
# only, so one run shows several; the shard exercise's other two wrong answers run alone):
# {case: (check cell, the call its message names)}.
WRONG = (
    {"python_ints_do_not_wrap": ("minhash-check", 'minhash_signature({"to be or"}, a, b)'),
     "blank_lines_without_spaces": ("shingles-check",
                                    'shingles("a b a b a\\n \\t \\nHello,  world", n=2)'),
     "jaccard_of_empty_sets_zero": ("jaccard-check", "jaccard(set(), set())"),
     "s_curve_bands_and_rows_swapped": ("lsh-check", "s_curve(0.8, bands=9, rows=13)"),
     "shard_ids_big_endian": ("shards-check", "its ids, as bytes"),
     "repeated_ngrams_overlaps_counted_again": (
         "quality-check", "repeated_ngram_chars_ratio(one two three one two three four, 2)")},
    {"hash_big_endian": ("minhash-check", 'shingle_hash("to be or")'),
     "short_paragraphs_dropped": ("shingles-check", 'shingles("one two\\n\\nthree", n=5)'),
     "estimate_counts_equal_positions": ("jaccard-check", "estimate_jaccard([7, 1, 4, 4, 9]"),
     "pairs_in_both_orders": ("lsh-check", "candidate_pairs(signatures, bands=2, rows=2)"),
     "shard_version_not_checked": ("shards-check", "read_shard(version2.bin)"),
     "only_the_first_limit": ("quality-check", "((2, 0.9), (3, 0.5)))")},
    {"shard_ids_not_checked": ("shards-check", "write_shard(b.bin, [1, 70000])"),
     "ngrams_occurring_once_marked": (
         "quality-check", "repeated_ngram_chars_ratio(one two three one two three four, 2)")},
    {"shard_offset_in_ints": ("shards-check", "read_shard(a.bin)")},
)


@pytest.mark.parametrize("wrong", WRONG, ids=lambda wrong: "+".join(wrong))
def test_the_visible_checks_fail_before_submitting(tmp_path, wrong):
    """Each wrong answer of the corpus fails its exercise's check cell, with a message that
    names the call that went wrong; the other check cells pass."""
    answers = {cell: source for name in wrong for cell, source in CASES[name].answers.items()}
    corpus.build(corpus.Case(W1D, "+".join(wrong), answers), tmp_path, RELEASE)
    notebook = run_notebook(tmp_path / RELEASE.name, "jax", allow_errors=True)
    failed = {c.metadata["nbgrader"]["grade_id"]: o for c in notebook.cells
              if c.cell_type == "code" for o in c.outputs if o.output_type == "error"}
    assert sorted(failed) == sorted(cell for cell, _ in wrong.values())
    for cell, expected in wrong.values():
        assert failed[cell].ename == "AssertionError"
        assert expected in failed[cell].evalue


def check_cell(grade_id: str) -> str:
    notebook = json.loads(corpus.NOTEBOOKS[W1D].read_text())
    return next("".join(c["source"]) for c in notebook["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def test_the_signature_check_expects_datasketchs_numbers():
    """The numbers the minhash check expects, computed here from datasketch's formula with Python
    integers made to wrap modulo 2**64 as its NumPy uint64 products do; and datasketch's own
    MinHash gives the same for its permutations."""
    datasketch = pytest.importorskip("datasketch")
    mask64, prime, max_hash = 2**64 - 1, 2**61 - 1, 2**32 - 1

    def hash32(shingle):
        return int.from_bytes(hashlib.sha1(shingle.encode("utf-8")).digest()[:4], "little")

    def signature(shingles, a, b):
        return [min(((a_i * hash32(s) & mask64) + b_i & mask64) % prime & max_hash
                    for s in shingles) for a_i, b_i in zip(a, b)]

    source = check_cell("minhash-check")
    a, b = [3, 2**40 + 7, 2**60 + 11], [5, 13, 2**59]
    assert f"{hash32('to be or')})" in source and f"{hash32('café')})" in source
    assert str(signature({"to be or"}, a, b)) in source
    assert str(signature({"to be or", "café"}, a, b)) in source
    # the formula is datasketch's: its MinHash, with its own permutations, gives the same numbers
    minhash = datasketch.MinHash(num_perm=16, seed=3)
    minhash.update_batch([s.encode("utf-8") for s in ("to be or", "café", "not to be")])
    a, b = (p.tolist() for p in minhash.permutations)
    assert signature({"to be or", "café", "not to be"}, a, b) == minhash.hashvalues.tolist()


def test_the_jaccard_check_expects_the_published_formula():
    source = check_cell("jaccard-check")
    assert 'jaccard({"a", "b", "c"}, {"b", "c", "d"}), 2 / 4)' in source
    assert "estimate_jaccard(signature, np.array([7, 2, 4, 5, 9], dtype=np.uint64)), 3 / 5)" \
        in source
    assert np.mean(np.array([7, 1, 4, 4, 9]) == np.array([7, 2, 4, 5, 9])) == 3 / 5
