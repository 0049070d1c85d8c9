"""Honest learners of issue 19, graded through the real sandbox on every backend: each gets its
full marks where its code is right, and feedback that points at what to fix where it is not.

- (a) a feed-forward written as a ``keras.Sequential``: with its ``Dense`` sublayers named as the
  exercise text says, full marks; unnamed, the visible check and the feedback both name the
  weight the grader looks for (``feed_forward.up_projection.kernel``) and its shape;
- (b) a layer norm computing ``gamma * (x - mean)`` with ``gamma`` a NumPy array: right on JAX and
  TensorFlow, a TypeError on PyTorch; the visible check fails on every backend (its inputs behave
  as on PyTorch) and the feedback shows the error's message and says to run on PyTorch;
- (c) BPE ties broken by ids instead of bytes: a visible check now catches it;
- (d) a bug in attention: the later exercises that use it name it as the cause.
"""

from __future__ import annotations

import os
import shutil

import pytest

from autograder.course import Course
from autograder.grading import Options, grade
from autograder.nbgrader_bridge import release
from autograder.sandbox.launcher import bubblewrap_problem
from tests.course.weeks import corpus
from tests.course.weeks.conftest import LIMITS, REPO, run_notebook

BACKENDS = corpus.ALL_BACKENDS
W1, W2 = "week1", "week2"

SEQUENTIAL_BLOCK = '''class TransformerBlock(keras.layers.Layer):
    """A pre-LN decoder block whose feed-forward network is a keras.Sequential."""

    def __init__(self, d_model, n_heads, d_ff, **kwargs):
        super().__init__(**kwargs)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.attention = MultiHeadAttention(d_model, n_heads)
        self.feed_forward_norm = keras.layers.LayerNormalization(epsilon=1e-5)
        self.feed_forward = keras.Sequential([
            keras.layers.Dense(d_ff, name="up_projection"),
            keras.layers.Activation(lambda h: ops.gelu(h, approximate=True)),
            keras.layers.Dense(d_model, name="down_projection"),
        ])

    def call(self, x):
        x = x + self.attention(self.attention_norm(x))
        return x + self.feed_forward(self.feed_forward_norm(x))
'''
UNNAMED_BLOCK = (SEQUENTIAL_BLOCK.replace(', name="up_projection"', "")
                 .replace(', name="down_projection"', ""))
NUMPY_GAMMA_LAYER_NORM = '''def layer_norm(x, gamma, beta, epsilon=1e-5):
    """gamma * (x - mean) / sqrt(variance + epsilon) + beta, over the last axis of x."""
    x = ops.convert_to_tensor(x, "float32")
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.var(x, axis=-1, keepdims=True)
    return gamma * (x - mean) / ops.sqrt(variance + epsilon) + beta
'''
TIES_BY_IDS = ("best = max(pairs, key=lambda p: (pairs[p], token_bytes[p[0]], token_bytes[p[1]]))",
               "best = max(pairs, key=lambda p: (pairs[p], p))")

CASES = {
    # (a) named as the text says: full marks on every backend
    "sequential_feed_forward": corpus.Case(
        W2, "sequential_feed_forward", {"transformer-block-answer": SEQUENTIAL_BLOCK},
        backends=BACKENDS),
    # (a) unnamed: the block gets nothing, on every backend, and is told which weight
    "sequential_feed_forward_unnamed": corpus.Case(
        W2, "sequential_feed_forward_unnamed", {"transformer-block-answer": UNNAMED_BLOCK},
        lost={"transformer_block": 3}, backends=BACKENDS,
        message="Expected a weight named `feed_forward.up_projection.kernel` of shape ("),
    # (b) a TypeError on PyTorch only: 1/1 on JAX and TensorFlow, 0/1 on PyTorch
    "numpy_gamma_layer_norm": corpus.Case(
        W2, "numpy_gamma_layer_norm", {"layer-norm-answer": NUMPY_GAMMA_LAYER_NORM},
        lost={"layer_norm": 1}, backends=BACKENDS,
        message="raised TypeError when the grader called it on torch: unsupported operand "
                "type(s) for *: 'numpy.ndarray' and 'Tensor'"),
    # (c) ties broken by ids: the merges of a text full of ties differ
    "ties_by_ids": corpus.Case(
        W1, "ties_by_ids", corpus.replaced(W1, "train-bpe-answer", *TIES_BY_IDS),
        lost={"train_bpe": 2}, backends=BACKENDS),
    # (d) attention scaled by d: the multi-head attention and the block built on it lose the
    # checks of more than one position, and name the attention function as the cause
    "attention_scaled_by_d": corpus.Case(
        W2, "attention_scaled_by_d",
        {**corpus.replaced(W2, "attention-answer", "/ np.sqrt(ops.shape(q)[-1])",
                           "/ ops.shape(q)[-1]"),
         "transformer-block-answer": corpus.OWN_PIECES_BLOCK},
        lost={"scaled_dot_product_attention": 4, "multi_head_attention": 2,
              "transformer_block": 2}, backends=BACKENDS),
}
# The points on each backend where they differ from the exercise's (lowest) points.
PER_BACKEND = {"numpy_gamma_layer_norm": {"layer_norm": {"jax": 1.0, "tensorflow": 1.0,
                                                         "torch": 0.0}}}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, {case: record}): each week's honest cases graded in one batch on every backend."""
    if (problem := bubblewrap_problem()) and os.environ.get("CI"):
        pytest.fail(f"CI must grade in the sandbox: {problem}")
    root = tmp_path_factory.mktemp("honest") / "course"
    course = Course(root, probes=REPO / "autograder" / "probes")
    os.environ["LLM_COURSE_SECRET"] = "honest-learners-secret"
    found = {}
    try:
        for week in (W1, W2):
            shutil.copytree(REPO / "solutions" / week, root / "solutions" / week)
            release(course, week)
            release_notebook = course.release(week) / corpus.NOTEBOOKS[week].name
            folder = root / "submitted" / week
            for case in (c for c in CASES.values() if c.week == week):
                corpus.build(case, folder / case.name / week, release_notebook)
            options = Options(backends=BACKENDS, workers=2, limits=LIMITS,
                              sandboxed=problem is None, progress=False)
            found.update(grade(course, week, folder, options).graded)
    finally:
        os.environ.pop("LLM_COURSE_SECRET", None)
    return course, found


def explain(record) -> list:
    return [(e["name"], e["points"], e["by_backend"], e["message"]) for e in record["exercises"]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_honest_learner_gets_exactly_its_points_on_each_backend(graded, name):
    _, records = graded
    case, record = CASES[name], records[name]
    assert record["status"] == "graded", explain(record)
    assert tuple(record["backends"]) == BACKENDS
    for exercise in record["exercises"]:
        expected = case.scores[exercise["name"]]
        assert exercise["points"] == pytest.approx(expected), explain(record)
        on_each = PER_BACKEND.get(name, {}).get(exercise["name"], dict.fromkeys(BACKENDS, expected))
        assert exercise["by_backend"] == pytest.approx(on_each), explain(record)


def report_of(course, name, week) -> dict:
    import json

    return json.loads((course.feedback(name, week) / "report.json").read_text())


def exercise_of(report, name) -> dict:
    return next(e for e in report["exercises"] if e["name"] == name)


def test_feedback_names_the_weight_and_its_shape(graded):
    course, _ = graded
    block = exercise_of(report_of(course, "sequential_feed_forward_unnamed", W2),
                        "transformer_block")
    assert CASES["sequential_feed_forward_unnamed"].message in block["message"]
    assert "your weights are `" in block["message"] and "/sequential/dense/kernel` (" in block[
        "message"]
    assert block["summary"] == "the same on jax, tensorflow and torch"


def test_feedback_shows_the_type_error_and_says_to_run_on_torch(graded):
    course, _ = graded
    report = report_of(course, "numpy_gamma_layer_norm", W2)
    norm = exercise_of(report, "layer_norm")
    assert norm["summary"] == "scored on torch, the lowest of jax 1/1, tensorflow 1/1, torch 0/1"
    assert CASES["numpy_gamma_layer_norm"].message in norm["message"]
    assert ("It passes on jax and tensorflow but not on torch: run your notebook once on torch "
            "too") in norm["message"]
    page = (course.feedback("numpy_gamma_layer_norm", W2) / "report.html").read_text()
    assert "scored on torch, the lowest of jax 1/1" in page
    assert "&#x27;numpy.ndarray&#x27; and &#x27;Tensor&#x27;" in page


def test_later_exercises_name_the_attention_bug_as_their_cause(graded):
    course, _ = graded
    report = report_of(course, "attention_scaled_by_d", W2)
    cause = ("which failed its own check (exercise scaled_dot_product_attention): fix that first.")
    multi_head = exercise_of(report, "multi_head_attention")
    assert multi_head["cause"] == ("This exercise calls your `scaled_dot_product_attention`, "
                                   + cause)
    block = exercise_of(report, "transformer_block")
    assert block["cause"] == ("This exercise calls your `MultiHeadAttention`, which calls your "
                              "`scaled_dot_product_attention`, " + cause)
    assert exercise_of(report, "scaled_dot_product_attention")["cause"] == ""
    assert exercise_of(report, "causal_mask")["cause"] == ""


@pytest.mark.parametrize("week, name, grade_id, expected", [
    (W1, "ties_by_ids", "train-bpe-check", 'train_bpe("a aa b", 258)'),
    (W2, "numpy_gamma_layer_norm", "layer-norm-check",
     "unsupported operand type(s) for *: 'numpy.ndarray' and a tensor"),
    (W2, "sequential_feed_forward_unnamed", "transformer-block-check",
     "expected a weight named `feed_forward.up_projection.kernel` of shape (16, 64); your layer "
     "has `transformer_block/sequential/dense/kernel` (16, 64)"),
])
def test_the_visible_check_fails_before_submitting(tmp_path, week, name, grade_id, expected):
    """On JAX, the default backend, where (b) would have passed before."""
    corpus.build(CASES[name], tmp_path, REPO / "exercises" / week / corpus.NOTEBOOKS[week].name)
    notebook = run_notebook(tmp_path / corpus.NOTEBOOKS[week].name, "jax", allow_errors=True)
    failed = {c.metadata["nbgrader"]["grade_id"]: o for c in notebook.cells
              if c.cell_type == "code" for o in c.outputs if o.output_type == "error"}
    assert list(failed) == [grade_id]
    assert expected in failed[grade_id].evalue


def test_the_sequential_feed_forward_passes_its_visible_check(tmp_path):
    corpus.build(CASES["sequential_feed_forward"], tmp_path,
                 REPO / "exercises" / W2 / corpus.NOTEBOOKS[W2].name)
    notebook = run_notebook(tmp_path / corpus.NOTEBOOKS[W2].name, "torch")
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    assert "ok: TransformerBlock(16, 4, 64) with the autograder's weights" in printed
    assert "(checked on torch; the autograder also runs your code" in printed
