"""The course's chapters: which files they are, in which order, and what their front matter says.

A chapter is a MyST Markdown notebook ``course/NN-slug.md`` (the format is described in
``course/README.md``). The chapters are the files of ``course/`` whose names match ``NN-slug.md``,
taken in sorted order, so adding a chapter needs no change to the build. jupytext reads each one
into a notebook: markdown cells for the text, code cells for ``{code-cell}`` blocks.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

from weasyprint_build.errors import BuildError

CHAPTER_NAME = re.compile(r"^\d{2}-[a-z0-9][a-z0-9-]*\.md$")
_TITLE = re.compile(r"^# +(.+?)\s*$", re.M)
_MODULE_NAME = re.compile(r"^llm_keras(\.[a-z_][a-z0-9_]*)*$")


@dataclass(frozen=True)
class ReferenceModule:
    """An ``llm_keras`` module that holds a chapter's reference code."""

    name: str  # llm_keras.tokenizers.byte_level_bpe_tokenizer
    path: str  # llm_keras/tokenizers/byte_level_bpe_tokenizer.py (relative to the repository)
    summary: str  # the first paragraph of its docstring, on one line, its quotes curled


@dataclass
class Chapter:
    """One chapter file, read but not yet executed."""

    path: Path
    number: int  # 1, 2, ... in the order of the file names
    title: str
    notebook: nbformat.NotebookNode
    modules: list[ReferenceModule] = field(default_factory=list)

    @functools.cached_property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def line_of(self, text: str, after_line: int = 1) -> int | None:
        """The 1-based line where ``text`` (its first line) first occurs in the file, from
        ``after_line`` on (for error messages); None when it does not occur."""
        if not text.strip():
            return None
        source = self.source
        start = 0
        for _ in range(after_line - 1):
            start = source.find("\n", start) + 1
        index = source.find(text.strip().splitlines()[0], start)
        return source.count("\n", 0, index) + 1 if index >= 0 else None

    @functools.cached_property
    def cell_lines(self) -> list[int | None]:
        """The line where each cell of ``notebook`` starts in the file (None: an empty cell).

        Each cell is looked for after the one before it, so two cells that start alike (two
        ``import`` lines) get their own lines.
        """
        lines: list[int | None] = []
        line = 1
        for cell in self.notebook.cells:
            found = self.line_of(cell.source, after_line=line) if cell.source.strip() else None
            lines.append(found)
            line = found or line
        return lines

    def where(self, line: int | None = None) -> str:
        """``course/01-x.md`` or ``course/01-x.md, line 12``, for error messages."""
        name = f"{self.path.parent.name}/{self.path.name}"
        return f"{name}, line {line}" if line else name


def find_chapter_files(course_dir: Path) -> list[Path]:
    """The chapter files of ``course_dir`` in order; other files (README.md) are not chapters."""
    if not course_dir.is_dir():
        raise BuildError(
            f"No course folder at {course_dir}: run the build from the root of the llm-keras "
            "checkout, or pass the folder with --course."
        )
    files = sorted(p for p in course_dir.iterdir() if CHAPTER_NAME.match(p.name))
    if not files:
        raise BuildError(
            f"{course_dir} holds no chapter: chapters are files named like 00-introduction.md "
            "(two digits, a dash, lower-case words joined by dashes, .md)."
        )
    return files


def read_chapter(path: Path, number: int) -> Chapter:
    """Read one chapter with jupytext and check its title and front matter."""
    source = path.read_text(encoding="utf-8")  # read once: a build uses this text throughout
    try:
        notebook = jupytext.reads(source, fmt="md:myst")
    except Exception as error:
        raise BuildError(f"{path}: jupytext cannot read it as MyST Markdown: {error}") from None
    first_text = next((c.source for c in notebook.cells if c.cell_type == "markdown"), "")
    titles = [
        m.group(1)
        for c in notebook.cells
        if c.cell_type == "markdown"
        for m in _TITLE.finditer(_without_fences(c.source))
    ]
    if not titles or not _TITLE.search(first_text):
        raise BuildError(
            f"{path.name}: a chapter starts with its title as a level-1 heading (`# Title`) "
            "before any code cell."
        )
    if len(titles) > 1:
        raise BuildError(
            f"{path.name}: a chapter has one level-1 heading (its title), found {len(titles)}: "
            f"{titles}. Use ## for sections and ### for subsections."
        )
    modules = notebook.metadata.get("llm_keras_modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise BuildError(
            f"{path.name}: llm_keras_modules in the front matter must be a list of module names, "
            f"like [llm_keras.tokenizers.char_tokenizer]; got {modules!r}."
        )
    chapter = Chapter(
        path=path,
        number=number,
        title=titles[0],
        notebook=notebook,
        modules=[reference_module(name, path.name) for name in modules],
    )
    # The text the notebook came from, so that the cache key is that of the code that ran even
    # when an author saves the file while the build runs (execute.cache_key).
    chapter.__dict__["source"] = source
    return chapter


def reference_module(name: str, chapter_name: str) -> ReferenceModule:
    """Find an ``llm_keras`` module's file and docstring without importing it."""
    if not _MODULE_NAME.match(name):
        raise BuildError(
            f"{chapter_name}: {name!r} in llm_keras_modules is not an llm_keras module name "
            "(write it as it is imported, e.g. llm_keras.tokenizers.char_tokenizer)."
        )
    package = _llm_keras_folder()
    base = package.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            tree = ast.parse(candidate.read_text(encoding="utf-8"))
            docstring = ast.get_docstring(tree) or ""
            summary = curly_quotes(" ".join(docstring.strip().split("\n\n")[0].split()))
            path = candidate.relative_to(package.parent).as_posix()
            return ReferenceModule(name, path, summary)
    relative = base.relative_to(package.parent)
    raise BuildError(
        f"{chapter_name}: the module {name} named in llm_keras_modules does not exist "
        f"(no {relative}.py and no {relative}/__init__.py in {package.parent})."
    )


# A quote opens after the start, a space or an opening bracket; any other one closes (or is an
# apostrophe), as markdown-it's smartquotes curls the chapters' prose. Right after code it closes
# too: ``np.std``'s.
_OPENING = re.compile(r"""(^|[\s(\[{])(["'])""")
_CURLED = {'"': ("\u201c", "\u201d"), "'": ("\u2018", "\u2019")}
DOUBLE_BACKQUOTED = r"``.+?``"


def curly_quotes(text: str, code: str = DOUBLE_BACKQUOTED) -> str:
    """A docstring's text with the prose's curly quotes: ``"Text as data"`` -> \u201cText as
    data\u201d, ``course's`` -> course\u2019s; code (what the pattern ``code`` matches: text
    between double backquotes) is left as it is, and a quote right after it is an apostrophe
    (``np.std``'s -> ``np.std``\u2019s)."""
    parts = re.split(f"({code})", text)  # odd items: the code

    def curled(prose: str, after_code: bool) -> str:
        prose = _OPENING.sub(lambda m: m[0] if after_code and m.start() == 0 and not m[1]
                             else m[1] + _CURLED[m[2]][0], prose)
        return prose.replace('"', _CURLED['"'][1]).replace("'", _CURLED["'"][1])

    return "".join(part if i % 2 else curled(part, i > 0) for i, part in enumerate(parts))


def _llm_keras_folder() -> Path:
    """The folder of the installed llm_keras package (found without importing it)."""
    spec = importlib.util.find_spec("llm_keras")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("llm_keras is not installed in this environment: run scripts/install.")
    return Path(next(iter(spec.submodule_search_locations)))


def _without_fences(markdown: str) -> str:
    """The markdown with fenced blocks removed, so that '# comment' lines in code are not titles."""
    return re.sub(r"^(```|~~~|:::).*?^\1[ \t]*$", "", markdown, flags=re.M | re.S)
