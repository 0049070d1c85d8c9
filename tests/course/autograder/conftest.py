"""Session fixtures: the demo course released into a temporary folder, and the whole corpus
(``corpus.CASES``) graded once, in parallel, under all three backends.

The tooling tests run once (not once per backend): ``scripts/test`` runs ``tests/course`` in one
process without ``KERAS_BACKEND``; grading itself starts one sandbox per backend.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from autograder.course import Course
from autograder.grading import Options, Summary, grade
from autograder.nbgrader_bridge import release
from autograder.sandbox.launcher import Limits, bubblewrap_problem
from tests.course.autograder import corpus

EXAMPLE = Path(__file__).resolve().parents[3] / "autograder" / "example_course"
# Short limits keep the fault cases quick (the defaults are 30 s per cell, 300 s per submission).
TEST_LIMITS = Limits(cell_timeout=12.0, submission_timeout=60.0, memory_bytes=1536 << 20,
                     output_bytes=1 << 20)


@pytest.fixture(scope="session")
def sandbox_available() -> bool:
    problem = bubblewrap_problem()
    if problem and os.environ.get("CI"):
        pytest.fail(f"CI must grade in the sandbox: {problem}")
    return problem is None


def make_course(folder: Path) -> Course:
    """A copy of the example course, released (exercises/ and the gradebook)."""
    shutil.copytree(EXAMPLE, folder)
    course = Course(folder)
    release(course, "demo")
    return course


class Listener:
    """A TCP server on the host's loopback that counts the connections it receives."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
                self.connections += 1
                connection.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory, sandbox_available):
    """(course, summary with a record per case, extras) for the whole corpus."""
    root = tmp_path_factory.mktemp("corpus") / "course"
    course = make_course(root)
    submitted = root / "submitted"
    listener = Listener()
    marker = root.parent / "pwned"
    paths = {"course": root, "gradebook": root / "gradebook.db", "port": listener.port,
             "other": submitted / "-".join(corpus.ALL_BACKENDS) / "reference" / "demo", "marker": marker,
             "release": course.release("demo") / "demo.ipynb"}
    batches = {}
    for case in corpus.CASES:
        folder = submitted / "-".join(case.backends)
        batches[case.backends] = folder
        corpus.build(case, folder / case.name / "demo", paths)
    # the grader's own environment holds a secret: the sandbox must not see it (I9)
    os.environ["LLM_COURSE_SECRET"] = "corpus-secret"
    summary = Summary()
    try:
        for backends, folder in batches.items():
            options = Options(backends=backends, workers=2, limits=TEST_LIMITS,
                              sandboxed=sandbox_available, progress=False)
            batch = grade(course, "demo", folder, options)
            summary.graded.update(batch.graded)
            summary.seconds += batch.seconds
    finally:
        os.environ.pop("LLM_COURSE_SECRET", None)
        listener.close()
    return course, summary, {"listener": listener, "marker": marker, "submitted": submitted}
