"""Syntax highlighting of code with Pygments, as HTML that WeasyPrint lays out quickly.

Styles are written inline (``noclasses``): only tokens the style colours get a ``<span>``, and
spans are what WeasyPrint's line breaking spends its time on (research/pdf.md, section 3).
"""

from __future__ import annotations

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
    """``<pre class="code">`` with the code highlighted (unknown languages come out plain)."""
    code = code.rstrip("\n")
    lexer = _lexer(language.strip().lower())
    if lexer.name == "Text only":
        body = html.escape(code)
    else:
        body = pygments_highlight(code, lexer, _FORMATTER).rstrip("\n")
    return f'<pre class="{css_class}" data-language="{html.escape(language)}">{body}</pre>'


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
BREAK = "\u200b"  # zero-width space
_BREAK_AFTER = re.compile(r"(?<=\w{2}[._/])(?=\w{2})")
_BREAKS_AT = re.compile(r"[-|]")  # UAX #14 classes HY and BA: a break may follow them


def inline_code(text: str) -> str:
    """``<code>`` for inline code, with break opportunities (zero-width spaces) after ``.``,
    ``_`` and ``/`` in names of 10 characters or more, and short words with a hyphen or a bar kept whole (``white-space:
    nowrap``)."""
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
