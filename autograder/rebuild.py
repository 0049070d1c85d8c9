"""Stage 1: rebuild a submission from the learner's answer cells and the release notebook.

Nothing of the submitted notebook is used but the *source* of its answer cells, found by nbgrader
``grade_id`` (the last one wins when a cell was duplicated or split). Test cells, setup cells,
metadata, outputs, kernelspec and any added cell come from the release notebook or are dropped,
so no edit of the notebook can change what is graded or stop the batch. Each oddity becomes a
message in the submission's record.

A submission's files are read without following links (``read_submitted``): only a regular file
that sits in the submission folder itself is read, so a notebook that is a symbolic (or hard) link
to ``solutions/`` or anywhere else is refused, as is a folder that is a link.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import json
import os
import stat
from pathlib import Path

from autograder.assignment import Template

MAX_NOTEBOOK_BYTES = 20 << 20
LINKS_REFUSED = "links are not accepted: submit the file itself"


class RefusedFile(ValueError):
    """A submitted file the grader will not read (a link, not a regular file, too large)."""


def list_submitted(folder: Path) -> list[str]:
    """The names in a submission folder (never following it if it is a link), sorted."""
    try:
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(folder):
            raise RefusedFile(f"the submission folder {Path(folder).name} is a symbolic link: "
                              f"{LINKS_REFUSED}") from None
        raise
    try:
        return sorted(os.listdir(directory))
    finally:
        os.close(directory)


def read_submitted(folder: Path, name: str, limit: int) -> bytes:
    """The bytes of ``folder/name``, only if it is a regular file in ``folder`` itself.

    Raises ``FileNotFoundError`` when it does not exist, ``RefusedFile`` (with a message for the
    record) when it is a symbolic or hard link, a folder, a device or pipe, or over ``limit`` bytes.
    """
    if not name or "/" in name or name in (".", ".."):
        raise RefusedFile(f"{name!r} is not a file name")
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        before = os.stat(name, dir_fd=directory, follow_symlinks=False)
        _check_regular(name, before, limit)
        descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY,
                             dir_fd=directory)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise RefusedFile(f"{name} is a symbolic link: {LINKS_REFUSED}") from None
        raise
    finally:
        os.close(directory)
    with os.fdopen(descriptor, "rb") as file:
        after = os.fstat(descriptor)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise RefusedFile(f"{name} changed while it was being read")
        _check_regular(name, after, limit)
        data = file.read(limit + 1)
    if len(data) > limit:
        raise RefusedFile(f"{name} is larger than {_megabytes(limit)}")
    return data


def _check_regular(name: str, info: os.stat_result, limit: int) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise RefusedFile(f"{name} is a symbolic link: {LINKS_REFUSED}")
    if not stat.S_ISREG(info.st_mode):
        raise RefusedFile(f"{name} is not a regular file")
    if info.st_nlink > 1:
        raise RefusedFile(f"{name} is a hard link to another file: {LINKS_REFUSED}")
    if info.st_size > limit:
        raise RefusedFile(f"{name} is larger than {_megabytes(limit)}")


def _megabytes(count: int) -> str:
    return f"{count / (1 << 20):g} MB"


@dataclasses.dataclass
class Rebuilt:
    notebook: str
    status: str = "ok"  # ok | invalid_notebook
    cells: list[dict] = dataclasses.field(default_factory=list)  # code cells to run, in order
    answers: dict[str, str] = dataclasses.field(default_factory=dict)
    messages: list[str] = dataclasses.field(default_factory=list)
    rebuilt: dict | None = None  # the release notebook with the learner's answers, no outputs


def rebuild(template: Template, folder: Path, other_notebooks: set[str] = frozenset()) -> Rebuilt:
    result = Rebuilt(template.name)
    name = _find_notebook(template.name, Path(folder), other_notebooks, result)
    if name is None:
        return result
    submitted = _parse(Path(folder), name, result)
    if submitted is None:
        return result
    result.answers = _answers(submitted, template, result)
    for cell_id in template.answer_ids:
        if cell_id not in result.answers:
            result.messages.append(
                f"Answer cell {cell_id!r} is missing from the notebook (deleted, or its nbgrader "
                "metadata was changed): the exercise's starting code was graded instead.")
    result.cells, result.rebuilt = _splice(template, result.answers)
    return result


def _find_notebook(name: str, folder: Path, others: set[str], result: Rebuilt) -> str | None:
    try:
        names = [entry for entry in list_submitted(folder) if entry.endswith(".ipynb")]
    except (OSError, RefusedFile) as error:
        result.status = "invalid_notebook"
        result.messages.append(f"The submission could not be read: {_reason(error)}.")
        return None
    expected = f"{name}.ipynb"
    if expected in names:
        return expected
    candidates = [entry for entry in names if entry[:-len(".ipynb")] not in others]
    if len(candidates) == 1:
        result.messages.append(f"{name}.ipynb was not found; the only other notebook, "
                               f"{candidates[0]}, was graded in its place.")
        return candidates[0]
    result.status = "invalid_notebook"
    found = ", ".join(candidates) or "no notebook"
    result.messages.append(f"{name}.ipynb is missing from the submission (found: {found}).")
    return None


def _parse(folder: Path, name: str, result: Rebuilt) -> dict | None:
    try:
        notebook = json.loads(read_submitted(folder, name, MAX_NOTEBOOK_BYTES).decode("utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except RefusedFile as error:
        result.status = "invalid_notebook"
        result.messages.append(f"{name} was not read: {error}.")
        return None
    except RecursionError:
        result.status = "invalid_notebook"
        result.messages.append(f"{name} is not a readable notebook: it is nested too deeply.")
        return None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        result.status = "invalid_notebook"
        result.messages.append(f"{name} is not a readable notebook: {_reason(error)}.")
        return None
    return notebook


def _reason(error: Exception) -> str:
    """An error as a sentence for the record (an OSError without the grader's own paths)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error)


def _answers(submitted: dict, template: Template, result: Rebuilt) -> dict[str, str]:
    wanted = set(template.answer_ids)
    answers, seen, added = {}, {}, 0
    for cell in submitted["cells"]:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata")
        meta = meta.get("nbgrader") if isinstance(meta, dict) else None
        cell_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(cell_id, str) or cell_id not in wanted:
            if cell.get("cell_type") == "code" and not isinstance(cell_id, str):
                added += 1
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str):
            source = ""
        if cell.get("cell_type") != "code":
            result.messages.append(f"Answer cell {cell_id!r} was turned into a "
                                   f"{cell.get('cell_type')} cell; its text was run as code.")
        seen[cell_id] = seen.get(cell_id, 0) + 1
        answers[cell_id] = source
    for cell_id, count in seen.items():
        if count > 1:
            result.messages.append(f"{count} cells carry the answer id {cell_id!r} (a copied or "
                                   "split cell): only the last one was graded.")
    if added:
        result.messages.append(f"{added} code cell(s) you added were not run: the grader runs only "
                               "the answer cells, so put all your code inside them.")
    return answers


def _splice(template: Template, answers: dict[str, str]) -> tuple[list[dict], dict]:
    cells = []
    notebook = copy.deepcopy(template.notebook)
    for cell in notebook["cells"]:
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        cell["outputs"], cell["execution_count"] = [], None
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell["source"] = answers[meta["grade_id"]]
        if meta.get("grade") and not meta.get("solution"):
            continue  # visible checks are the learner's self-test; the probes grade
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cells.append({"id": meta.get("grade_id"), "source": source})
    return cells, notebook
