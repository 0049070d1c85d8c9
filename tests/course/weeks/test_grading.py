"""``llm-course grade`` on the corpus: the reference gets full marks on every backend, the
release 0, and each wrong answer loses exactly the points of what it got wrong."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.course.weeks import corpus, failing_checks
from tests.course.weeks.conftest import WEEKS

CASES = {(case.week, case.name): case for case in corpus.CASES}


def explain(record) -> list:
    return [(e["name"], e["points"], e["by_backend"], e["message"]) for e in record["exercises"]] \
        + record["messages"]


@pytest.mark.parametrize("week, name", sorted(CASES))
def test_each_submission_gets_exactly_its_points(graded_weeks, week, name):
    _, summaries = graded_weeks
    case, record = CASES[week, name], summaries[week].records[name]
    assert record["status"] == "graded", explain(record)
    assert tuple(record["backends"]) == case.backends
    points = {e["name"]: e["points"] for e in record["exercises"]}
    assert points == pytest.approx(case.scores), explain(record)
    assert record["score"] == pytest.approx(case.score)
    for exercise in record["exercises"]:  # the same on every backend graded
        assert set(exercise["by_backend"].values()) == {exercise["points"]}, explain(record)
    if case.message:
        assert any(case.message in e["message"] for e in record["exercises"]), explain(record)


@pytest.mark.parametrize("week", WEEKS)
def test_stored_failing_checks(graded_weeks, week):
    """The checks each case fails, as the teaching notes print them from
    ``failing_checks.json``, equal what grading finds (regenerated with the variable)."""
    _, summaries = graded_weeks
    records = summaries[week].records
    graded = {name: failing_checks.found(records[name])
              for (case_week, name) in CASES if case_week == week}
    if failing_checks.updating():
        failing_checks.write_week(week, graded)
    stored = failing_checks.read().get(week, {})
    changed = sorted(name for name in graded.keys() | stored.keys()
                     if graded.get(name) != stored.get(name))
    assert not changed, (
        f"{failing_checks.STORED.name} is out of date for {week}: grading found other failing "
        f"checks for {', '.join(changed)} (first: {changed[0]} fails "
        f"{graded.get(changed[0], 'nothing (no such case)')}, stored "
        f"{stored.get(changed[0], 'nothing')}). If the corpus or the probes changed on purpose, "
        f"regenerate it: {failing_checks.UPDATE_COMMAND} (or -k 'stored_failing_checks and "
        f"{week}]' for this week only).")


def test_full_marks_and_zero_on_each_backend(graded_weeks):
    _, summaries = graded_weeks
    for week in WEEKS:
        records = summaries[week].records
        total = sum(corpus.POINTS[week].values())
        for backend in corpus.ALL_BACKENDS:
            assert sum(e["by_backend"][backend] for e in records["reference"]["exercises"]) == total
            assert sum(e["by_backend"][backend] for e in records["release"]["exercises"]) == 0
        assert records["reference"]["max_score"] == total


def test_feedback_says_what_was_wrong(graded_weeks):
    course, summaries = graded_weeks
    record = summaries["week2"].records["scaled_by_d"]
    message = next(e["message"] for e in record["exercises"]
                   if e["name"] == "scaled_dot_product_attention")
    assert "values differ from the reference" in message and "sqrt(d)" in message
    missing = next(e["message"] for e in summaries["week1"].records["release"]["exercises"]
                   if e["name"] == "train_bpe")
    assert "raised NotImplementedError" in missing
    report = json.loads((course.feedback("ties_to_the_first_pair", "week1") / "report.json")
                        .read_text())
    assert "token_bytes" in json.dumps(report)  # the check's hint on the tie rule
    html = (course.feedback("reference", "week2") / "report.html").read_text()
    assert html.count("passed") >= 10


def test_the_gradebook_holds_the_scores(graded_weeks):
    course, summaries = graded_weeks
    for week in WEEKS:  # every week graded
        summaries[week]
    database = sqlite3.connect(course.root / "gradebook.db")
    rows = database.execute(
        "select assignment.name, student.id, sum(grade.auto_score) from grade "
        "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
        "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
        "join assignment on submitted_assignment.assignment_id = assignment.id "
        "join student on submitted_assignment.student_id = student.id "
        "group by assignment.name, student.id").fetchall()
    assert {(week, student): score for week, student, score in rows} == pytest.approx(
        {key: case.score for key, case in CASES.items()})
