"""Fetching a corpus safely: checksums and atomic downloads (week 1, "Text as data").

Every number a course reports (a loss, a perplexity, a token count) is only reproducible if the
text it was measured on is exactly the same bytes. So a corpus file is identified by its size and
its SHA-256 digest, and it is checked every time it is used: a truncated or edited file fails
loudly instead of quietly changing the results.

A download is written to a temporary file beside its destination, checked, and only then renamed
into place with ``os.replace`` (atomic on one file system). An interrupted or corrupted download
therefore never leaves behind a file that looks complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from llm_keras.files import atomic_output

CHUNK_BYTES = 1 << 16  # read and write 64 KiB at a time: constant memory for any file size


class DownloadError(OSError):
    """A download failed before a complete file arrived: no network, a server error, a timeout."""


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """Size in bytes and SHA-256 hex digest of a file, read in chunks.

    Args:
        path: the file.

    Returns:
        ``(size, sha256)``.

    Example:
        >>> size, sha256 = file_digest("tinyshakespeare.txt")  # doctest: +SKIP
        >>> size
        1115394
    """
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
    return os.path.getsize(path), digest.hexdigest()


def check_digest(
    what: str, size: int, sha256: str, *, expected_size: int, expected_sha256: str, advice: str
) -> None:
    """Raise a ``ValueError`` that says what differs and what to do, unless size and digest match.

    Args:
        what: the thing checked, in words, e.g. ``"/data/tinyshakespeare.txt"``.
        size, sha256: what it is.
        expected_size, expected_sha256: what it should be.
        advice: what to do about a mismatch, appended to the message.
    """
    if size == expected_size and sha256 == expected_sha256:
        return
    kind = "truncated" if size < expected_size else "modified"
    raise ValueError(
        f"{what} is not the expected file (it looks {kind}): it has {size:,} bytes and "
        f"sha256 {sha256}, expected {expected_size:,} bytes and sha256 {expected_sha256}. "
        f"{advice}"
    )


def verify_file(path: str | os.PathLike, *, sha256: str, size: int, advice: str) -> Path:
    """Check a file's size and SHA-256 digest; return its path, or raise ``ValueError``.

    Args:
        path: the file to check.
        sha256: the expected hex digest.
        size: the expected size in bytes.
        advice: what the error should tell the reader to do, e.g. where to get a good copy.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ValueError: the file differs; the message names it and gives both sizes and digests.
    """
    path = Path(path)
    actual_size, actual_sha256 = file_digest(path)
    check_digest(
        str(path), actual_size, actual_sha256,
        expected_size=size, expected_sha256=sha256, advice=advice,
    )
    return path


def download_file(
    url: str,
    destination: str | os.PathLike,
    *,
    sha256: str,
    size: int,
    timeout: float = 30.0,
    progress: bool = True,
    advice: str = "",
) -> Path:
    """Download ``url`` to ``destination``, checked against ``size`` and ``sha256``.

    The bytes go to a temporary file (``atomic_output``) while their digest is computed; only
    a file that matches is renamed to ``destination``. On any failure the temporary file is
    removed, so ``destination`` either does not exist or is complete and checked.

    Args:
        url: where to download from (``http://`` or ``https://``).
        destination: the file to create; its folder must exist.
        sha256: the expected hex digest.
        size: the expected size in bytes (also the progress bar's total when the server sends
            no ``Content-Length``).
        timeout: seconds to wait for the server to connect or to send more bytes.
        progress: show a tqdm progress bar, in bytes.
        advice: appended to error messages, e.g. how to get the file without a network.

    Returns:
        ``destination`` as a ``Path``.

    Raises:
        DownloadError: the download failed (no network, an HTTP error, a timeout, a cut
            connection).
        ValueError: the downloaded bytes do not match ``size`` and ``sha256``.

    Example:
        >>> download_file(  # doctest: +SKIP
        ...     "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        ...     "tinyshakespeare.txt", size=1115394,
        ...     sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")
    """
    destination = Path(destination)
    with atomic_output(destination, "wb") as out:
        written, digest = _fetch(url, out, timeout=timeout, progress=progress,
                                 expected_size=size, advice=advice)
        check_digest(  # raising here, inside the with, removes the temporary file
            f"The file downloaded from {url}", written, digest,
            expected_size=size, expected_sha256=sha256,
            advice=f"Nothing was saved. Try again; if it keeps failing, the file at that address "
                   f"has changed. {advice}",
        )
    return destination


def _fetch(url, out, *, timeout, progress, expected_size, advice) -> tuple[int, str]:
    """Stream ``url`` into the open binary file ``out``; return (bytes written, sha256)."""
    digest = hashlib.sha256()
    written = announced = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = int(response.headers.get("Content-Length") or 0)
            with tqdm(total=announced or expected_size, unit="B", unit_scale=True,
                      unit_divisor=1024, desc=Path(url).name, disable=not progress) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise DownloadError(
            f"Could not download {url}: the server answered HTTP {err.code} {err.reason}. {advice}"
        ) from err
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout} s"
        raise DownloadError(
            f"Could not download {url} ({reason}). Is this machine offline? {advice}"
        ) from err
    if written < announced:  # http.client returns b"" rather than raise when a connection drops
        raise DownloadError(
            f"Could not download {url}: the connection closed after {written:,} of "
            f"{announced:,} bytes. Try again. {advice}"
        )
    return written, digest.hexdigest()
