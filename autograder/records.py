"""One grading record per submission, written the moment it is graded (so a crash or Ctrl-C
loses nothing, and a re-run resumes): ``autograded/<student>/<assignment>/grading_record.json``.

A record is reused on the next run when its ``fingerprint`` still matches: the submitted
notebooks (read as the rebuild reads them, never through a link), the release notebooks, the
probes, the backends and the limits are unchanged. Its ``gradebook`` field says whether its
grades are in nbgrader's gradebook (``pending`` until they are, ``written`` after).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from autograder.rebuild import MAX_NOTEBOOK_BYTES, RefusedFile, list_submitted, read_submitted

RECORD = "grading_record.json"
FORMAT = 2  # 2: hidden inputs depend on the answer cells; records say whether the gradebook has them
STATUSES = ("graded", "timeout", "kernel_died", "out_of_memory", "invalid_notebook",
            "sandbox_error")


def fingerprint(submission: Path, assignment, backends, limits) -> str:
    settings = {key: float(value) for key, value in dataclasses.asdict(limits).items()}
    digest = hashlib.sha256(f"format {FORMAT} {sorted(backends)} {sorted(settings.items())}".encode())
    for name, content in _submitted_notebooks(Path(submission)):
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + content)
    for template in assignment.templates.values():
        digest.update(json.dumps(template.notebook, sort_keys=True).encode())
    for exercise in assignment.exercises:
        digest.update(exercise.probe.path.read_bytes())
    return digest.hexdigest()


def _submitted_notebooks(folder: Path):
    """(name, bytes) of each notebook, read as the rebuild reads it (no links followed); a file
    that cannot be read counts by the reason it cannot, so fixing it makes a new fingerprint."""
    try:
        names = [name for name in list_submitted(folder) if name.endswith(".ipynb")]
    except (OSError, RefusedFile) as error:
        yield "", repr(error).encode()
        return
    for name in names:
        try:
            yield name, read_submitted(folder, name, MAX_NOTEBOOK_BYTES)
        except (OSError, RefusedFile) as error:
            yield name, repr(error).encode()


def read(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / RECORD).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data) -> None:
    """Atomic write (a temporary file renamed over the target)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=1, sort_keys=False)
        file.write("\n")
    os.replace(temporary, path)


def worst(statuses) -> str:
    """The status that describes a submission graded in several runs (backends, notebooks)."""
    order = ("sandbox_error", "invalid_notebook", "kernel_died", "out_of_memory", "timeout", "graded")
    statuses = set(statuses) or {"graded"}
    return next(status for status in order if status in statuses)
