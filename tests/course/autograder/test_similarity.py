"""The similarity report (``autograder.similarity``): winnowing's guarantee against a brute force,
renamed copies found, independent solutions told apart, the library's own code found when
retyped by hand, and the report end to end (unreadable notebooks listed, HTML escaped, no grade
touched). Pure Python and NumPy: no Keras, no sandbox."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import cli
from autograder.course import Course
from autograder.similarity import (
    Document,
    compare,
    kgram_hashes,
    library_source,
    normalise,
    similarity_report,
    winnow,
    write,
)

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK = "transformer-decoder.ipynb"

ATTENTION = '''def scaled_dot_product_attention(q, k, v, mask=None):
    """(outputs (..., T_q, d_v), weights (..., T_q, T_k)) of softmax(q k^T / sqrt(d)) v."""
    q, k, v = (ops.convert_to_tensor(x, "float32") for x in (q, k, v))
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / np.sqrt(ops.shape(q)[-1])
    if mask is not None:
        scores = ops.where(mask, scores, -np.inf)  # masked keys get weight exactly 0
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, v), weights
'''
# ATTENTION with every name changed, the layout redone, comments and docstring rewritten.
ATTENTION_RENAMED = '''def scaled_dot_product_attention(q, k, v, mask=None):
    """My own attention! # </pre><script>alert(1)</script>"""
    # turn everything into float tensors first \x1b[31m</pre><script>alert(2)</script>
    query, key, value = (ops.convert_to_tensor(t, 'float32')
                         for t in (q, k, v))
    att = ops.matmul(query,
                     ops.swapaxes(key, -1, -2)) / np.sqrt(ops.shape(query)[-1])

    if mask is not None:
        att = ops.where(mask, att, -np.inf)
    probs = ops.softmax(att, axis = -1)   # normalise over keys
    return ops.matmul(probs, value), probs
'''
# An independent solution: einsum and a hand-made, stable softmax.
ATTENTION_EINSUM = '''def scaled_dot_product_attention(q, k, v, mask=None):
    """Attention written out with einsum and a hand-made, stable softmax."""
    depth = q.shape[-1]
    logits = ops.einsum("...qd,...kd->...qk", q, k) * (1.0 / math.sqrt(depth))
    if mask is not None:
        logits = ops.where(mask, logits, ops.full_like(logits, -1e9))
    logits = logits - ops.max(logits, axis=-1, keepdims=True)
    exps = ops.exp(logits)
    attn = exps / ops.sum(exps, axis=-1, keepdims=True)
    return ops.einsum("...qk,...kd->...qd", attn, v), attn
'''
LAYER_NORM = '''def layer_norm(x, gamma, beta, epsilon=1e-5):
    x, gamma, beta = (ops.convert_to_tensor(a, "float32") for a in (x, gamma, beta))
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return gamma * (x - mean) / ops.sqrt(variance + epsilon) + beta
'''
LAYER_NORM_SUMS = '''def layer_norm(x, gamma, beta, epsilon=1e-5):
    x = ops.cast(x, "float32")
    n = x.shape[-1]
    centred = x - ops.sum(x, axis=-1, keepdims=True) / n
    spread = ops.sum(centred * centred, axis=-1, keepdims=True) / n
    normed = centred * ops.rsqrt(spread + epsilon)
    return normed * ops.convert_to_tensor(gamma) + ops.convert_to_tensor(beta)
'''
# llm_keras.layers.causal_mask's body retyped by hand, with new names, in the exercise's signature.
MASK_RETYPED = '''def causal_mask(seq_len):
    """(seq_len, seq_len) booleans, True where query i may attend to key j: j <= i."""
    offset = 0
    rows = ops.arange(seq_len) + ops.cast(offset, "int32")
    cols = ops.arange(seq_len)
    return rows[:, None] >= cols[None, :]
'''
MASK_TRIL = '''def causal_mask(seq_len):
    return ops.tril(ops.ones((seq_len, seq_len), dtype="bool"))
'''


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# keras.ops as NumPy, enough to run the solutions above and check that they are correct.
NUMPY_OPS = SimpleNamespace(
    convert_to_tensor=lambda x, dtype=None: np.asarray(x, dtype=dtype),
    cast=lambda x, dtype: np.asarray(x).astype(dtype), matmul=np.matmul, swapaxes=np.swapaxes,
    shape=np.shape, where=np.where, softmax=_softmax, einsum=np.einsum, full_like=np.full_like,
    max=np.max, exp=np.exp, sum=np.sum, mean=np.mean, square=np.square, sqrt=np.sqrt,
    rsqrt=lambda x: 1 / np.sqrt(x), arange=np.arange, ones=np.ones, tril=np.tril)


def run(source: str, name: str):
    namespace = {"ops": NUMPY_OPS, "np": np, "math": math}
    exec(source, namespace)  # noqa: S102 - the test's own code
    return namespace[name]


def similarity(a: str, b: str) -> float:
    return compare(Document.of("a", "submission", a), Document.of("b", "submission", b))[0]


# --- fingerprints ------------------------------------------------------------------------------


def test_normalised_tokens_ignore_names_layout_comments_and_docstrings():
    assert normalise(ATTENTION)[0] == normalise(ATTENTION_RENAMED)[0]
    assert normalise(ATTENTION)[0] != normalise(ATTENTION.replace("-np.inf", "np.inf"))[0]
    tokens, lines = normalise('def f(x):\n    """doc"""\n    # note\n    return x + 1\n')
    assert tokens == ["def", "V", "(", "V", ")", ":", "return", "V", "+", "N"]
    assert lines[-1] == (4, 4)
    # what does not tokenize (an unclosed bracket, a shell escape) is read line by line
    assert normalise("!pip install numpy\ny = [1, 2\n")[0] == [
        "!", "V", "V", "V", "V", "=", "[", "N", ",", "N"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from("abc"), max_size=40), st.lists(st.sampled_from("abc"), max_size=40),
       st.integers(1, 5), st.integers(1, 6))
def test_winnowing_keeps_a_fingerprint_of_every_long_shared_run(a, b, k, w):
    """Schleimer et al.'s guarantee, checked by brute force: two sequences that share a run of
    w + k - 1 tokens share a fingerprint; a shared fingerprint is a shared k-gram."""
    chosen_a = {value for value, _ in winnow(kgram_hashes(a, k), w)}
    chosen_b = {value for value, _ in winnow(kgram_hashes(b, k), w)}
    t = w + k - 1
    runs_a = {tuple(a[i:i + t]) for i in range(len(a) - t + 1)}
    if runs_a & {tuple(b[i:i + t]) for i in range(len(b) - t + 1)}:
        assert chosen_a & chosen_b
    grams_a = {tuple(a[i:i + k]) for i in range(len(a) - k + 1)}
    grams_b = {tuple(b[i:i + k]) for i in range(len(b) - k + 1)}
    assert len(chosen_a & chosen_b) <= len(grams_a & grams_b)
    if not grams_a & grams_b:
        assert not chosen_a & chosen_b


def test_winnowing_keeps_the_rightmost_minimum_of_each_window():
    assert winnow([5, 1, 3, 1, 4, 6, 2], 3) == [(1, 1), (1, 3), (2, 6)]
    assert winnow([7, 3, 9], 5) == [(3, 1)]  # shorter than one window: its minimum
    assert winnow([], 4) == []


def test_a_renamed_and_reformatted_copy_scores_at_least_0_9():
    assert similarity(ATTENTION, ATTENTION_RENAMED) >= 0.9


def test_independent_correct_solutions_score_low():
    # both pairs are correct: the same numbers on random inputs
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 5, 4)).astype("float32") for _ in range(3))
    mask = np.tril(np.ones((5, 5), dtype=bool))
    for out_a, out_b in zip(run(ATTENTION, "scaled_dot_product_attention")(q, k, v, mask),
                            run(ATTENTION_EINSUM, "scaled_dot_product_attention")(q, k, v, mask)):
        np.testing.assert_allclose(out_a, out_b, rtol=1e-5, atol=1e-6)
    x, gamma, beta = rng.normal(size=(3, 6)), rng.normal(size=6), rng.normal(size=6)
    np.testing.assert_allclose(run(LAYER_NORM, "layer_norm")(x, gamma, beta),
                               run(LAYER_NORM_SUMS, "layer_norm")(x, gamma, beta),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(run(MASK_RETYPED, "causal_mask")(6),
                                  run(MASK_TRIL, "causal_mask")(6))
    # measured 0.04 (attention), 0.08 (layer norm) and 0 (mask): the bound leaves a wide margin
    assert similarity(ATTENTION, ATTENTION_EINSUM) < 0.25
    assert similarity(LAYER_NORM, LAYER_NORM_SUMS) < 0.25
    assert similarity(MASK_RETYPED, MASK_TRIL) < 0.25


def test_library_source_is_read_from_files_without_importing():
    path, first, text = library_source("llm_keras.layers.causal_mask")
    assert path == ROOT / "llm_keras" / "layers" / "causal_self_attention.py"
    lines = path.read_text().splitlines()
    assert lines[first - 1].startswith("def causal_mask(")
    assert text.splitlines()[0] == lines[first - 1]
    assert library_source("llm_keras.layers.LayerNorm.call")[2].lstrip().startswith("def call(")
    assert library_source("keras.ops.softmax")[0].name == "nn.py"  # through keras's re-exports
    assert library_source("llm_keras.layers.no_such_piece") is None


# --- the report --------------------------------------------------------------------------------

PROBE = '''import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(name={name!r}, answer_cells=({cell!r},), grade_cell={grade!r},
                    names=({function!r},), graded={graded!r})
CHECKS = (Check("output"),)


def inputs(rng):
    return {{}}


def probe(learner, inputs):
    return {{}}


def reference(inputs):
    return {{}}
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """Week 2's notebooks with two of its exercises (the similarity report needs no sandbox)."""
    root = tmp_path_factory.mktemp("similarity") / "course"
    for folder in ("exercises", "solutions"):
        (root / folder / "week2").mkdir(parents=True)
        shutil.copy(ROOT / folder / "week2" / NOTEBOOK, root / folder / "week2" / NOTEBOOK)
    probes = root / "autograder" / "probes" / "week2"
    probes.mkdir(parents=True)
    (probes / "causal_mask.py").write_text(PROBE.format(
        name="causal_mask", cell="causal-mask-answer", grade="causal-mask-check",
        function="causal_mask", graded=("llm_keras.layers.causal_mask",)))
    (probes / "attention.py").write_text(PROBE.format(
        name="attention", cell="attention-answer", grade="attention-check",
        function="scaled_dot_product_attention",
        graded=("keras.ops.dot_product_attention", "keras.layers.MultiHeadAttention")))
    return Course(root)


def submit(course: Course, student: str, answers: dict[str, str],
           submitted: Path | None = None) -> None:
    notebook = json.loads((course.release("week2") / NOTEBOOK).read_text())
    for cell in notebook["cells"]:
        cell_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell_id in answers:
            cell["source"] = answers[cell_id]
    folder = (submitted or course.root / "submitted") / student / "week2"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NOTEBOOK).write_text(json.dumps(notebook))


@pytest.fixture(scope="module")
def report(course) -> dict:
    submit(course, "ada", {"causal-mask-answer": MASK_RETYPED, "attention-answer": ATTENTION})
    submit(course, "ben", {"causal-mask-answer": MASK_TRIL, "attention-answer": ATTENTION_RENAMED})
    submit(course, "cy", {"attention-answer": ATTENTION_EINSUM})
    submit(course, "fay", {})  # the notebook as handed out, twice: the starter code matches no one
    submit(course, "gus", {})
    broken = course.root / "submitted" / "dee" / "week2"
    broken.mkdir(parents=True)
    (broken / NOTEBOOK).write_text('{"cells": [')
    return similarity_report(course, "week2", course.root / "submitted", progress=False)


def pair(report: dict, exercise: str, a: str, b: str) -> dict | None:
    return next((p for p in report["pairs"] if p["exercise"] == exercise and p["a"] == a
                 and p["b"] == b), None)


def test_the_library_retyped_by_hand_is_found_with_its_passage(report):
    found = pair(report, "causal_mask", "ada", "llm_keras.layers.causal_mask")
    assert found is not None and found["similarity"] >= 0.5 and found["b_kind"] == "library"
    path = ROOT / "llm_keras" / "layers" / "causal_self_attention.py"
    lines = path.read_text().splitlines()
    starts = ("query_positions =", "key_positions =", "return query_positions")
    body = [n for n, line in enumerate(lines, start=1) if line.strip().startswith(starts)]
    longest = found["passages"][0]
    assert tuple(longest["b"]) == (body[0], body[-1])  # the library's three lines
    assert tuple(longest["a"]) == (4, 6)  # ada's three lines after `offset = 0`
    document = report["documents"]["causal_mask"]["llm_keras.layers.causal_mask"]
    assert document["path"] == str(path)
    assert pair(report, "causal_mask", "ben", "llm_keras.layers.causal_mask") is None


def test_copies_are_paired_and_independent_answers_are_not(report):
    assert pair(report, "attention", "ada", "ben")["similarity"] >= 0.9
    reference = "reference solution (week2/transformer-decoder.ipynb)"
    assert pair(report, "attention", "ben", reference)["similarity"] >= 0.9
    assert not [p for p in report["pairs"] if "cy" in (p["a"], p["b"])]
    assert not [p for p in report["pairs"] if {"fay", "gus"} & {p["a"], p["b"]}]
    similarities = [p["similarity"] for p in report["pairs"]]
    assert similarities == sorted(similarities, reverse=True)
    assert all(s >= report["threshold"] for s in similarities)


def test_a_broken_notebook_is_listed_and_stops_nothing(report):
    assert [u["student"] for u in report["unreadable"]] == ["dee"]
    assert "not a readable notebook" in report["unreadable"][0]["message"]
    assert report["submissions"] == 6


def test_the_report_is_escaped_and_changes_no_grade(report, course, tmp_path):
    html_path, json_path = write(report, tmp_path / "similarity.html")
    page = html_path.read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;alert(2)" in page
    assert "\x1b" not in page
    assert page.count("<mark>") >= 3 and "llm_keras.layers.causal_mask" in page
    assert json.loads(json_path.read_text()) == report
    assert {p.name for p in course.root.iterdir()} == {"exercises", "solutions", "autograder",
                                                       "submitted"}


def test_code_the_whole_class_writes_is_not_a_copy(course, tmp_path):
    """MOSS's rule: a passage in more than ``max_common`` submissions is ignored."""
    for number in range(12):
        submit(course, f"s{number:02}", {"causal-mask-answer": MASK_TRIL}, tmp_path)
    submit(course, "ada", {"causal-mask-answer": MASK_RETYPED}, tmp_path)
    common = similarity_report(course, "week2", tmp_path, max_common=10, progress=False)
    assert [(p["a"], p["b"]) for p in common["pairs"]] == [("ada", "llm_keras.layers.causal_mask")]
    rare = similarity_report(course, "week2", tmp_path, max_common=12, progress=False)
    assert len([p for p in rare["pairs"] if p["b_kind"] == "submission"]) == 12 * 11 // 2


def test_the_command_line(course, tmp_path, capsys):
    out = tmp_path / "report" / "sim.html"
    assert cli.main(["similarity", "week2", str(course.root / "submitted"), "--course",
                     str(course.root), "--out", str(out), "--threshold", "0.95",
                     "--no-progress"]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["threshold"] == 0.95 and all(p["similarity"] >= 0.95 for p in data["pairs"])
    assert "sim.html" in capsys.readouterr().out
    assert cli.main(["similarity", "week2", str(course.root / "submitted"), "--course",
                     str(course.root), "--threshold", "1.5"]) == 2
    assert "--threshold 1.5" in capsys.readouterr().err
