"""The graded exercises a chapter includes, as each edition of the PDF shows them.

A chapter includes an nbgrader source notebook from ``solutions/`` with the ``{exercise}``
directive. The instructor edition shows the source notebook: reference solutions and visible
checks. The student edition shows the notebook as handed out: the same preprocessors that
``nbgrader generate_assignment`` runs (``ClearSolutions``, ``ClearHiddenTests``,
``ClearMarkScheme``, with nbgrader's default settings) replace each
``### BEGIN SOLUTION ... ### END SOLUTION`` region by ``# YOUR CODE HERE`` /
``raise NotImplementedError()`` and remove hidden tests. Outputs are cleared in both editions:
the exercises are shown, not run, in the book (the autograder runs them).

The instructor edition prints the reference code without nbgrader's marker lines
(``### BEGIN SOLUTION``, ``### END HIDDEN TESTS``...): they are instructions to nbgrader, not
code. Both editions print what a learner needs and leave out the notebook's plumbing
(``shown_in_book``): every markdown cell, answer cell and graded check cell is printed; a code
cell that is neither an answer nor a graded check (the environment report, the imports and the
check helpers) is not, and one line says what was left out (``plumbing_note``). A cell tag
overrides the rule: ``book-hide`` leaves any cell out, ``book-show`` prints a plumbing cell.
Inside a printed cell, a line that only calls, with no argument, a function the left-out cells
define (``remind_second_backend()`` at the end of each check cell) is plumbing too: it is given
nothing of the cell, so it checks nothing (``without_plumbing_calls``). So is a ``print`` of text
alone, whose f-string fields name only the set-up's modules (the last check cell of weeks 3, 4,
6 and 7: "All the checks pass on {keras.backend.backend()}. Now run the notebook once on a second
backend ..."): it speaks to the learner at the keyboard, and the notebook's "Before you hand it
in" section, which the book prints, says the same in prose.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from weasyprint_build.errors import BuildError

EDITIONS = ("student", "instructor")
_TITLE = re.compile(r"^# +(.+?)\s*$", re.M)
# nbgrader's marker lines (its defaults: ClearSolutions' begin/end solution delimiters,
# ClearHiddenTests', ClearMarkScheme's), which the instructor edition does not print.
_MARKER = re.compile(
    r"^[ \t]*(?:#+|<!--)?[ \t]*### (?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS|MARK SCHEME)"
    r"[ \t]*(?:-->)?[ \t]*\n?",
    re.M,
)
HIDE_TAG, SHOW_TAG = "book-hide", "book-show"
_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass
class Exercise:
    """An exercise notebook prepared for one edition."""

    path: Path
    title: str  # the notebook's level-1 heading (removed from its cells)
    notebook: nbformat.NotebookNode


def load_exercise(solutions_dir: Path, relative: str, edition: str, where: str) -> Exercise:
    """Read ``solutions_dir/relative`` and prepare it for ``edition``."""
    path = (solutions_dir / relative).resolve()
    if not relative or not path.is_file():
        found = (
            sorted(
                p.relative_to(solutions_dir).as_posix()
                for p in solutions_dir.rglob("*.ipynb")
                if ".ipynb_checkpoints" not in p.parts
            )
            if solutions_dir.is_dir()
            else []
        )
        raise BuildError(
            f"{where}: {{exercise}} {relative!r}: no such notebook in {solutions_dir}. "
            f"Give the path relative to solutions/, e.g. week1/01-char-tokenizer.ipynb. "
            f"Notebooks there: {', '.join(found) or 'none'}."
        )
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:
        raise BuildError(f"{where}: cannot read the notebook {path}: {error}") from None
    if edition == "student":
        notebook = student_version(notebook, path)
    else:
        notebook = instructor_version(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook = without_plumbing_calls(notebook)
    title = _take_title(notebook)
    if title is None:
        raise BuildError(
            f"{path}: an exercise notebook starts with a markdown cell holding its "
            "title as a level-1 heading (# Title)."
        )
    return Exercise(path=path, title=title, notebook=notebook)


def student_version(notebook: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """The notebook as nbgrader hands it out (solutions and hidden tests removed)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    notebook = copy.deepcopy(notebook)
    resources: dict = {}
    try:
        for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearMarkScheme()):
            notebook, resources = preprocessor.preprocess(notebook, resources)
    except Exception as error:  # nbgrader raises RuntimeError for unbalanced markers
        raise BuildError(
            f"{path}: nbgrader cannot make the student version: {error}. Check the "
            "### BEGIN SOLUTION / ### END SOLUTION markers and the cells' nbgrader "
            "metadata (nbgrader validate)."
        ) from None
    return notebook


def instructor_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The source notebook with nbgrader's marker lines taken out of every cell."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        cell.source = _MARKER.sub("", cell.source)
    return notebook


def shown_in_book(cell) -> bool:
    """Whether the book prints this cell of an exercise notebook (see the module's docstring)."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    if HIDE_TAG in tags:
        return False
    if SHOW_TAG in tags or cell.cell_type == "markdown":
        return True
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("solution") or meta.get("grade"))


def without_plumbing_calls(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with the plumbing calls taken out of the cells the book prints: a statement
    of its own lines that calls, with no argument, a function defined by a cell the book leaves
    out, or that prints a message (``_message``). A call given anything of the exercise
    (``check_close("...", f(1), 2.0)``, ``print(f"{f(1)}")``) is a check and stays."""
    notebook = copy.deepcopy(notebook)
    plumbing, modules = set(), set()
    for cell in notebook.cells:
        if cell.cell_type == "code" and not shown_in_book(cell):
            for node in _statements(cell.source):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    plumbing.add(node.name)
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for cell in notebook.cells:
        if cell.cell_type != "code" or not shown_in_book(cell):
            continue
        lines = cell.source.splitlines(keepends=True)
        drop = set()
        for node in _statements(cell.source):
            call = node.value if isinstance(node, ast.Expr) else None
            if not isinstance(call, ast.Call) or not _own_lines(lines, node):
                continue
            if (isinstance(call.func, ast.Name) and call.func.id in plumbing
                    and not call.args and not call.keywords) or _message(call, modules):
                drop.update(range(node.lineno - 1, node.end_lineno))
        if drop:
            kept = "".join(line for i, line in enumerate(lines) if i not in drop)
            cell.source = kept.rstrip()
    return notebook


def _message(call: ast.Call, modules: set[str]) -> bool:
    """Whether ``call`` prints text alone: ``print`` of strings and f-strings whose fields name
    nothing but the set-up's modules (``f"All the checks pass on {keras.backend.backend()}.
    Now run the notebook once on a second backend ..."``). It checks nothing of the exercise:
    it speaks to the learner running the notebook, whose "Before you hand it in" section the
    book prints."""
    if not (isinstance(call.func, ast.Name) and call.func.id == "print" and call.args):
        return False
    if any(keyword.arg not in ("sep", "end") for keyword in call.keywords):
        return False  # print(..., file=...) writes somewhere
    for argument in call.args:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            continue
        if not isinstance(argument, ast.JoinedStr):
            return False
        names = {node.id for node in ast.walk(argument) if isinstance(node, ast.Name)}
        if not names <= modules:
            return False
    return True


def _statements(source: str) -> list[ast.stmt]:
    """The top-level statements of a code cell (none when it is not plain Python)."""
    try:
        return ast.parse(source).body
    except SyntaxError:  # IPython magics
        return []


def _own_lines(lines: list[str], node: ast.stmt) -> bool:
    """Whether ``node`` fills its lines alone (nothing before it, a comment at most after)."""
    before = lines[node.lineno - 1].encode()[: node.col_offset]  # offsets count UTF-8 bytes
    after = lines[node.end_lineno - 1].encode()[node.end_col_offset :].decode()
    return not before.strip() and (not after.strip() or after.strip().startswith("#"))


def plumbing_note(cells, first: bool = False) -> str:
    """One sentence on the code cells the book leaves out: how many, their lines, the
    functions and classes they define and the modules they import (from the code itself).
    ``first``: they are the notebook's first code cells, which its text tells the learner to
    run ("Run the first cell"), so the sentence says that those are the cells not printed."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    if not code:
        return ""
    lines = sum(len(cell.source.splitlines()) for cell in code)
    defined, imported = [], []
    for cell in code:
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.append(node.name)
            elif isinstance(node, ast.Import):
                imported += [_bound(alias.name, alias.asname) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                imported += [f"`{alias.asname or alias.name}` (from `{node.module}`)"
                             for alias in node.names]
    imported = list(dict.fromkeys(imported))
    what = []
    if imported:
        what.append("imports " + ", ".join(imported))
    if defined:
        what.append("defines " + ", ".join(f"`{name}`" for name in defined))
    what_text = " and ".join(what) or "prepares the notebook"
    if first:
        one = len(code) == 1
        count = "" if one else f" {_NUMBER_WORDS.get(len(code), len(code))}"
        verbs = what_text if one else re.sub(r"\b(import|define|prepare)s\b", r"\1", what_text)
        return (
            f"The notebook's first{count} code cell{'' if one else 's'}, its set-up ({lines} "
            f"lines), {'is' if one else 'are'} not printed here: {'it' if one else 'they'} "
            f"{verbs}."
        )
    cells_word = "cell" if len(code) == 1 else "cells"
    return (
        f"The notebook's set-up code ({len(code)} {cells_word}, {lines} lines) is not printed: "
        f"it {what_text}."
    )


def _bound(module: str, name: str | None) -> str:
    """How an import reads in the note: `keras`, `np` (numpy)."""
    return f"`{module}`" if name is None or name == module else f"`{name}` (`{module}`)"


def cell_role(cell) -> tuple[str, str]:
    """(css class, label) of an exercise cell: an answer cell, a graded check, or plain."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution"):
        return "answer", "answer cell"
    if meta.get("grade"):
        points = meta.get("points")
        plural = "" if points == 1 else "s"
        return "check", f"check, {points:g} point{plural}" if points is not None else "check"
    return "", ""


def _take_title(notebook) -> str | None:
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        match = _TITLE.search(cell.source)
        if match is None:
            return None
        cell.source = (cell.source[: match.start()] + cell.source[match.end() :]).strip("\n")
        return match.group(1)
    return None
