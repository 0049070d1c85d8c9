"""Cleaning files larger than memory, one document at a time (week 1, "Text as data").

A web-scale corpus does not fit in memory, and it does not need to: ``read_documents`` yields
one document at a time from a file (a line, or a paragraph separated by blank lines), and
``clean_file`` passes them through ``clean_documents`` and writes the kept ones out as they come.
Memory stays that of one document plus the deduplication digests, whatever the file's size.

Example:
    >>> report = clean_file("raw.txt", "clean.txt", unit="paragraph")  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    kept 9,412 of 10,000 documents (94.1%), ...
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from llm_keras.data.cleaning import CleaningReport, clean_documents
from llm_keras.files import atomic_output

UNITS = ("line", "paragraph")
_SEPARATORS = {"line": "\n", "paragraph": "\n\n"}  # what ends a document in a file of each unit


def read_documents(
    path: str | os.PathLike,
    unit: str = "line",
    *,
    encoding_errors: str = "strict",
    progress: bool = False,
) -> Iterator[str]:
    """Iterate over the documents of a UTF-8 text file lazily.

    Line ends are read as ``"\\n"`` whatever they are in the file (``"\\r\\n"``, ``"\\r"``).

    Args:
        path: the file.
        unit: ``"line"``: each line is a document (without its line end);
            ``"paragraph"``: lines up to a blank line (empty or whitespace only) are one
            document, joined with ``"\\n"``; blank lines themselves are not documents.
        encoding_errors: ``"strict"`` fails on bytes that are not UTF-8; ``"replace"`` turns
            them into U+FFFD (any ``errors`` value of ``open``).
        progress: show a tqdm progress bar, in bytes of the file.

    Returns:
        An iterator over the documents; the file is opened when iteration starts and closed
        when it ends.

    Raises:
        FileNotFoundError: ``path`` is not a file (raised at once).
        ValueError: ``unit`` or ``encoding_errors`` is not known (at once); the file is not
            UTF-8 (while iterating, naming the file).

    Example:
        >>> for paragraph in read_documents("raw.txt", "paragraph"):  # doctest: +SKIP
        ...     print(len(paragraph))
    """
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r} is not one of {UNITS}.")
    try:
        codecs.lookup_error(encoding_errors)
    except LookupError:
        raise ValueError(
            f"encoding_errors={encoding_errors!r} is not an error handler of open(): use "
            f"'strict' (the default) or 'replace'."
        ) from None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file: pass the path of a UTF-8 text file.")
    lines = _read_lines(path, encoding_errors, progress)
    return lines if unit == "line" else _paragraphs(lines)


def clean_file(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    unit: str = "line",
    encoding_errors: str = "strict",
    progress: bool = True,
    **options,
) -> CleaningReport:
    """Clean a text file into another, streaming: see ``clean_documents`` for the cleaning.

    The output holds the kept documents in order, each ended by its unit's separator (a line
    end for lines, a blank line between paragraphs), so reading it back with the same ``unit``
    gives exactly the kept documents. It is written to a temporary file and renamed at the end
    (``out_path`` may be ``in_path``): an interrupted run never leaves a partial output.

    Args:
        in_path: the raw UTF-8 text file.
        out_path: the cleaned file to write (replaced if it exists).
        unit: ``"line"`` or ``"paragraph"``; see ``read_documents``.
        encoding_errors: how to read bytes that are not UTF-8; see ``read_documents``.
        progress: show a tqdm progress bar, in bytes of ``in_path``.
        **options: the options of ``clean_documents``: ``unicode_form``,
            ``min_nonspace_chars``, ``min_chars``, ``max_chars``, ``deduplicate``.

    Returns:
        The ``CleaningReport`` of the pass.

    Raises:
        ValueError: an option is out of range (before anything is read or written).
        FileNotFoundError: ``in_path`` is not a file.

    Example:
        >>> print(clean_file("raw.txt", "clean.txt", max_chars=10_000))  # doctest: +SKIP
    """
    report = CleaningReport()
    documents = read_documents(in_path, unit, encoding_errors=encoding_errors, progress=progress)
    kept = clean_documents(documents, report=report, **options)
    with atomic_output(out_path, "w", encoding="utf-8", newline="\n") as out:
        _write_documents(kept, out, _SEPARATORS[unit])
    return report


def _write_documents(documents: Iterable[str], out, separator: str) -> None:
    # The separator goes between documents, and the file ends with one line end.
    first = True
    for document in documents:
        out.write(document if first else separator + document)
        first = False
    if not first:
        out.write("\n")


def _read_lines(path: Path, encoding_errors: str, progress: bool) -> Iterator[str]:
    """The file's lines without their line ends; progress counted in bytes read."""
    with (
        open(path, encoding="utf-8", errors=encoding_errors) as f,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
             desc=path.name, disable=not progress) as bar,
    ):
        try:
            for count, line in enumerate(f, 1):
                if progress and count % 1024 == 0:  # tell() is a system call: not on every line
                    bar.update(f.buffer.tell() - bar.n)  # bytes decoded so far, in 8 KiB chunks
                yield line.removesuffix("\n")
            bar.update(f.buffer.tell() - bar.n)
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{path} is not valid UTF-8 ({err.reason} a little before byte "
                f"{f.buffer.tell():,}): convert it to UTF-8, or pass encoding_errors='replace' "
                f"to read undecodable bytes as U+FFFD."
            ) from err


def _paragraphs(lines: Iterable[str]) -> Iterator[str]:
    """Group lines into paragraphs separated by blank lines."""
    paragraph: list[str] = []
    for line in lines:
        if line.strip():
            paragraph.append(line)
        elif paragraph:
            yield "\n".join(paragraph)
            paragraph = []
    if paragraph:
        yield "\n".join(paragraph)
