"""The grader's own pieces: release, rebuild, comparison, seeds, the probe contract, the static
delegation check, and the command line end to end (resume after a crash, CSV export, feedback,
refusing to run without a sandbox)."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from autograder import cli, grading
from autograder.assignment import Assignment, Template
from autograder.compare import compare
from autograder.contract import Check
from autograder.course import Course
from autograder.delegation import references
from autograder.probes import ProbeError, load_probe, sandbox_source
from autograder.rebuild import rebuild
from autograder.seeds import derive_seed
from tests.course.autograder import corpus
from tests.course.autograder.conftest import make_course


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    return make_course(tmp_path_factory.mktemp("tooling") / "course")


@pytest.fixture
def template(course) -> Template:
    return Template.read(course.release("demo") / "demo.ipynb")


# --- release ------------------------------------------------------------------------------------


def test_release_strips_solutions_and_fills_the_gradebook(course):
    released = (course.release("demo") / "demo.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and released.count("raise NotImplementedError") == 5
    assignment = Assignment.load(course, "demo")
    assert [e.name for e in assignment.exercises] == ["softmax", "causal_mask", "shift_targets",
                                                      "attention", "self_attention"]
    assert assignment.max_score == 8
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        assert gradebook.find_assignment("demo").max_score == 8


# --- rebuild ------------------------------------------------------------------------------------


def build(case, folder, course):
    corpus.build(case, folder, {"release": course.release("demo") / "demo.ipynb"})
    return folder


def test_rebuild_takes_only_answer_cells(course, template, tmp_path):
    folder = build(corpus.Case("x", 0, answers={"softmax-answer": "def softmax(x, axis=-1):\n    return 1\n"},
                               mutate=corpus._edit_tests), tmp_path / "a", course)
    result = rebuild(template, folder)
    assert result.status == "ok" and result.messages == []
    sources = [cell["source"] for cell in result.cells]
    assert any("return 1" in s for s in sources)
    assert not any(s == "pass" for s in sources)  # edited test cells are not even run
    assert sources[0] == "import numpy as np\nimport keras\nfrom keras import ops"  # setup from release
    assert len(result.cells) == 6  # setup + 5 answers; the visible checks are not run


@pytest.mark.parametrize("mutate, message", [
    (corpus._duplicate_softmax, "2 cells carry the answer id 'softmax-answer'"),
    (corpus._rename_answer_id, "'softmax-answer' is missing"),
    (corpus._answer_to_markdown, "turned into a markdown cell"),
    (corpus._add_cells, "1 code cell(s) you added were not run"),
])
def test_rebuild_reports_damage(course, template, tmp_path, mutate, message):
    result = rebuild(template, build(corpus.Case("x", 0, mutate=mutate), tmp_path / "a", course))
    assert result.status == "ok"
    assert any(message in m for m in result.messages), result.messages


@pytest.mark.parametrize("case, message", [
    (corpus.Case("x", 0, raw=b"{not json"), "is not a readable notebook"),
    (corpus.Case("x", 0, raw=b'{"cells": 3}'), "has no list of cells"),
    (corpus.Case("x", 0, notebook_name=""), "demo.ipynb is missing"),
])
def test_rebuild_rejects_unreadable_notebooks(course, template, tmp_path, case, message):
    result = rebuild(template, build(case, tmp_path / "a", course))
    assert result.status == "invalid_notebook"
    assert message in result.messages[-1]


# --- comparison, seeds, contract, delegation ------------------------------------------------------


@pytest.mark.parametrize("kind, got, message", [
    ("tensor", np.zeros((2, 16, 8), "float32"), "expected shape (2, 8, 16), got (2, 16, 8)"),
    ("tensor", np.zeros((2, 8, 16), "int64"), "expected a floating-point array, got dtype int64"),
    ("list", np.zeros((2, 8, 16), "float32"), "expected a NumPy array or a tensor, got a list"),
    ("other", None, "got an object that is not an array"),
    (None, None, "returned nothing"),
    ("ndarray", np.full((2, 8, 16), np.nan, "float32"), "256 of 256 values are NaN or infinite"),
    ("ndarray", np.full((2, 8, 16), 0.5, "float32"), "256 of 256 values differ from the reference"),
])
def test_compare_says_what_is_wrong(kind, got, message):
    passed, text = compare(Check("y"), "jax", kind, got, np.zeros((2, 8, 16), "float32"))
    assert not passed and message in text


def test_compare_counts_in_words_that_agree_with_the_numbers():
    """Book read 5 Dec (readI2 14): "1 of 1 values are NaN" read wrong; the noun agrees with
    how many values there are, the verb with how many are wrong."""
    def said(got, expected, exact=False):
        return compare(Check("y", exact=exact), "jax", "ndarray", np.asarray(got),
                       np.asarray(expected))[1]

    assert said([np.nan], [0.0]).startswith("1 of 1 value is NaN or infinite")
    assert said([np.nan, 0.0], [0.0, 0.0]).startswith("1 of 2 values is NaN or infinite")
    assert said([np.nan, np.inf], [0.0, 0.0]).startswith("2 of 2 values are NaN or infinite")
    assert said([1.0], [0.0]).startswith("1 of 1 value differs from the reference by more")
    assert said([1.0, 1.0, 0.0], [0.0] * 3).startswith("2 of 3 values differ from the reference")
    assert said([1.0, 0.0], [0.0, 0.0], exact=True) == "1 of 2 values differs from the reference"


def test_compare_tolerance_per_backend():
    check = Check("y", rtol={"torch": 1e-2, "default": 1e-6}, atol=0)
    expected, got = np.ones(4), np.ones(4) * 1.001
    assert compare(check, "torch", "ndarray", got, expected) == (True, "")
    assert compare(check, "jax", "ndarray", got, expected)[0] is False


def test_seeds_are_reproducible_and_private():
    seed = derive_seed(b"s", "demo", "alice", "softmax", "d")
    assert seed == derive_seed(b"s", "demo", "alice", "softmax", "d")
    others = {derive_seed(b"s", "demo", "bob", "softmax", "d"),
              derive_seed(b"s", "demo", "alice", "attention", "d"),
              derive_seed(b"t", "demo", "alice", "softmax", "d"),
              derive_seed(b"s", "demo", "alice", "softmax", "e")}  # another submission
    assert seed not in others and len(others) == 4


def test_only_probe_and_imports_enter_the_sandbox(course):
    path = course.probe_folder("demo") / "self_attention.py"
    source = sandbox_source(path)
    assert "def probe(" in source and "probe_tools import load_weights" in source
    assert "def reference" not in source and "def inputs" not in source
    assert "autograder.contract" not in source and "CHECKS" not in source


def test_probe_contract_errors_are_plain(course, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("EXERCISE = 1\n")
    with pytest.raises(ProbeError, match="CHECKS is missing"):
        load_probe(bad)
    broken = tmp_path / "broken_course"
    shutil.copytree(course.root, broken)
    release = broken / "exercises" / "demo" / "demo.ipynb"
    release.write_text(release.read_text().replace('"points": 2', '"points": 0', 1))  # F12
    with pytest.raises(ProbeError, match="is worth 0.0 points"):
        Assignment.load(Course(broken), "demo")


def test_static_delegation_check():
    graded = ("keras.ops.softmax",)
    assert references(["def softmax(x, axis=-1):\n    return keras.ops.softmax(x)"], graded,
                      ["import keras"]) == ["keras.ops.softmax"]
    assert references(["from keras import ops as K\nf = K.softmax"], graded) == ["keras.ops.softmax"]
    assert references(["from keras.src.ops.nn import softmax as s"], graded) == ["keras.ops.softmax"]
    assert references(["import importlib\nm = importlib.import_module('keras.ops')\nf = getattr(m, 'softmax')"],
                      graded) == ["keras.ops.softmax"]
    assert references(["def softmax(x, axis=-1):\n    return ops.exp(x) / ops.sum(ops.exp(x))"], graded,
                      ["from keras import ops"]) == []


def test_no_credit_names_the_library_pieces_in_a_sentence():
    """Book read 5 Dec (readI2 14): two library names found read "`a`, `b` is named"."""
    from pathlib import Path

    from autograder.scoring import score_exercise

    probe = Path(__file__).parents[3] / "autograder" / "probes" / "week3" / "cross_entropy.py"

    def message(static):
        return score_exercise("jax", str(probe), 2.0, b"", {"status": "ok"}, b"", static,
                              "ok")["message"]

    assert "own `keras.ops.logsumexp` is named in your answer cells" in message(
        ["keras.ops.logsumexp"])
    assert ("own `keras.ops.log_softmax` and `keras.ops.logsumexp` are named in your answer "
            "cells") in message(["keras.ops.logsumexp", "keras.ops.log_softmax"])


def test_backend_choice(course):
    assert cli.assignment_backends(course, "demo", None) == ("jax", "tensorflow", "torch")
    assert cli.assignment_backends(course, "demo", ["all"]) == ("jax", "tensorflow", "torch")
    assert cli.assignment_backends(course, "demo", ["torch", "jax", "torch"]) == ("torch", "jax")


# --- the command line, end to end -----------------------------------------------------------------


def test_grade_resumes_after_a_crash_exports_and_writes_feedback(tmp_path, monkeypatch, sandbox_available):
    course = make_course(tmp_path / "course")
    submitted = tmp_path / "course" / "submitted"
    paths = {"release": course.release("demo") / "demo.ipynb"}
    for case in (corpus.Case("alice", 8), corpus.Case("bob", 0, release=True),
                 corpus.Case("carol", 4, answers=corpus.WRONG)):
        corpus.build(case, submitted / case.name / "demo", paths)
    command = ["grade", "demo", str(submitted), "--course", str(course.root), "--backend", "torch",
               "--workers", "2", "--no-progress", "--cell-timeout", "10"]
    if not sandbox_available:
        command.append("--no-sandbox")

    real_save, saved = grading._save, []

    def crash_after_first(*args):
        real_save(*args)
        saved.append(args[2]["student"])
        raise KeyboardInterrupt

    monkeypatch.setattr(grading, "_save", crash_after_first)
    assert cli.main(command) == 130
    monkeypatch.setattr(grading, "_save", real_save)
    assert len(saved) == 1

    summary = grading.grade(course, "demo", submitted, _options(sandbox_available))
    assert set(summary.reused) == set(saved) and len(summary.graded) == 2
    assert {s: r["score"] for s, r in summary.records.items()} == {"alice": 8, "bob": 0, "carol": 4}

    # F17: a changed submission is graded again, the others are not
    corpus.build(corpus.Case("carol", 8), submitted / "carol" / "demo", paths)
    summary = grading.grade(course, "demo", submitted, _options(sandbox_available))
    assert list(summary.graded) == ["carol"] and summary.graded["carol"]["score"] == 8

    csv_path = tmp_path / "grades.csv"
    assert cli.main(["export", "--course", str(course.root), "--to", str(csv_path)]) == 0
    rows = {row["student_id"]: row for row in csv.DictReader(csv_path.open())}
    assert {s: float(rows[s]["score"]) for s in rows} == {"alice": 8.0, "bob": 0.0, "carol": 8.0}
    assert {float(row["max_score"]) for row in rows.values()} == {8.0}

    shutil.rmtree(course.root / "feedback")
    assert cli.main(["feedback", "demo", "--course", str(course.root)]) == 0
    report = json.loads((course.feedback("bob", "demo") / "report.json").read_text())
    assert report["score"] == 0 and report["max_score"] == 8
    assert (course.autograded("alice", "demo") / "demo.ipynb").is_file()  # for formgrader


def _options(sandbox_available):
    from autograder.sandbox.launcher import Limits

    return grading.Options(backends=("torch",), workers=2, limits=Limits(cell_timeout=10),
                           sandboxed=sandbox_available, progress=False)


def test_refuses_to_grade_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    course = make_course(tmp_path / "course")
    submitted = tmp_path / "course" / "submitted"
    corpus.build(corpus.Case("alice", 8), submitted / "alice" / "demo",
                 {"release": course.release("demo") / "demo.ipynb"})
    monkeypatch.setattr(grading, "bubblewrap_problem", lambda: "bubblewrap is not installed")
    base = ["grade", "demo", str(submitted), "--course", str(course.root), "--backend", "torch",
            "--no-progress"]
    assert cli.main(base) == 2
    assert "pass --no-sandbox" in capsys.readouterr().err
    assert not (course.autograded("alice", "demo")).exists()
    assert cli.main(base + ["--no-sandbox"]) == 0
    record = json.loads((course.autograded("alice", "demo") / "grading_record.json").read_text())
    assert record["score"] == 8 and record["status"] == "graded"


def test_clear_error_before_release(tmp_path):
    shutil.copytree(corpus.SOURCE.parents[2], tmp_path / "course")
    with pytest.raises(FileNotFoundError, match="run `llm-course release demo` first"):
        Assignment.load(Course(tmp_path / "course"), "demo")
