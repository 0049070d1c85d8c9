"""The course's own assignments (``solutions/<assignment>/`` with probes in
``autograder/probes/<assignment>/``): the committed release notebooks are what ``llm-course
release`` makes. (That the reference scores full marks and the release 0 on every backend of
every week is tests/course/weeks/test_grading.py's ``test_full_marks_and_zero_on_each_backend``,
which grades them once with each week's corpus; grading them here again cost CI ten minutes.)

Until week 1 and week 2 exist there is nothing to collect here; each new assignment with probes
is picked up without editing this file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.course import Course
from autograder.nbgrader_bridge import release

REPO = Path(__file__).resolve().parents[3]
ASSIGNMENTS = sorted(p.name for p in (REPO / "autograder" / "probes").glob("*")
                     if p.is_dir() and (REPO / "solutions" / p.name).is_dir())


def _course_copy(tmp_path: Path, assignment: str) -> Course:
    root = tmp_path / "course"
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    shutil.copytree(REPO / "autograder" / "probes" / assignment,
                    root / "autograder" / "probes" / assignment)
    course = Course(root)
    release(course, assignment)
    return course


def _cells(path: Path) -> list:
    notebook = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
             c.get("metadata", {}).get("nbgrader")) for c in notebook["cells"]]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_up_to_date(tmp_path, assignment):
    course = _course_copy(tmp_path, assignment)
    for made in sorted(course.release(assignment).glob("*.ipynb")):
        committed = REPO / "exercises" / assignment / made.name
        assert committed.is_file(), f"run `llm-course release {assignment}` and commit {committed}"
        assert _cells(committed) == _cells(made), (
            f"exercises/{assignment}/{made.name} differs from what `llm-course release "
            f"{assignment}` makes: release again and commit it")
