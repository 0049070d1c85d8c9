"""The learner's feedback (``autograder.feedback``) from a grading record made by hand: one
summary per exercise with its lowest backend, a backend's details only where they differ, the
root cause of a later failure, and nothing from the learner's process shown unstripped."""

from __future__ import annotations

import json

from autograder import feedback

ESCAPE = "\x1b[31m"


def result(name, points, top, tests, message="", names=(), uses=()):
    """A scorer's result for one exercise on one backend; ``tests`` is [(name, share, message)],
    an empty message meaning passed."""
    return {"name": name, "points": points, "max_points": top, "message": message,
            "names": list(names), "uses": list(uses), "seconds": 0.1,
            "tests": [{"name": n, "passed": not m, "points": 0.0 if m else share,
                       "max_points": share, "message": m} for n, share, m in tests]}


def record(runs: dict) -> dict:
    """A record graded on the backends of ``runs`` ({backend: [results]}), each exercise scoring
    its lowest result, as ``grading`` combines them."""
    names = [e["name"] for e in next(iter(runs.values()))]
    exercises = []
    for name in names:
        by_backend = {b: next(e for e in run if e["name"] == name) for b, run in runs.items()}
        exercises.append({"name": name, "points": min(e["points"] for e in by_backend.values()),
                          "max_points": by_backend[next(iter(runs))]["max_points"],
                          "message": "", "by_backend": {b: e["points"]
                                                         for b, e in by_backend.items()}})
    return {"student": "ada", "assignment": "week2", "status": "graded",
            "score": sum(e["points"] for e in exercises), "max_score": 15.0, "messages": [],
            "exercises": exercises, "graded_at": "2026-12-03T17:00:00+00:00",
            "backends": {b: {"status": "graded", "exercises": run, "output": f"hello{ESCAPE}\n",
                             "cells": [{"index": 3, "status": "ok"}]}
                         for b, run in runs.items()}}


TORCH_ERROR = ("Your `layer_norm` raised TypeError when the grader called it on torch: "
               f"unsupported operand type(s) for *: 'numpy.ndarray' and 'Tensor'{ESCAPE}")


def layer_norm(backend):
    if backend == "torch":
        return result("layer_norm", 0.0, 1.0, [("normalised", 0.5, TORCH_ERROR),
                                               ("small", 0.5, TORCH_ERROR)],
                      message=TORCH_ERROR, names=("layer_norm",))
    return result("layer_norm", 1.0, 1.0, [("normalised", 0.5, ""), ("small", 0.5, "")],
                  names=("layer_norm",))


def attention_chain(attention_ok: bool):
    wrong = "" if attention_ok else "3 of 40 values differ from the reference"
    return [
        result("scaled_dot_product_attention", 4.0 if attention_ok else 2.0, 4.0,
               [("weights", 2.0, wrong), ("outputs", 2.0, "")],
               names=("scaled_dot_product_attention",)),
        result("multi_head_attention", 3.0 if attention_ok else 0.0, 3.0,
               [("outputs", 3.0, wrong)], names=("MultiHeadAttention",),
               uses=("causal_mask", "scaled_dot_product_attention")),
        result("transformer_block", 3.0 if attention_ok else 0.0, 3.0,
               [("block", 3.0, wrong)], names=("TransformerBlock",),
               uses=("layer_norm", "multi_head_attention")),
    ]


def test_one_summary_per_exercise_naming_the_lowest_backend():
    view = feedback.learner_view(record({b: [layer_norm(b)] for b in ("jax", "tensorflow",
                                                                      "torch")}))
    (exercise,) = view["exercises"]
    assert exercise["points"] == 0.0 and exercise["scored_on"] == "torch"
    assert exercise["summary"] == ("scored on torch, the lowest of jax 1/1, tensorflow 1/1, "
                                   "torch 0/1")
    assert "raised TypeError" in exercise["message"]
    assert "'numpy.ndarray' and 'Tensor'" in exercise["message"]
    assert "'Tensor'. It passes on jax and tensorflow but not on torch" in exercise["message"]
    assert 'set KERAS_BACKEND to "torch"' in exercise["message"]
    # each test: one entry for the two backends that agree, one for torch
    groups = exercise["tests"][0]["results"]
    assert [g["backends"] for g in groups] == [["jax", "tensorflow"], ["torch"]]
    assert [g["value"]["passed"] for g in groups] == [True, False]


def test_identical_backends_are_shown_once():
    runs = {b: attention_chain(attention_ok=True) for b in ("jax", "tensorflow", "torch")}
    view = feedback.learner_view(record(runs))
    for exercise in view["exercises"]:
        assert exercise["summary"] == "the same on jax, tensorflow and torch"
        assert all(len(t["results"]) == 1 for t in exercise["tests"])
        assert exercise["tests"][0]["results"][0]["backends"] == ["jax", "tensorflow", "torch"]
    page = feedback.render_html(view)
    assert page.count("<h2 id=") == 3  # one section per exercise, not one table per backend
    assert "Keras backend:" not in page
    assert len(view["output"]) == 1 and view["output"][0]["backends"] == ["jax", "tensorflow",
                                                                         "torch"]


def test_a_later_failure_names_the_earlier_one_as_its_cause():
    view = feedback.learner_view(record({"torch": attention_chain(attention_ok=False)}))
    causes = {e["name"]: e["cause"] for e in view["exercises"]}
    assert causes["scaled_dot_product_attention"] == ""
    assert causes["multi_head_attention"] == (
        "This exercise calls your `scaled_dot_product_attention`, which failed its own check "
        "(exercise scaled_dot_product_attention): fix that first.")
    assert causes["transformer_block"] == (
        "This exercise calls your `MultiHeadAttention`, which calls your "
        "`scaled_dot_product_attention`, which failed its own check (exercise "
        "scaled_dot_product_attention): fix that first.")
    comments = feedback.gradebook_comments(record({"torch": attention_chain(False)}))
    assert comments["transformer_block"][0] == 0.0
    assert comments["transformer_block"][1].startswith("This exercise calls your")
    assert comments["transformer_block"][1].endswith(
        "fix that first. 3 of 40 values differ from the reference")
    healthy = feedback.learner_view(record({"torch": attention_chain(attention_ok=True)}))
    assert all(e["cause"] == "" for e in healthy["exercises"])


def test_control_characters_are_stripped_and_html_escaped():
    runs = {b: [layer_norm(b)] for b in ("jax", "torch")}
    runs["torch"][0]["message"] += "<script>alert(1)</script>\x07\u202e"
    view = feedback.learner_view(record(runs))
    text = json.dumps(view, ensure_ascii=False) + feedback.render_html(view)
    for control in ("\x1b", "\x07", "\u202e"):
        assert control not in text
    assert "<script>" not in feedback.render_html(view)
    assert "&lt;script&gt;" in feedback.render_html(view)
    assert feedback.plain_text("a\x1b[1;31mb\x1b]0;title\x07c\rd\te\nf") == "abcd\te\nf"


def test_the_gradebook_comment_is_the_summary_and_the_message():
    comments = feedback.gradebook_comments(record({b: [layer_norm(b)]
                                                   for b in ("jax", "tensorflow", "torch")}))
    points, comment = comments["layer_norm"]
    assert points == 0.0
    assert comment.startswith("0/1, scored on torch, the lowest of jax 1/1, tensorflow 1/1, "
                              "torch 0/1. Your `layer_norm` raised TypeError")
    assert "\x1b" not in comment


def test_a_record_with_no_backend_run_still_has_its_feedback():
    failed = {"student": "bo", "assignment": "week2", "status": "sandbox_error", "score": 0.0,
              "max_score": 1.0, "messages": ["The grader failed"], "backends": {},
              "exercises": [{"name": "layer_norm", "points": 0.0, "max_points": 1.0,
                             "message": "not graded: the grader failed", "by_backend": {},
                             "tests": [{"name": "normalised", "passed": False, "points": 0.0,
                                        "max_points": 1.0,
                                        "message": "not graded: the grader failed"}]}],
              "graded_at": ""}
    view = feedback.learner_view(failed)
    assert view["exercises"][0]["message"] == "not graded: the grader failed"
    assert view["exercises"][0]["tests"][0]["results"][0]["backends"] == []
    assert "not graded" in feedback.render_html(view)
