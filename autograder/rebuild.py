"""Stage 1: rebuild a submission from the learner's answer cells and the release notebook.

Nothing of the submitted notebook is used but the *source* of its answer cells, found by nbgrader
``grade_id`` (the last one wins when a cell was duplicated or split). Test cells, setup cells,
metadata, outputs, kernelspec and any added cell come from the release notebook or are dropped,
so no edit of the notebook can change what is graded or stop the batch. Each oddity becomes a
message in the submission's record.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

from autograder.assignment import Template

MAX_NOTEBOOK_BYTES = 20 << 20


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
    path = _find_notebook(template.name, Path(folder), other_notebooks, result)
    if path is None:
        return result
    submitted = _parse(path, result)
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


def _find_notebook(name: str, folder: Path, others: set[str], result: Rebuilt) -> Path | None:
    expected = folder / f"{name}.ipynb"
    if expected.is_file():
        return expected
    candidates = sorted(p for p in folder.glob("*.ipynb") if p.stem not in others)
    if len(candidates) == 1:
        result.messages.append(f"{name}.ipynb was not found; the only other notebook, "
                               f"{candidates[0].name}, was graded in its place.")
        return candidates[0]
    result.status = "invalid_notebook"
    found = ", ".join(p.name for p in candidates) or "no notebook"
    result.messages.append(f"{name}.ipynb is missing from the submission (found: {found}).")
    return None


def _parse(path: Path, result: Rebuilt) -> dict | None:
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"it is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        result.status = "invalid_notebook"
        result.messages.append(f"{path.name} is not a readable notebook: {error}.")
        return None
    return notebook


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
