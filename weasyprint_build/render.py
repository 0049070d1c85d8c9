"""One chapter (an executed notebook) -> HTML, its headings, figures, tables, equations numbered.

``ChapterContext`` holds what depends on the place in the book: the chapter's number and its
counters, the book's labels (``references``), the values its code glued, the edition (for the
exercises). The markdown rules (``markdown.py``) call it; code cells are rendered here.

Numbering: sections ``2.3``, subsections ``2.3.1``, figures, tables and labelled equations
``2.1, 2.2, ...`` per chapter. An included exercise is a numbered section of its chapter.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it.common.utils import escapeHtml

from weasyprint_build.bibliography import Bibliography
from weasyprint_build.chapters import Chapter, find_chapter_files
from weasyprint_build.errors import BuildError
from weasyprint_build.exercises import cell_role, load_exercise, plumbing_note, shown_in_book
from weasyprint_build.floats import LEAD_IN_CLASS, element_end
from weasyprint_build.highlight import MAX_COLUMNS, highlight, inline_code, long_lines
from weasyprint_build.index import Index
from weasyprint_build.list_of_figures import Captioned
from weasyprint_build.markdown import Renderer
from weasyprint_build.math_svg import MathRenderer
from weasyprint_build.outputs import rich_html, sort_outputs, text_block
from weasyprint_build.references import References, Target
from weasyprint_build.teaching_notes import notes_anchor, render_notes, week_notes

# The text block is 168 mm wide, 45 em of the 10.5 pt body text; a numbered equation keeps
# 12 mm (3 em) free on each side for its number (style/book.css).
TEXT_WIDTH_EM = 45
EQUATION_NUMBER_EM = 6
_EM_WIDTH = re.compile(r'<svg [^>]*style="width:([\d.]+)em')
# The section of the introduction whose instructor-only part explains the teaching notes.
NOTES_EXPLAINED = "sec-autograder"
KNOWN_TAGS = {"remove-cell", "remove-input", "remove-output", "remove-stderr", "raises-exception"}


@dataclass
class TocEntry:
    level: int  # 1 chapter, 2 section or exercise, 3 an exercise's teaching notes
    anchor: str
    number: str
    title: str


@dataclass
class Book:
    """What every chapter of one edition shares while it is rendered."""

    edition: str
    math: MathRenderer
    solutions_dir: Path
    markdown: Renderer = field(default_factory=lambda: prose_renderer())
    references: References = field(default_factory=References)
    toc: list[TocEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exercises: list[Path] = field(default_factory=list)
    repo_root: Path | None = None  # for the instructor's teaching notes (default: solutions' parent)
    bibliography: Bibliography = field(default_factory=lambda: Bibliography({}, "references.yaml"))
    index: Index = field(default_factory=Index)
    captioned: list[Captioned] = field(default_factory=list)  # for the list of figures

    def render_chapter(self, chapter: Chapter, notebook) -> str:
        """The chapter's ``<section class="chapter">``; links stay placeholders until resolved."""
        ctx = ChapterContext(self, chapter, notebook)
        parts = [f'<section class="chapter" id="chapter-{chapter.number}">']
        for cell, line in zip(notebook.cells, chapter.cell_lines, strict=True):
            ctx.cell_line = line
            if cell.cell_type == "markdown":
                parts.append(self.markdown.render(cell.source, ctx))
            elif cell.cell_type == "code":
                parts.append(ctx.code_cell(cell))
        parts.append("</section>")
        return keep_label_columns(
            keep_heading_words(keep_last_word_whole(mark_lead_ins("\n".join(parts))))
        )


class ChapterContext:
    """The state of one chapter while it is rendered (see the module's docstring)."""

    def __init__(self, book: Book, chapter: Chapter, notebook) -> None:
        self.book = book
        self.chapter = chapter
        self.math = book.math
        self.references = book.references
        self.number = chapter.number
        self.section = self.subsection = self.figures = self.tables = self.equations = 0
        self.listings = 0
        self.cell_line: int | None = None
        self.code_cells = 0  # for the cells' ids
        self.in_exercise = False
        self.glued: dict[str, dict] = {}
        for cell in notebook.cells:  # glued values first: the text may use them before the cell
            if cell.cell_type == "code":
                sort_outputs(cell.get("outputs", []), self.glued)

    # --- places, for error messages --------------------------------------------------------
    def where(self, token=None, snippet: str | None = None) -> str:
        """``course/NN-x.md, line N`` of a block token, or of ``snippet`` (the source text of an
        inline token, which has no line of its own) within the current cell."""
        if self.cell_line is None:
            return self.chapter.where()
        line = self.cell_line
        if token is not None and token.map:
            line += token.map[0]
        elif snippet:
            line = self.chapter.line_of(snippet, after_line=self.cell_line) or line
        return self.chapter.where(line)

    # --- headings ---------------------------------------------------------------------------
    def heading_open(self, level: int, text: str, label: str | None, token) -> str:
        if self.in_exercise:  # a notebook's own headings: unnumbered, below the exercise's
            return f'<h{min(level + 2, 6)} class="exercise-heading">'
        if level == 1:
            anchor = label or f"chapter-{self.number}-title"
            self._define(anchor, "chapter", str(self.number), text)
            self.book.toc.append(TocEntry(1, anchor, str(self.number), text))
            number = f'<span class="number">{self.number}</span> '
            return f'<h1 id="{anchor}" class="chapter-title">{number}'
        if level == 2:
            self.section += 1
            self.subsection = 0
            number = f"{self.number}.{self.section}"
            anchor = label or f"section-{number}"
            self._define(anchor, "section", number, text)
            self.book.toc.append(TocEntry(2, anchor, number, text))
            return f'<h2 id="{anchor}"><span class="number">{number}</span> '
        if level == 3:
            self.subsection += 1
            number = f"{self.number}.{self.section}.{self.subsection}"
            anchor = label or f"section-{number}"
            self._define(anchor, "section", number, text)
            return f'<h3 id="{anchor}"><span class="number">{number}</span> '
        if label:
            raise BuildError(
                f"{self.where(token)}: only chapters (#), sections (##) and "
                f"subsections (###) are numbered and can be labelled; ({label})= "
                f"stands before a level-{level} heading."
            )
        return f"<h{level}>"

    def heading_close(self, level: int) -> str:
        if self.in_exercise:
            return f"</h{min(level + 2, 6)}>"
        if level == 1:
            return "</h1>" + self._modules_box()
        return f"</h{level}>"

    def _modules_box(self) -> str:
        if not self.chapter.modules:
            return ""
        items = "".join(
            f'<li><code>{m.name}</code> <span class="module-path">({m.path})</span>'
            f"{': ' + _inline_code(self._week_as_chapter(m.summary)) if m.summary else ''}</li>"
            for m in self.chapter.modules
        )
        return (
            '<aside class="reference-code"><p class="admonition-title">'
            f"Reference code in llm_keras</p><ul>{items}</ul></aside>"
        )

    def _week_as_chapter(self, summary: str) -> str:
        """A docstring's "(week 1, ..." as "(Chapter 2, week 1, ...": the book numbers
        chapters, the library's docstrings name weeks (the chapter of week N is the file named
        ``NN-weekN-...``)."""
        chapters = {
            int(match.group(1)): number
            for number, path in enumerate(find_chapter_files(self.chapter.path.parent), 1)
            if (match := re.match(r"\d+-week(\d+)-", path.name))
        }

        def named(match: re.Match) -> str:
            week = int(match.group(1))
            return f"(Chapter {chapters[week]}, week {week}" if week in chapters else match[0]

        return re.sub(r"\(week (\d+)(?=[,)])", named, summary)

    # --- numbered things ----------------------------------------------------------------------
    def equation(self, svg: str, label: str, token) -> str:
        width = float(_EM_WIDTH.search(svg).group(1))
        room = TEXT_WIDTH_EM - (EQUATION_NUMBER_EM if label else 0)
        if width > room:
            self.book.warnings.append(
                f"{self.where(token)}: this equation is {width:.0f} em wide and the page has room "
                f"for {room:.0f}, so it is shrunk to fit; split it over lines with aligned."
            )
        if not label:
            return f'<div class="equation">{svg}</div>'
        self.equations += 1
        number = f"{self.number}.{self.equations}"
        self._define(label, "equation", number, f"({number})")
        return (
            f'<div class="equation numbered" id="{label}">{svg}'
            f'<span class="equation-number">({number})</span></div>'
        )

    def table(self, caption: str, options: dict, table_html: str, token) -> str:
        return self._captioned("table", caption, options.get("name"), table_html)

    def _captioned(self, kind: str, caption: str, label: str | None, body: str) -> str:
        if kind == "figure":
            self.figures += 1
            number = f"{self.number}.{self.figures}"
        elif kind == "listing":
            self.listings += 1
            number = f"{self.number}.{self.listings}"
        else:
            self.tables += 1
            number = f"{self.number}.{self.tables}"
        anchor = label or f"{kind}-{number}"
        self._define(anchor, kind, number, caption.strip() or f"{kind.capitalize()} {number}")
        caption_html = self.book.markdown.render_inline(caption.strip(), self) if caption else ""
        self.book.captioned.append(Captioned(kind, anchor, number, caption_html))
        figcaption = (
            f'<figcaption><span class="caption-number">{kind.capitalize()} {number}.</span> '
            f"{keep_last_words(caption_html)}</figcaption>"
        )
        if kind in ("table", "listing"):  # tables and listings are captioned above, figures below
            return f'<figure class="numbered-{kind}" id="{anchor}">{figcaption}{body}</figure>'
        return f'<figure class="numbered-figure" id="{anchor}">{body}{figcaption}</figure>'

    def _define(self, label: str, kind: str, number: str, title: str) -> None:
        self.references.define(Target(label, kind, number, title, self.where()))

    # --- glue --------------------------------------------------------------------------------
    def glue_text(self, role: str, content: str, where: str) -> str:
        name, _, spec = content.partition(":") if role == "glue:text" else (content, "", "")
        name = name.strip()
        if name not in self.glued:
            known = ", ".join(sorted(self.glued)) or "none"
            raise BuildError(
                f"{where}: {{{role}}}`{content}`: no value glued as "
                f"{name!r} by this chapter's code (glued: {known}). Call "
                f"glue({name!r}, value) in a code cell."
            )
        text = self.glued[name].get("text/plain", "")
        if not spec:
            return text
        try:
            value = ast.literal_eval(text)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(text)
            return format(value, spec)
        except (ValueError, SyntaxError):
            raise BuildError(
                f"{where}: {{glue:text}}`{content}`: the value {text!r} "
                f"is not a number that the format {spec!r} applies to."
            ) from None

    # --- code ------------------------------------------------------------------------------
    def static_code(self, code: str, language: str, token, options: dict | None = None) -> str:
        self._check_width(code, self.where(token))
        code_html = highlight(code, language, "code static")
        options = options or {}
        if "caption" in options or "name" in options:  # {code-block} :caption: :name:
            caption = str(options.get("caption", ""))
            return self._captioned("listing", caption, options.get("name"), code_html)
        return code_html

    def _check_width(self, code: str, where: str) -> None:
        for line in long_lines(code):
            self.book.warnings.append(
                f"{where}: line {line} of this code is longer than {MAX_COLUMNS} characters "
                "and wraps in the PDF; shorten it."
            )

    def code_cell(self, cell) -> str:
        tags = set(cell.metadata.get("tags", []))
        unknown = {t for t in tags if t.startswith(("remove-", "hide-"))} - KNOWN_TAGS
        if unknown:
            raise BuildError(
                f"{self.where()}: unknown cell tag(s) {sorted(unknown)}; the PDF "
                f"build knows {sorted(KNOWN_TAGS)}."
            )
        if "remove-cell" in tags:
            return ""
        parts = []
        if "remove-input" not in tags:
            self._check_width(cell.source, f"{self.where()} (a code cell)")
            parts.append(highlight(cell.source, "ipython3", "code input"))
        self.code_cells += 1
        cell_id = f"cell-{self.number}-{self.code_cells}"
        if "remove-output" not in tags:
            # a listing of the code a cell prints (remove-input) is code: highlighted as such
            printed_code = "remove-input" in tags and "listing" in cell.metadata.get("mystnb", {})
            outputs = self._outputs(cell, tags, printed_code)
            if outputs and parts:
                # ids: where a cell and its output start on the pages (tests/course/pdf/
                # test_layout.py checks that no page break falls between code and output)
                outputs = f'<div class="outputs" id="{cell_id}-output">{outputs}</div>'
            parts.append(outputs)
        listing = cell.metadata.get("mystnb", {}).get("listing")
        if listing is not None:  # the build's own key, like mystnb.table: the cell's code, or
            listing = listing or {}  # the code it prints (remove-input), captioned above
            caption, name = str(listing.get("caption", "")), listing.get("name")
            parts = [self._captioned("listing", caption, name, "".join(parts))]
            # printed library code runs to 100 columns (ruff), the page holds 92 at the code's
            # size: such a listing is set smaller rather than wrapped at column 0
            text = cell.source + sort_outputs(cell.get("outputs", []), {}).stdout
            if any(len(line) > MAX_COLUMNS for line in text.splitlines()):
                parts[0] = parts[0].replace(
                    'class="numbered-listing"', 'class="numbered-listing wide"', 1
                )
        # A short cell is kept on one page with its output; in a long one, book.css keeps the
        # output with at least the code's last lines.
        keep = " keep" if estimated_height(cell) <= KEEP_HEIGHT_PT else ""
        return f'<div class="cell{keep}" id="{cell_id}">{"".join(parts)}</div>'

    def _outputs(self, cell, tags: set[str], printed_code: bool = False) -> str:
        outputs = sort_outputs(cell.get("outputs", []), {})
        parts = []
        if outputs.stdout and printed_code:
            parts.append(highlight(outputs.stdout, "python", "code printed"))
        elif outputs.stdout:
            parts.append(text_block(outputs.stdout, "output"))
        if outputs.stderr and "remove-stderr" not in tags:
            parts.append(text_block(outputs.stderr, "output stderr"))
        if outputs.error:
            parts.append(text_block(outputs.error, "output error"))
        rich = "".join(
            rich_html(mime, data, lambda md: self.book.markdown.render(md, self))
            for mime, data in outputs.rich
        )
        options = cell.metadata.get("mystnb", {})
        for kind in ("figure", "table"):
            if kind in options:
                spec = options[kind] or {}
                if not rich:
                    raise BuildError(
                        f"{self.where()}: this cell is a {kind} (mystnb.{kind}) but displayed "
                        "nothing: end it with the figure (plt.show()) or display(...) the table."
                    )
                return "".join(parts) + self._captioned(
                    kind, str(spec.get("caption", "")), spec.get("name"), rich
                )
        return "".join(parts) + rich

    # --- exercises ----------------------------------------------------------------------------
    def _notes_reading(self, where: str) -> str:
        """A link to the introduction's section on the autograder, which says once how the
        teaching notes are made and read; empty in a book without that section (the tests'
        books of one chapter). The introduction is rendered first, so its label is known."""
        if NOTES_EXPLAINED not in self.book.references.targets:
            return ""
        return self.book.references.placeholder("numref", NOTES_EXPLAINED, None, where)

    def exercise(self, relative: str, options: dict, token) -> str:
        where = self.where(token)
        exercise = load_exercise(self.book.solutions_dir, relative, self.book.edition, where)
        self.book.exercises.append(exercise.path)
        self.section += 1
        self.subsection = 0
        number = f"{self.number}.{self.section}"
        title = f"Exercise: {exercise.title}"
        anchor = options.get("name") or f"exercise-{number}"
        self._define(anchor, "exercise", number, title)
        self.book.toc.append(TocEntry(2, anchor, number, title))
        folder = "exercises" if self.book.edition == "student" else "solutions"
        parts = [
            f'<section class="exercise edition-{self.book.edition}">',
            f'<h2 id="{anchor}"><span class="number">{number}</span> {html.escape(title)}</h2>',
            f'<p class="exercise-source">Notebook <code>{folder}/{html.escape(relative)}</code>'
            f"{' (with its reference solution)' if folder == 'solutions' else ''}</p>",
        ]
        self.in_exercise, cell_line = True, self.cell_line
        hidden = [cell for cell in exercise.notebook.cells if not shown_in_book(cell)]
        code = [cell for cell in exercise.notebook.cells if cell.cell_type == "code"]
        hidden_code = [cell for cell in hidden if cell.cell_type == "code"]
        first = bool(hidden_code) and code[: len(hidden_code)] == hidden_code  # the set-up
        noted = False
        try:
            for index, cell in enumerate(exercise.notebook.cells, 1):
                if not shown_in_book(cell):  # plumbing: one note where the first one was
                    if not noted and (note := plumbing_note(hidden, first)):
                        note_html = self.book.markdown.render_inline(note, self)
                        parts.append(f'<p class="exercise-plumbing">{note_html}</p>')
                    noted = True
                    continue
                css, label = cell_role(cell)
                if css == "answer" and self.book.edition == "instructor":
                    label = "solution"
                label_html = f'<p class="cell-label">{label}</p>' if label else ""
                if cell.cell_type == "markdown":
                    self.cell_line = None  # errors name the notebook's cell, not a chapter line
                    body = self.book.markdown.render(cell.source, self)
                elif cell.cell_type == "code":
                    self._check_width(cell.source, f"{exercise.path.name}, cell {index}")
                    body = highlight(cell.source, "ipython3", "code input")
                    # a short cell: one page; a check cell's lines are independent checks, so
                    # one of more than ten lines may split rather than leave a third of a page
                    keep_up_to = CHECK_KEEP_HEIGHT_PT if css == "check" else KEEP_HEIGHT_PT
                    if estimated_height(cell) <= keep_up_to:
                        css += " keep"
                else:
                    continue
                # (a code cell's id: floats.py splits a kept one that a page break pushed)
                cell_id = f' id="{anchor}-cell-{index}"' if cell.cell_type == "code" else ""
                parts.append(f'<div class="exercise-cell {css}"{cell_id}>{label_html}{body}</div>')
            if self.book.edition == "instructor":
                repo_root = self.book.repo_root or self.book.solutions_dir.parent
                notes = week_notes(repo_root, Path(relative).parts[0], exercise.notebook)
                if notes is not None:
                    parts.append(render_notes(notes, self._notes_reading(where)))
                    # the contents list each week's notes under its exercise
                    self.book.toc.append(TocEntry(3, notes_anchor(notes.week), "",
                                                  "Teaching notes"))  # fmt: skip
        except BuildError as error:
            raise BuildError(
                f"{exercise.path.name}, cell {index} (from {where}): {error}"
            ) from None
        finally:
            self.in_exercise, self.cell_line = False, cell_line
        parts.append("</section>")
        return "\n".join(parts)  # (in the chapter: render_chapter marks lead-ins and headings)


def _inline_code(text: str) -> str:
    """Escape a docstring's text for HTML, with its ``double-backquoted`` names as code."""
    parts = re.split(r"``(.+?)``", text)  # odd items: the code
    return "".join(inline_code(p) if i % 2 else html.escape(p) for i, p in enumerate(parts))


# A number and its unit stay on one line in prose: "10 %", "5.1 MB", "1.7 s" (the notebooks
# write a space before "%"; book read of 5 December: "down to 10" / "% for 10-grams").
_NUMBER_AND_UNIT = re.compile(
    r"(?<![\w.])(\d[\d,.]*) (?=(?:%|[kMGT]i?B|ms|µs|ns|s|min|pt|mm|TFLOP/s)(?![\w/]))"
)


def no_break_units(text: str) -> str:
    """``text`` with the space between a number and its unit made a no-break space."""
    return _NUMBER_AND_UNIT.sub("\\1\u00a0", text)


# A name with a capital inside it (nanoGPT, PyTorch, TinyShakespeare, RMSNorm) is never
# hyphenated: "nanoG-" / "PT" and "Py-" / "Torch" read as other spellings (book read of 5
# December: 11 such breaks in the student edition).
_CAPITAL_INSIDE = re.compile(r"(?<![\w-])(?=[\w-]*[a-z])[\w-]*\w[A-Z][\w-]*")


def keep_names_whole(text_html: str) -> str:
    """``text_html`` (escaped text, no tags) with each word that has a capital after its first
    letter and a lowercase letter in a ``name`` span, which style/book.css never hyphenates."""
    return _CAPITAL_INSIDE.sub(lambda m: f'<span class="name">{m[0]}</span>', text_html)


# A table whose first column holds short row labels ("position embedding", "generates text")
# keeps each label on one line: WeasyPrint's automatic layout gives the columns widths in
# proportion to their longest cells, so beside long cells the labels wrapped at every word
# (book read of 5 December, Tables 3.3 and 3.4).
LABEL_COLUMN_CHARACTERS = 24
_TABLE = re.compile(r"<table>(.*?)</table>", re.DOTALL)
_FIRST_CELL = re.compile(r"<tr[^>]*>\s*<t[dh][^>]*>(.*?)</t[dh]>", re.DOTALL)


def keep_label_columns(html_text: str) -> str:
    """``html_text`` with each table of three columns or more whose first cells are all at most
    ``LABEL_COLUMN_CHARACTERS`` characters of text marked ``class="label-column"``
    (style/book.css: those cells never wrap)."""

    def mark(match: re.Match) -> str:
        body = match[1]
        first_row = re.search(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
        if first_row is None or len(re.findall(r"<t[dh][\s>]", first_row[1])) < 3:
            return match[0]
        labels = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                  for cell in _FIRST_CELL.findall(body)]  # fmt: skip
        if not labels or max(map(len, labels)) > LABEL_COLUMN_CHARACTERS:
            return match[0]
        return f'<table class="label-column">{body}</table>'

    return _TABLE.sub(mark, html_text)


def prose_renderer() -> Renderer:
    """The markdown renderer of the book, whose prose keeps a number with its unit (code spans,
    code blocks and math are other tokens: ``10 % 3`` in code is left as it is) and names with a
    capital inside them whole."""
    renderer = Renderer()
    renderer.md.add_render_rule(
        "text", lambda self, tokens, i, options, env: keep_names_whole(
            escapeHtml(no_break_units(tokens[i].content)))  # fmt: skip
    )
    return renderer


# A paragraph that ends with a colon introduces what follows it ("... the first merges are:",
# "it prints:"): it never ends a page with its code, output or equation on the next
# (style/book.css: p.lead-in, break-after: avoid; floats.py moves no figure to stand after it).
# Book read of 5 December: nine such sentences ended a page, in both editions.
_LEAD_IN = re.compile(
    r'<p>((?:(?!</?p[\s>]).)*?:)</p>(?=\s*<(?:div class="(?:cell|equation)|pre[\s>]|table[\s>]))',
    re.DOTALL,
)


def mark_lead_ins(html_text: str) -> str:
    """``html_text`` with each ``<p>`` that ends with a colon and is followed by a code cell, a
    code block, an equation or a table without a caption (a notebook's list of weight names:
    it stays where it is) marked ``class="lead-in"``. Not before a figure, a numbered table or a
    listing, nor a cell that draws one: those float (floats.py), and the text names them by
    their number ("Figure 3.4 shows ..."), as a book does."""

    def marked(match: re.Match) -> str:
        start = match.end() + len(html_text[match.end():]) - len(html_text[match.end():].lstrip())
        if html_text.startswith('<div class="cell', start) and "<figure" in html_text[
                start:element_end(html_text, start)]:  # fmt: skip
            return match[0]  # a cell that draws a figure
        return f'<p class="{LEAD_IN_CLASS}">{match[1]}</p>'

    return _LEAD_IN.sub(marked, html_text)


# A caption's last line never holds one word alone: the space before its last word is a
# no-break space (the last space outside a tag; CSS text-wrap: balance is not in WeasyPrint 70).
_LAST_SPACE = re.compile(r"[ \t\n]+(?=[^\s<>]*(?:<[^>]*>[^\s<>]*)*$)")


def keep_last_words(html_text: str) -> str:
    """``html_text`` with the last space outside its tags made a no-break space."""
    return _LAST_SPACE.sub("\u00a0", html_text.rstrip(), count=1)


# The last word of a paragraph or a list item, when it is plain text after a space: "in-" /
# "stalled:" and "cred-" / "it." ended paragraphs (book read of 5 December: 14 in the student
# edition), a fragment alone on the last line, which a typesetter never leaves.
_LAST_WORD = re.compile(r"(?<=[ \n])([^\s<>]+)(?=</(?:p|li)>)")


def keep_last_word_whole(html_text: str) -> str:
    """``html_text`` with the last word of each ``<p>`` and ``<li>`` in a ``last-word`` span,
    which style/book.css never hyphenates. A word in a tag (code, emphasis) is left as it is."""
    return _LAST_WORD.sub(r'<span class="last-word">\1</span>', html_text)


_HEADING = re.compile(r"(<h([1-6])\b[^>]*>)(.*?)(</h\2>)", re.DOTALL)


def keep_heading_words(html_text: str) -> str:
    """``html_text`` with each heading's last two words kept on one line: "2.13 Exercise: Data
    curation: near-duplicates, token shards and a quality" / "rule" (book read of 5
    December) breaks before "quality" instead. They go in a ``nobreak`` span, not joined by a
    no-break space, which the PDF's bookmarks and the contents would print."""

    def kept(match: re.Match) -> str:
        inner = match[3].rstrip()
        last = _LAST_SPACE.search(inner)
        before = _LAST_SPACE.search(inner[: last.start()]) if last else None
        start = before.end() if before else 0
        if last is None or "<" in inner[start:last.start()]:
            return match[0]  # one word, or one after the number, or markup between the words
        return (f'{match[1]}{inner[:start]}<span class="nobreak">{inner[start:]}</span>'
                f"{match[4]}")

    return _HEADING.sub(kept, html_text)


# --- page layout: which cells stay whole (docs/pdf.md, "Layout rules") ------------------------
# Heights are estimated from the sources, in points, for the A4 text block of book.css: 711 pt
# high, 92 characters of code a line.
CODE_LINE_PT, TABLE_ROW_PT = 11.1, 15.0
IMAGE_PT = 220.0  # a figure of the default 6 x 3 inch size, with its caption
KEEP_HEIGHT_PT = 260.0  # a cell up to this high (about 23 lines, a third of a page) stays whole
CHECK_KEEP_HEIGHT_PT = 115.0  # an exercise's check cell stays whole up to 10 lines


def _lines(text: str, columns: int) -> int:
    return sum(max(1, -(-len(line) // columns)) for line in text.splitlines())


def estimated_height(cell) -> float:
    """About how high a code cell is on the page, with its outputs."""
    tags = set(cell.metadata.get("tags", []))
    if "remove-cell" in tags:
        return 0.0
    height = 0.0 if "remove-input" in tags else _lines(cell.source, MAX_COLUMNS) * CODE_LINE_PT
    if "remove-output" in tags:
        return height
    outputs = sort_outputs(cell.get("outputs", []), {})
    shown = [outputs.stdout, outputs.error, "" if "remove-stderr" in tags else outputs.stderr]
    height += sum(_lines(text, MAX_COLUMNS) * CODE_LINE_PT for text in shown if text)
    for mime, data in outputs.rich:
        if mime.startswith("image/"):
            height += IMAGE_PT
        elif mime == "text/html":
            height += (data.count("<tr") + data.count("<p") + 1) * TABLE_ROW_PT
        else:
            height += _lines(data, MAX_COLUMNS) * CODE_LINE_PT
    return height
