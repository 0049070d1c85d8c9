"""The parts of nbgrader the course keeps: release, the gradebook, CSV export.

``release`` runs nbgrader's ``generate_assignment`` (``solutions/`` -> ``exercises/``, and the
assignment, its notebooks and grade cells into the gradebook). ``GradebookWriter`` is the single
writer of grades: it stores each exercise's score as the ``auto_score`` of its grade cell, as
nbgrader's own autograder would, so formgrader, manual overrides and ``nbgrader export`` work as
usual. ``export_csv`` is nbgrader's CSV export plugin.

A failed write is rolled back, so it never affects the next submission's, and ``holds`` tells
whether the gradebook has a submission's grades (the grader writes back any that are missing).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from datetime import datetime, timezone

from autograder.course import Course


class NbgraderError(ValueError):
    """nbgrader refused (the message has its log); printed as an error, without a traceback."""


def _tools_on_path() -> None:
    """nbgrader's gradebook runs the ``alembic`` command: find it beside this Python even when
    the virtual environment is not activated."""
    folder = os.path.dirname(sys.executable)
    if folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def release(course: Course, assignment: str) -> str:
    """Regenerate ``exercises/<assignment>`` from ``solutions/<assignment>``; returns the log."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    if not course.source(assignment).is_dir():
        raise FileNotFoundError(f"No source notebooks: {course.source(assignment)} does not exist.")
    _tools_on_path()
    config = course.nbgrader_config()
    # the API also sets up the exchange (for release_assignment to students): keep it quiet
    config.Exchange.root = str(course.root / "exchange")
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    with contextlib.redirect_stdout(io.StringIO()):
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise NbgraderError(f"nbgrader could not release {assignment}:\n{result.get('error') or result.get('log')}")
    return result.get("log", "")


def parse_timestamp(text: str) -> str:
    """A submission's ``timestamp.txt`` as nbgrader's gradebook will store it (UTC, ISO format),
    or ``ValueError`` saying why nbgrader could not read it."""
    from nbgrader.utils import parse_utc

    shown = text if len(text) <= 40 else text[:40] + "..."
    shown = "".join(c if c.isprintable() else "?" for c in shown)
    try:
        parsed = parse_utc(text)
    except Exception:  # noqa: BLE001 - dateutil raises ParserError, OverflowError, TypeError...
        raise ValueError(f"{shown!r} is not a date and time nbgrader can read "
                         "(it writes e.g. '2026-11-21 07:00:11.709090 UTC')") from None
    return parsed.isoformat(sep=" ")


class GradebookWriter:
    """Writes one submission's exercise scores into nbgrader's gradebook (one writer per batch)."""

    def __init__(self, course: Course, assignment):
        from nbgrader.api import Gradebook, MissingEntry

        _tools_on_path()
        self.assignment = assignment
        self.missing = MissingEntry
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.gradebook = Gradebook(course.db_url)
        try:
            self.gradebook.find_assignment(assignment.name)
            for exercise in assignment.exercises:
                self.gradebook.find_grade_cell(exercise.probe.exercise.grade_cell,
                                               exercise.notebook, assignment.name)
        except MissingEntry:
            self.gradebook.close()
            raise NbgraderError(
                f"The gradebook ({course.db_url}) does not know {assignment.name!r} and its grade "
                f"cells: run `llm-course release {assignment.name}` first.") from None

    def write(self, student: str, scores: dict[str, tuple[float, str]], timestamp=None) -> None:
        """``scores``: exercise name -> (points, feedback message)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader's API
            try:
                self._write(student, scores, timestamp)
            except BaseException:
                self.gradebook.db.rollback()  # the next submission starts from a clean session
                raise

    def holds(self, student: str, scores: dict[str, tuple[float, str]]) -> bool:
        """Whether the gradebook has this submission with these auto scores."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.gradebook.find_submission(self.assignment.name, student)
                for exercise in self.assignment.exercises:
                    grade = self.gradebook.find_grade(exercise.probe.exercise.grade_cell,
                                                      exercise.notebook, self.assignment.name,
                                                      student)
                    points = scores.get(exercise.name, (0.0, ""))[0]
                    if grade.auto_score is None or abs(grade.auto_score - float(points)) > 1e-9:
                        return False
            except self.missing:
                return False
            finally:
                self.gradebook.db.rollback()  # reads only: leave no transaction open
        return True

    def _write(self, student, scores, timestamp) -> None:
        from nbgrader.utils import parse_utc

        gb = self.gradebook
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(self.assignment.name, student)
            if timestamp:
                submission.timestamp = parse_utc(timestamp)
        except self.missing:
            gb.add_submission(self.assignment.name, student,
                              timestamp=timestamp or datetime.now(timezone.utc))
        for exercise in self.assignment.exercises:
            points, message = scores.get(exercise.name, (0.0, "not graded"))
            grade = gb.find_grade(exercise.probe.exercise.grade_cell, exercise.notebook,
                                  self.assignment.name, student)
            grade.auto_score = float(points)
            grade.needs_manual_grade = grade.manual_score is not None
            for cell_id in exercise.probe.exercise.answer_cells:
                with contextlib.suppress(self.missing):
                    comment = gb.find_comment(cell_id, exercise.notebook, self.assignment.name, student)
                    comment.auto_comment = message or None
        gb.db.commit()

    def close(self) -> None:
        self.gradebook.close()


def export_csv(course: Course, path) -> None:
    """nbgrader's CSV export of every assignment in the gradebook to ``path``."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.plugins.export import CsvExportPlugin

    _tools_on_path()
    config = course.nbgrader_config()
    plugin = CsvExportPlugin(config=config, coursedir=CourseDirectory(config=config))
    plugin.to = str(path)
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        plugin.export(gradebook)
