"""The notebooks as a learner runs them: on each backend, top to bottom, with helpful checks."""

from __future__ import annotations

import json
import re

import pytest

from tests.course.weeks import corpus
from tests.course.weeks.conftest import BACKENDS, REPO, WEEKS, run_notebook, stdout

BACKEND_LINE = re.compile(r"^Keras 3\.\S+ on (\w+) \S+ \(Python 3\.\d+\.\d+\), devices: .+$", re.M)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("week", WEEKS)
def test_solutions_run_top_to_bottom_and_pass_their_checks(executed_solutions, week, backend):
    notebook = executed_solutions[week, backend]
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    printed = stdout(notebook)
    # The first cell reports the backend, the versions and the devices.
    first = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    reported = BACKEND_LINE.match(first.strip())
    assert reported and reported.group(1) == backend
    checks = sum(source.count("check_") - source.count("def check_") for source in
                 ("".join(c.source) for c in notebook.cells
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade")))
    assert printed.count("ok: ") == checks > 10


def error_of(notebook, grade_id):
    cell = next(c for c in notebook.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    return next((o for o in cell.outputs if o.output_type == "error"), None)


def test_release_notebook_runs_and_each_check_asks_for_the_answer():
    """As handed out: the set-up cells run, every check fails at the missing answer."""
    notebook = run_notebook(REPO / "exercises" / "week1" / corpus.NOTEBOOKS["week1"].name,
                            "jax", allow_errors=True)
    assert BACKEND_LINE.search(stdout(notebook))
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        errors = [o for o in cell.outputs if o.output_type == "error"] \
            if cell.cell_type == "code" else []
        if meta.get("grade_id") in ("environment", "setup"):
            assert errors == []
        elif meta.get("grade"):
            assert [e.ename for e in errors] == ["NotImplementedError"], meta["grade_id"]


def test_a_failing_check_says_what_it_expected_and_what_it_received(tmp_path):
    """Wrong answers (scaled by d, no master weights, a tie broken the wrong way): each check
    says both."""
    for week, name, grade_id, expected in (
        ("week2", "scaled_by_d", "attention-check", "weights, scaled by sqrt(d): values differ"),
        ("week5", "no_master_weights", "adamw-memory-check",
         "GPT-2 small, mixed precision:\n  expected 1.984e+09\n  received 1488000000.0"),
        ("week1", "ties_to_the_first_pair", "train-bpe-check", "train_bpe(\"ab ba\", 257)"),
    ):
        case = next(c for c in corpus.CASES if c.week == week and c.name == name)
        release = REPO / "exercises" / week / corpus.NOTEBOOKS[week].name
        corpus.build(case, tmp_path / name, release)
        notebook = run_notebook(tmp_path / name / corpus.NOTEBOOKS[week].name, "jax",
                                allow_errors=True)
        error = error_of(notebook, grade_id)
        assert error is not None and error.ename == "AssertionError"
        assert expected in error.evalue
        assert "expected" in error.evalue and "received" in error.evalue
    # the first failing line names both values: (98, 97) was expected, (32, 97)... received
    assert re.search(r"expected \[\(98, 97\)\] \(list\)\s+received \[\(\d+, \d+\)\] \(list\)",
                     error.evalue)


def test_solutions_are_nbgrader_source_notebooks():
    for week in WEEKS:
        notebook = json.loads(corpus.NOTEBOOKS[week].read_text())
        ids = [c["metadata"]["nbgrader"]["grade_id"] for c in notebook["cells"]
               if "nbgrader" in c["metadata"]]
        assert len(ids) == len(set(ids))
        assert notebook["metadata"]["kernelspec"]["name"] == "python3"
        assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")
