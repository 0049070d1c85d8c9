"""The release notebooks (exercises/) are what nbgrader makes of solutions/, and hold no answer."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from autograder.assignment import Assignment
from autograder.course import Course
from llm_keras.cli import course_main as course_command
from tests.course.weeks import corpus
from tests.course.weeks.conftest import REPO, WEEKS


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """exercises/ made again from solutions/ in a temporary course, with the instructor's
    command (``llm-course release``)."""
    root = tmp_path_factory.mktemp("release")
    for week in WEEKS:
        shutil.copytree(REPO / "solutions" / week, root / "solutions" / week)
        assert course_command(["release", week, "--course", str(root),
                               "--db", f"sqlite:///{root / 'gradebook.db'}"]) == 0
    return root / "exercises"


@pytest.mark.parametrize("week", WEEKS)
def test_committed_release_notebooks_are_what_nbgrader_makes(regenerated, week):
    committed = sorted(p.name for p in (REPO / "exercises" / week).iterdir())
    made = sorted(p.name for p in (regenerated / week).iterdir())
    assert committed == made
    for name in made:
        assert (REPO / "exercises" / week / name).read_bytes() == \
            (regenerated / week / name).read_bytes(), (
            f"exercises/{week}/{name} differs from what `llm-course release {week}` makes of "
            f"solutions/{week}: run it from the repository root and commit the result.")


def solution_lines(week: str) -> list[str]:
    """The lines between ### BEGIN SOLUTION and ### END SOLUTION, long enough to be telling."""
    notebook = json.loads(corpus.NOTEBOOKS[week].read_text())
    lines, inside = [], False
    for cell in notebook["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) > 20:
                lines.append(line.strip())
    return lines


@pytest.mark.parametrize("week", WEEKS)
def test_release_notebooks_hold_no_solution_and_no_probe(week):
    path = REPO / "exercises" / week / corpus.NOTEBOOKS[week].name
    notebook = json.loads(path.read_text())
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    code_lines = {line.strip() for source in code for line in source.splitlines()}
    leaked = [line for line in solution_lines(week) if line in code_lines]
    assert len(solution_lines(week)) >= 10 and leaked == []  # enough lines to be telling
    text = path.read_text()
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "def probe(",
                   "def reference(", "from autograder", "import autograder", "CHECKS = "):
        assert secret not in text
    answers = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    assert answers and all("raise NotImplementedError()" in "".join(c["source"]) for c in answers)
    assert sorted(p.suffix for p in (REPO / "exercises" / week).iterdir()) == [".ipynb"]


@pytest.mark.parametrize("week", WEEKS)
def test_each_answer_has_a_check_cell_with_points_and_a_probe(week):
    notebook = json.loads(corpus.NOTEBOOKS[week].read_text())
    cells = [(c["cell_type"], c["metadata"].get("nbgrader", {}), "".join(c["source"]))
             for c in notebook["cells"]]
    first_code = next(source for kind, _, source in cells if kind == "code")
    # It sets the backend (not setdefault, which an exported KERAS_BACKEND would override).
    assert "describe_backend()" in first_code and 'os.environ["KERAS_BACKEND"] = ' in first_code
    for index, (_, meta, _) in enumerate(cells):
        if meta.get("solution"):  # the check cell comes right after its answer cell
            check = cells[index + 1][1]
            assert check.get("grade") and check.get("locked") and check.get("points", 0) > 0
    assignment = Assignment.load(Course(REPO, probes=REPO / "autograder" / "probes"), week)
    graded = [cell for e in assignment.exercises for cell in e.probe.exercise.answer_cells]
    answers = [meta["grade_id"] for _, meta, _ in cells if meta.get("solution")]
    assert sorted(graded) == sorted(answers)
    assert {e.name: e.points for e in assignment.exercises} == corpus.POINTS[week]
    # Points are announced in the headings, "## 3. Merging a pair (1 point)".
    headings = re.findall(r"^## \d+\. .+\((\d+) points?\)$",
                          "\n".join(source for kind, _, source in cells if kind == "markdown"),
                          re.M)
    assert [int(p) for p in headings] == list(corpus.POINTS[week].values())
