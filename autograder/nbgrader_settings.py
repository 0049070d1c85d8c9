"""nbgrader's configuration for the course: ``solutions/`` is the source folder, ``exercises/``
the release folder, and the gradebook is ``Course.db_url``.

The ``llm-course`` commands pass this configuration to nbgrader directly. For nbgrader's own
commands and formgrader in JupyterLab (which read ``nbgrader_config.py`` in the folder they run
in), the course root has a two-line ``nbgrader_config.py``::

    from autograder.nbgrader_settings import apply
    apply(get_config())
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config


def course_config(course) -> Config:
    config = Config()
    apply(config, course)
    return config


def apply(config: Config, course=None) -> Config:
    """Fill ``config`` for ``course`` (default: the course rooted in the current folder)."""
    from autograder.course import AUTOGRADED, FEEDBACK, RELEASE, SOURCE, Course

    course = course or Course(Path.cwd())
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.source_directory = SOURCE
    config.CourseDirectory.release_directory = RELEASE
    config.CourseDirectory.autograded_directory = AUTOGRADED
    config.CourseDirectory.feedback_directory = FEEDBACK
    config.CourseDirectory.db_url = course.db_url
    # Hidden probes live outside the notebooks; visible checks stay visible in the release.
    config.ClearSolutions.enforce_metadata = True
    config.Execute.timeout = 30
    return config
