"""Files that appear complete or not at all (used by downloads, cleaning, tokenizers, checkpoints).

A program killed halfway through writing a file (Ctrl-C, SIGKILL, a full disk) must not leave a
half-written file that looks finished: a later run would read it as if it were whole. Writing to
a temporary file in the same folder and renaming it at the end avoids that, because a rename
within one file system is atomic.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_output(destination: str | os.PathLike, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Write a file so that it appears complete or not at all.

    The ``with`` block writes to a hidden temporary file in the same folder; when the block
    ends normally, that file is renamed to ``destination`` (replacing any old one); when it
    raises (an error, Ctrl-C), the temporary file is removed and ``destination`` is untouched.

    Args:
        destination: the file to write; its folder must exist.
        mode: ``"wb"`` for bytes or ``"w"`` for text.
        **open_kwargs: passed to ``open``, e.g. ``encoding="utf-8"``.

    Yields:
        The open temporary file.

    Example:
        >>> with atomic_output("cleaned.txt", "w", encoding="utf-8") as f:  # doctest: +SKIP
        ...     f.write("To be, or not to be")
    """
    destination = Path(destination)
    tmp = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
    # Opened before the try: if this fails (e.g. the name exists), there is nothing to remove.
    f = open(tmp, mode.replace("w", "x"), **open_kwargs)  # noqa: SIM115
    try:
        with f:
            yield f
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
