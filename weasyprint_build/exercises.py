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
(``shown_in_book``): every markdown cell (less the paragraphs below), answer cell and graded
check cell is printed; a code cell that is neither an answer nor a graded check (the environment
report, the imports and the check helpers) is not, and one line says what was left out
(``plumbing_note``). A cell tag overrides the rule: ``book-hide`` leaves any cell out,
``book-show`` prints a plumbing cell.
Inside a printed cell, a line that only calls, with no argument, a function the left-out cells
define (``remind_second_backend()`` at the end of each check cell) is plumbing too: it is given
nothing of the cell, so it checks nothing (``without_plumbing_calls``). So is a ``print`` of text
alone, whose f-string fields name only the set-up's modules (the last check cell of weeks 3, 4,
6 and 7: "All the checks pass on {keras.backend.backend()}. Now run the notebook once on a second
backend ..."): it speaks to the learner at the keyboard, and the notebook's "Before you hand it
in" section, which the book prints, says the same in prose.

A markdown paragraph that opens by telling the learner to run cells the book leaves out, named
by their place among the code cells ("Run the first cell: it says which Keras backend ..."), is
left out with them (``without_run_instructions``): the reader cannot run what is not printed,
and the plumbing note put in the cells' place says what they do, from their code (they set
``KERAS_BACKEND`` and print ``describe_backend()``; the imports, functions and constants they
define). A paragraph that mentions such a cell in passing stays: "Before you hand it in" (run
the whole notebook, change ``KERAS_BACKEND`` in the first cell for a second backend) is printed
in both editions, the student edition being the handout.

The rest of the notebook's text is printed as the learners read it, in both editions: the
instructor edition keeps "replace the lines ``# YOUR CODE HERE`` and ``raise
NotImplementedError()`` of the answer cell with your code", although it prints the solutions
there, because it shows the instructor what the learners were told; its answer cells are labelled
"solution" and the notebook's line says "with its reference solution". Cutting the sentence
would leave the next one ("Then run the check cell below it") without its antecedent, and
rewording it would print a text no learner received.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.wording import series
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
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
# "Run the first cell", "Run the first two code cells", "Run the second cell": the cells named
# by their place among the notebook's code cells, at the start of a paragraph
_RUN_CELLS = re.compile(
    r"\ARun the (?P<place>first|second|third|fourth|fifth)"
    r"(?: (?P<count>two|three|four|five))? (?:code )?cells?\b"
)
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n)")  # kept by split: the text is put back as it was
_SHORT_VALUE = 25  # the plumbing note gives a constant's value when its code is this short


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
    notebook = without_run_instructions(notebook)
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


def without_run_instructions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without the paragraphs of its markdown cells that open by telling the
    learner to run cells the book leaves out, named by their place among the code cells
    ("Run the first cell: it says which Keras backend ...", "Run the first two cells"). A
    paragraph that names a printed cell, or that mentions a left-out cell later on ("change
    ``KERAS_BACKEND`` in the first cell" in "Before you hand it in"), stays. A markdown cell
    left empty is left out."""
    notebook = copy.deepcopy(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    kept = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts = _PARAGRAPH_BREAK.split(cell.source)  # paragraph, break, paragraph, ...
            source = ""
            for i, paragraph in enumerate(parts[::2]):
                if _runs_left_out_cells(paragraph.lstrip(), code):
                    continue
                source += (parts[2 * i - 1] if source else "") + paragraph
            if cell.source.strip() and not source.strip():
                continue
            cell.source = source
        kept.append(cell)
    notebook.cells = kept
    return notebook


def _runs_left_out_cells(paragraph: str, code: list) -> bool:
    """Whether ``paragraph`` opens by telling the learner to run code cells, all of which the
    book leaves out (``code``: the notebook's code cells, in order)."""
    match = _RUN_CELLS.match(paragraph)
    if match is None:
        return False
    start = _ORDINALS[match["place"]]
    count = {word: n for n, word in _NUMBER_WORDS.items()}.get(match["count"], 1)
    named = code[start - 1 : start - 1 + count]
    return len(named) == count and not any(shown_in_book(cell) for cell in named)


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
    """One sentence on the code cells the book leaves out, from their code: how many, their
    lines, and what they do that the printed cells rely on: the environment variables they
    set and what they print (``KERAS_BACKEND`` and ``describe_backend()``, the backend the
    notebook runs on), the modules they import, the functions and classes they define and the
    names they assign, with the value when its code is short (``MAX_HASH = (1 << 32) - 1``,
    which the exercises use). A print of text alone, a message to the learner at the keyboard
    (``_message``), is not named. ``first``: they are the notebook's first code cells, so the
    sentence says that those are the cells not printed, where the notebook's text would tell
    the learner to run them (``without_run_instructions``)."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    if not code:
        return ""
    lines = sum(len(cell.source.splitlines()) for cell in code)
    parsed = []
    for cell in code:
        try:
            parsed.append((cell.source, ast.parse(cell.source)))
        except SyntaxError:
            continue
    modules = {(alias.asname or alias.name).split(".")[0] for _, tree in parsed
               for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names}
    actions, imported, defined, assigned = [], [], [], []
    from_module: dict[str, list[str]] = {}  # module -> the names imported from it
    for source, tree in parsed:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.append(f"`{node.name}`")
            elif isinstance(node, ast.Import):
                imported += [_bound(alias.name, alias.asname) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                names = from_module.setdefault(node.module, [])  # one "(from ...)" a module
                if not names:
                    imported.append(node.module)
                names += [f"`{alias.asname or alias.name}`" for alias in node.names]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if (variable := _environment_variable(target)) is not None:
                        value = _code(source, node.value, 40) or "a value"
                        setting = f"the environment variable `{variable}` to {value}"
                        actions.append(("set", setting))
                    else:
                        assigned += _assigned(source, target, node.value)
            elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                    and not _message(node.value, modules)):
                call = node.value
                if isinstance(call.func, ast.Name) and call.func.id == "print":
                    shown = [_code(source, argument, 40) for argument in call.args]
                    if all(shown):
                        actions.append(("print", ", ".join(shown)))
                        continue
                shown = _code(source, call, 40) or f"`{ast.unparse(call.func)}`"
                actions.append(("call", shown))
    imported = [f"{series(list(dict.fromkeys(from_module[item])))} (from `{item}`)"
                if item in from_module else item for item in dict.fromkeys(imported)]  # fmt: skip
    one = len(code) == 1 or not first  # "it imports" (a cell, or the set-up code); "they import"

    def verb(word: str) -> str:
        return f"{word}s" if one else word

    groups = []
    if actions:
        done = [f"{verb(word)} {what}" for word, what in actions]
        groups.append(series(done))
    if imported:
        groups.append(f"{verb('import')} " + ", ".join(imported))
    if defined:
        groups.append(f"{verb('define')} " + ", ".join(defined))
    if assigned:
        names = [item.strip("`").split(" = ")[0] for item in assigned]
        constants = " the constants" if all(name.isupper() for name in names) else ""
        groups.append(f"{verb('set')}{constants} " + ", ".join(assigned))
    if not groups:
        what_text = verb("prepare") + " the notebook"
    elif len(groups) == 1:
        what_text = groups[0]
    elif len(groups) == 2 and not any(" and " in group for group in groups):
        what_text = " and ".join(groups)
    else:
        what_text = "; ".join(groups[:-1]) + "; and " + groups[-1]
    if first:
        count = "" if len(code) == 1 else f" {_NUMBER_WORDS.get(len(code), len(code))}"
        return (
            f"The notebook's first{count} code cell{'' if one else 's'}, its set-up ({lines} "
            f"lines), {'is' if one else 'are'} not printed here: {'it' if one else 'they'} "
            f"{what_text}."
        )
    cells_word = "cell" if len(code) == 1 else "cells"
    return (
        f"The notebook's set-up code ({len(code)} {cells_word}, {lines} lines) is not printed: "
        f"it {what_text}."
    )


def _environment_variable(target: ast.expr) -> str | None:
    """``KERAS_BACKEND`` for the target ``os.environ["KERAS_BACKEND"]``, else None."""
    if (isinstance(target, ast.Subscript) and ast.unparse(target.value) == "os.environ"
            and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str)):
        return target.slice.value
    return None


def _assigned(source: str, target: ast.expr, value: ast.expr) -> list[str]:
    """How the names an assignment binds read in the note: ```MAX_HASH = (1 << 32) - 1```
    when the value's code is short, the name alone otherwise; a tuple of names given a tuple
    of values (``PROMPT_ROLE, ASSISTANT_ROLE = 0, 1``) name by name."""
    if isinstance(target, ast.Name):
        shown = _code(source, value, _SHORT_VALUE)
        return [f"`{target.id} = {shown.strip('`')}`" if shown else f"`{target.id}`"]
    if isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
        if values is not None and len(values) == len(target.elts):
            return [item for one, each in zip(target.elts, values)
                    for item in _assigned(source, one, each)]
        return [f"`{one.id}`" for one in target.elts if isinstance(one, ast.Name)]
    return []  # an attribute or an item of something: nothing a reader looks up by name


def _code(source: str, node: ast.AST, longest: int) -> str:
    """The code of ``node`` as written, in backticks, when it is one line of at most
    ``longest`` characters; "" otherwise."""
    text = ast.get_source_segment(source, node) or ""
    return f"`{text}`" if text and "\n" not in text and len(text) <= longest else ""


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
