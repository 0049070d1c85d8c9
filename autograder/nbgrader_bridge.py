"""The parts of nbgrader the course keeps: release, the gradebook, CSV export.

``release`` runs nbgrader's ``generate_assignment`` (``solutions/`` -> ``exercises/``, and the
assignment, its notebooks and grade cells into the gradebook). ``GradebookWriter`` is the single
writer of grades: it stores each exercise's score as the ``auto_score`` of its grade cell, as
nbgrader's own autograder would, so formgrader, manual overrides and ``nbgrader export`` work as
usual. ``export_csv`` is nbgrader's CSV export plugin.
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
            self._write(student, scores, timestamp)

    def _write(self, student, scores, timestamp) -> None:
        gb = self.gradebook
        gb.update_or_create_student(student)
        try:
            gb.find_submission(self.assignment.name, student)
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
