"""Syntax highlighting of code with Pygments, as HTML that WeasyPrint lays out quickly.

Styles are written inline (``noclasses``): only tokens the style colours get a ``<span>``, and
spans are what WeasyPrint's line breaking spends its time on (research/pdf.md, section 3).
"""

from __future__ import annotations

import ast
import functools
import html
import re

from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.styles.friendly import FriendlyStyle
from pygments.token import Error, Whitespace
from pygments.util import ClassNotFound


class BookStyle(FriendlyStyle):
    """Pygments' "friendly" colours, without colouring whitespace (fewer spans to lay out)."""

    styles = {**FriendlyStyle.styles, Whitespace: "", Error: ""}


# Code wider than this wraps in the PDF (DejaVu Sans Mono at 8.2 pt in the A4 text block);
# the build lists such lines so that authors can shorten them.
MAX_COLUMNS = 92

_FORMATTER = HtmlFormatter(nowrap=True, noclasses=True, style=BookStyle)
_ALIASES = {
    "ipython3": "ipython3",
    "ipython": "ipython3",
    "python3": "python",
    "py": "python",
    "": "text",
    "console": "bash",
    "shell": "bash",
    "sh": "bash",
}


@functools.cache
def _lexer(language: str):
    name = _ALIASES.get(language, language)
    try:
        return get_lexer_by_name(name, stripnl=False)
    except ClassNotFound:
        return get_lexer_by_name("text")


def highlight(code: str, language: str = "python", css_class: str = "code") -> str:
    """``<pre class="code">`` with the code highlighted (unknown languages come out plain);
    in Python, a statement of several lines is one unit that a page break does not cut
    (``statement_lines``)."""
    code = code.rstrip("\n")
    lexer = _lexer(language.strip().lower())
    if lexer.name == "Text only":
        body = html.escape(code)
    else:
        body = pygments_highlight(code, lexer, _FORMATTER).rstrip("\n")
        if "python" in lexer.name.lower():
            body = _kept_statements(body, statement_lines(code))
    return f'<pre class="{css_class}" data-language="{html.escape(language)}">{body}</pre>'


# A page break inside a code box falls between two statements, never inside one: not after
# "def gelu(z):" with its body on the next page (the book read of 5 December, p. 111), nor
# between the lines of a call. Each group of lines that ``statement_lines`` finds is an
# inline-block in the <pre> (style/book.css: ``pre .statement``), a single line box for
# WeasyPrint, which never splits a line box across pages. A group longer than
# MAX_STATEMENT_LINES may break (a long loop breaks between the statements of its body).
MAX_STATEMENT_LINES = 10
_MAGIC = re.compile(r"(?m)^[ \t]*[%!].*$")  # IPython's magics and shell lines: not Python


def statement_lines(code: str, most: int = MAX_STATEMENT_LINES) -> list[tuple[int, int]]:
    """The groups of lines of ``code`` a page break should not cut: 0-based, first and last
    line, each of 2 to ``most`` lines, in order and disjoint. A statement of several lines is a
    group, with the comment lines right above it; a compound statement (``def``, ``for``,
    ``with``, ...) too long for a group gives its header and first statement as one group, then
    the groups of its body. ``code`` that is not Python gives none."""
    lines = code.split("\n")
    try:
        tree = ast.parse(_MAGIC.sub("", code))
    except (SyntaxError, ValueError):
        return []
    groups: list[tuple[int, int]] = []

    def first_line(node) -> int:  # 0-based, decorators and the comments right above included
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        while first > 0 and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        return first

    def visit(body) -> None:
        for node in body:
            first, last = first_line(node), node.end_lineno - 1
            if last - first + 1 <= most:
                if last > first:
                    groups.append((first, last))
                continue
            blocks = [getattr(node, name, None) for name in ("body", "orelse", "finalbody")]
            blocks += [[handler] for handler in getattr(node, "handlers", [])]
            blocks += [[case] for case in getattr(node, "cases", [])]
            inner = [block for block in blocks if block and isinstance(block[0], ast.AST)]
            if not inner or not hasattr(node, "body"):
                continue  # a long simple statement (a literal of many lines) may break
            head = node.body[0]
            head_last = head.end_lineno - 1 if not hasattr(head, "body") else head.lineno - 1
            if head_last - first + 1 <= most and head_last > first:
                groups.append((first, head_last))
            for block in inner:
                if block is node.body and not hasattr(head, "body"):
                    visit(block[1:])
                elif isinstance(block[0], (ast.ExceptHandler, ast.match_case)):
                    visit(block[0].body)
                else:
                    visit(block)

    visit(tree.body)
    return groups


def _kept_statements(body: str, groups: list[tuple[int, int]]) -> str:
    """The highlighted ``body`` with each group of lines in a ``<span class="statement">``; left
    as it is where its lines are not those of the code (each line's spans closed on it)."""
    lines = body.split("\n")
    if not groups or groups[-1][1] >= len(lines) or any(
        line.count("<span") != line.count("</span>") for line in lines
    ):
        return body
    for first, last in groups:
        lines[first] = '<span class="statement">' + lines[first]
        lines[last] += "</span>"
    return "\n".join(lines)


def long_lines(code: str) -> list[int]:
    """1-based numbers of the lines of ``code`` longer than MAX_COLUMNS."""
    return [i for i, line in enumerate(code.splitlines(), 1) if len(line) > MAX_COLUMNS]


# Inline code in justified text: a name of two parts or more (``llm_keras.models``,
# ``queue_size``) may break after a dot, an underscore or a slash, so that a line need not
# stretch its spaces around it (book read of 5 December: lines with gaps three times a space before
# ``attention_mask``, ``torch.backends.cuda.matmul.allow_tf32``). A short word with a character
# after which Unicode's line breaking allows a break, a hyphen (``-inf``, ``--fresh``) or a
# vertical bar (the chat token ``<|user|>``), never breaks there. A CamelCase name does not
# break before its capitals: with nothing to mark the break, "Layer" / "Norm(epsilon=1e-5)" and
# "Byte" / "LevelBPETokenizer" read as two words (tried on 5 December and taken out).
#
# The break is a zero-width space in the text, not a <wbr> element: WeasyPrint 70 breaks a line
# inside a text box but not between two boxes when it has to go back from an overflow, so a
# name whose last part overflowed went whole to the next line (style/book.css: the code's left
# padding likewise).
BREAKABLE_LENGTH = 10  # a word of inline code shorter than this never breaks
NOBREAK_LENGTH = 24  # a word with a hyphen or a bar up to this long is kept whole
# An expression this short is kept on one line: "`lengths[b] -`" / "`1`", "`array *`" /
# "`tensor`" and "`W (in,`" / "`out)`" broke at their spaces (book read of 5 December).
SHORT_EXPRESSION = 16
BREAK = "\u200b"  # zero-width space
_BREAK_AFTER = re.compile(r"(?<=\w{2}[._/])(?=\w{2})")
_BREAKS_AT = re.compile(r"[-|]")  # UAX #14 classes HY and BA: a break may follow them


def inline_code(text: str) -> str:
    """``<code>`` for inline code, with break opportunities (zero-width spaces) after ``.``,
    ``_`` and ``/`` in names of 10 characters or more, and short words with a hyphen or a bar
    kept whole (``white-space: nowrap``), as is a short expression with spaces."""
    if len(text) <= SHORT_EXPRESSION and " " in text.strip():
        return f'<code><span class="nobreak">{html.escape(text)}</span></code>'
    words = []
    for word in re.split(r"(\s+)", text):
        parts = _parts(word)
        if _BREAKS_AT.search(word) and len(parts) > 1:  # -ops.log(ops.sigmoid(x)): after dots
            words.append(BREAK.join(
                f'<span class="nobreak">{html.escape(part)}</span>' if _BREAKS_AT.search(part)
                else html.escape(part) for part in parts))  # fmt: skip
        elif _BREAKS_AT.search(word) and len(word) <= NOBREAK_LENGTH:
            words.append(f'<span class="nobreak">{html.escape(word)}</span>')
        else:
            words.append(BREAK.join(html.escape(part) for part in parts))
    return f"<code>{''.join(words)}</code>"


def _parts(word: str) -> list[str]:
    """The pieces of ``word`` between which a line may break."""
    if len(word) < BREAKABLE_LENGTH:
        return [word]
    return _BREAK_AFTER.split(word)
