"""The corpus graded on jax, tensorflow and torch: every submission gets exactly its score."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from autograder.seeds import derive_seed
from tests.course.autograder import corpus

CASES = {case.name: case for case in corpus.CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_expected_score_on_each_backend(graded_corpus, name):
    _, summary, _ = graded_corpus
    case, record = CASES[name], summary.records[name]
    assert record["status"] == case.status, record["messages"]
    assert record["score"] == pytest.approx(case.score), _explain(record)
    assert tuple(record["backends"]) == case.backends
    for backend in case.backends:
        total = sum(e["by_backend"][backend] for e in record["exercises"])
        assert total == pytest.approx(case.score), (backend, _explain(record))
        assert record["backends"][backend]["versions"].get("backend") in (backend, None)
    for exercise, points in case.scores.items():
        assert _points(record, exercise) == pytest.approx(points), _explain(record)
    if case.message:
        assert any(case.message in message for message in record["messages"]), record["messages"]


def test_no_attack_beats_the_wrong_answer_it_wraps(graded_corpus):
    _, summary, _ = graded_corpus
    wrong = summary.records["scale_by_d"]["score"]
    attacks = [name for name in CASES if name.startswith("I")]
    assert len(attacks) >= 20
    for name in attacks:
        if CASES[name].answers.get("attention-answer") == corpus.SCALE_BY_D:
            assert summary.records[name]["score"] <= wrong, name


def test_one_record_per_submission_and_gradebook_matches(graded_corpus):
    course, summary, _ = graded_corpus
    assert set(summary.records) == set(CASES)
    database = sqlite3.connect(course.root / "gradebook.db")
    rows = database.execute(
        "select student.id, sum(grade.auto_score), max(grade.manual_score) from grade "
        "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
        "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
        "join student on submitted_assignment.student_id = student.id group by student.id").fetchall()
    assert {student: total for student, total, _ in rows} == pytest.approx(
        {name: case.score for name, case in CASES.items()})
    assert all(manual is None for _, _, manual in rows)  # I8: nobody wrote a manual score


def test_delegation_feedback_says_why(graded_corpus):
    _, summary, _ = graded_corpus
    message = _message(summary.records["delegate_softmax"], "softmax")
    assert "No credit" in message and "keras.ops.softmax" in message and "named in your answer" in message
    hidden = _message(summary.records["delegate_softmax_hidden"], "softmax")
    assert "No credit" in hidden and "keras.ops.softmax" in hidden


def test_feedback_is_helpful(graded_corpus):
    course, summary, _ = graded_corpus
    report = json.loads((course.feedback("transposed_output", "demo") / "report.json").read_text())
    tests = report["exercises"][3]["tests"]  # each test once, with its lowest backend's message
    assert any("expected shape (" in t["message"] and "got (" in t["message"] for t in tests)
    missing = _message(summary.records["release_as_handed_out"], "self_attention")
    assert "does not define `SelfAttention`" in missing
    raised = _message(summary.records["release_as_handed_out"], "softmax")
    assert "raised NotImplementedError" in raised
    assert (course.feedback("reference", "demo") / "report.html").read_text().count("passed") >= 10


def test_hidden_inputs_leaked_through_feedback_are_worthless(graded_corpus):
    """What a probe's call printed never reaches feedback; an exception's message does (the
    learner needs it), capped, so an input can leak that way: it is then worthless, because any
    change to the answer cells draws new inputs (the seed includes their digest)."""
    course, summary, _ = graded_corpus
    student = "I16_leak_inputs"
    record = summary.records[student]
    from autograder.assignment import Assignment

    probe = next(e for e in Assignment.load(course, "demo").exercises if e.name == "attention").probe

    def q_of(digest):
        seed = derive_seed(b"corpus-secret", "demo", student, "attention", digest)
        return probe.inputs(np.random.default_rng(seed))["q"]

    folder = course.feedback(student, "demo")
    text = (folder / "report.json").read_text() + (folder / "report.html").read_text()
    assert "PRINTED-DURING-PROBE" not in text
    message = _message(record, "attention")
    assert "raised ValueError" in message and "LEAK" in message and len(message) < 1000
    leaked = q_of(record["digests"]["demo"])
    resubmitted = q_of("digest of the same notebook with a lookup table added")
    assert leaked.shape != resubmitted.shape or not np.isin(resubmitted, leaked).any()
    assert "BEGIN SOLUTION" not in text and "def probe" not in text


def test_sandbox_escapes_left_no_trace(graded_corpus):
    _, summary, extras = graded_corpus
    assert extras["listener"].connections == 0          # I18: no connection reached the host
    assert not extras["marker"].exists()               # I23: nothing was unpickled
    assert summary.records["I19_forge_results"]["score"] <= 4


def test_outputs_are_capped(graded_corpus):
    _, summary, _ = graded_corpus
    output = summary.records["F2_F5_print_flood"]["backends"]["torch"]["output"]
    assert len(output) <= 20_100 and output.endswith("[... output truncated ...]")


def _points(record, exercise):
    return next(e["points"] for e in record["exercises"] if e["name"] == exercise)


def _message(record, exercise):
    return next(e["message"] for e in record["exercises"] if e["name"] == exercise)


def _explain(record):
    return [(e["name"], e["by_backend"], e["message"]) for e in record["exercises"]] + record["messages"]
