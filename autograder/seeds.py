"""Hidden-input seeds derived from the course secret and the submission itself.

``derive_seed(secret, assignment, student, exercise, digest)`` is an HMAC-SHA256 of the
assignment, the student, the exercise and ``digest``, the SHA-256 of the submission's answer
cells as rebuilt (``answer_digest``). So knowing other students' inputs, or one's own, tells
nothing about anyone else's; the same submission graded twice gets the same inputs (a regrade is
reproducible); and any change to the answer cells draws new inputs, so an input that leaked into
feedback (an exception message that prints its argument) is worthless in the next submission.
The secret never enters the sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_ENV = "LLM_COURSE_SECRET"
SECRET_FILE = ".course_secret"


def derive_seed(secret: bytes, assignment: str, student: str, exercise: str, digest: str) -> int:
    message = "\x1f".join((assignment, student, exercise, digest)).encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "little")


def answer_digest(sources) -> str:
    """SHA-256 of the code the grader runs for a submission (its rebuilt cells, in order).

    All of a notebook's answer cells count, not only the exercise's own: a lookup table of leaked
    inputs could sit in another exercise's cell and be called from an unchanged one.
    """
    digest = hashlib.sha256()
    for source in sources:
        digest.update(hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def course_secret(course_root: Path) -> bytes:
    """The secret from ``$LLM_COURSE_SECRET``, else ``<course root>/.course_secret``.

    The file is created (random, mode 0600) the first time a course is graded; keep it out of
    version control and back it up: a new secret gives every student new hidden inputs.
    """
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = Path(course_root) / SECRET_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()
