"""Where a course's files live, in nbgrader's conventions, and the grader's settings.

A course root holds ``solutions/<assignment>/`` (nbgrader's source folder), ``exercises/
<assignment>/`` (its release folder), ``autograder/probes/<assignment>/`` (the hidden probes),
``gradebook.db`` (or any SQLAlchemy URL), and after grading ``autograded/<student>/<assignment>/``
(rebuilt notebook and grading record) and ``feedback/<student>/<assignment>/`` (the reports).
The course's own repository is a course root; so is ``autograder/example_course``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

SOURCE = "solutions"
RELEASE = "exercises"
AUTOGRADED = "autograded"
FEEDBACK = "feedback"
BACKENDS = ("jax", "tensorflow", "torch")


@dataclasses.dataclass(frozen=True)
class Course:
    root: Path
    probes: Path | None = None
    db_url: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())
        if self.probes is None:
            object.__setattr__(self, "probes", self.root / "autograder" / "probes")
        if self.db_url is None:
            object.__setattr__(self, "db_url", f"sqlite:///{self.root / 'gradebook.db'}")

    def source(self, assignment: str) -> Path:
        return self.root / SOURCE / assignment

    def release(self, assignment: str) -> Path:
        return self.root / RELEASE / assignment

    def probe_folder(self, assignment: str) -> Path:
        return Path(self.probes) / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        return self.root / AUTOGRADED / student / assignment

    def feedback(self, student: str, assignment: str) -> Path:
        return self.root / FEEDBACK / student / assignment

    def nbgrader_config(self):
        """nbgrader's traitlets config for this course (what ``nbgrader_config.py`` would say)."""
        from autograder.nbgrader_settings import course_config

        return course_config(self)
