"""Session fixtures for the week notebooks: a course folder with the real ``solutions/`` and
``exercises/``, the notebooks run with nbclient, and the corpus graded once.

These tests run once (``scripts/test`` runs ``tests/course`` without ``KERAS_BACKEND``); they
start their own kernels and sandboxes, one per backend.
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.course import Course
from autograder.grading import Options, Summary, grade
from autograder.nbgrader_bridge import release
from autograder.sandbox.launcher import Limits, bubblewrap_problem
from tests.course.weeks import corpus

REPO = corpus.REPO
WEEKS = ("week1", "week2", "week3", "week5", "week4", "week6", "week7", "week1-data")
BACKENDS = corpus.ALL_BACKENDS
# The grader's defaults are 30 s per cell and 300 s per submission; the corpus needs far less.
LIMITS = Limits(cell_timeout=60.0, submission_timeout=180.0, memory_bytes=3072 << 20)


def run_notebook(path: Path, backend: str, allow_errors: bool = False) -> nbformat.NotebookNode:
    """``path`` executed top to bottom in a fresh kernel with ``KERAS_BACKEND=backend``.

    A first cell that sets the backend (``os.environ["KERAS_BACKEND"] = "jax"``) is edited to
    name ``backend``, as a learner switches backends."""
    notebook = nbformat.read(path, as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    first.source = re.sub(r'(os\.environ\["KERAS_BACKEND"\] = )"\w+"', rf'\1"{backend}"',
                          first.source)
    environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=environment)
    return notebook


def stdout(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs if output.output_type == "stream"
                   and output.name == "stdout")


class ByWeek(dict):
    """{key: value} where the value of a week is made the first time a test asks for it, so that
    ``pytest -k week5`` runs week 5's notebooks and grades week 5's corpus only."""

    def __init__(self, make):
        super().__init__()
        self.make = make  # week -> {key: value}
        self.failed: dict[str, BaseException] = {}  # week -> why making it failed

    def __missing__(self, key):
        week = key[0] if isinstance(key, tuple) else key
        if week in self.failed:  # every later test of that week reports the first cause
            raise RuntimeError(f"{week} could not be made (first failure: "
                               f"{self.failed[week]!r})") from self.failed[week]
        try:
            self.update(self.make(week))
        except Exception as error:
            self.failed[week] = error
            raise
        return self[key]


@pytest.fixture(scope="session")
def executed_solutions() -> dict[tuple[str, str], nbformat.NotebookNode]:
    """Each week's solutions notebook run on every backend, two kernels at a time."""

    def run_week(week):
        jobs = [(week, backend) for backend in BACKENDS]
        with ThreadPoolExecutor(2) as pool:
            notebooks = pool.map(lambda job: run_notebook(corpus.NOTEBOOKS[week], job[1]), jobs)
            return dict(zip(jobs, notebooks, strict=True))

    return ByWeek(run_week)


@pytest.fixture(scope="session")
def graded_weeks(tmp_path_factory) -> tuple[Course, dict[str, Summary]]:
    """The corpus graded: each week's cases in one batch per set of backends (a week is graded
    when a test first asks for it)."""
    if (problem := bubblewrap_problem()) and os.environ.get("CI"):
        pytest.fail(f"CI must grade in the sandbox: {problem}")
    root = tmp_path_factory.mktemp("weeks") / "course"
    course = Course(root, probes=REPO / "autograder" / "probes")

    def grade_week(week):
        shutil.copytree(REPO / "solutions" / week, root / "solutions" / week)
        os.environ["LLM_COURSE_SECRET"] = "weeks-corpus-secret"
        try:
            release(course, week)
            release_notebook = course.release(week) / corpus.NOTEBOOKS[week].name
            batches: dict[tuple[str, ...], Path] = {}
            for case in (c for c in corpus.CASES if c.week == week):
                folder = root / "submitted" / week / "-".join(case.backends)
                batches[case.backends] = folder
                corpus.build(case, folder / case.name / week, release_notebook)
            summary = Summary()
            for backends, folder in batches.items():
                options = Options(backends=backends, workers=2, limits=LIMITS,
                                  sandboxed=problem is None, progress=False)
                batch = grade(course, week, folder, options)
                summary.graded.update(batch.graded)
                summary.seconds += batch.seconds
        finally:
            os.environ.pop("LLM_COURSE_SECRET", None)
        return {week: summary}

    return course, ByWeek(grade_week)
