"""The lists of figures, tables and listings: built from the captions the renderer numbered.

``render.ChapterContext`` records each numbered figure, table and listing as a ``Captioned``
(its kind, anchor, number and caption HTML) on the book; ``list_html`` turns those of one kind
into a front-matter page like the table of contents: number, the caption's first sentence, and
the page from WeasyPrint's ``target-counter(attr(href url), page)``. Nothing is typed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>")
_VOID = {"br", "img", "hr", "wbr"}
_PROSE = {"em", "strong", "i", "b"}  # markup inside which a full stop ends the sentence
TITLES = {"figure": "List of figures", "table": "List of tables", "listing": "List of listings"}


@dataclass(frozen=True)
class Captioned:
    kind: str  # figure, table, listing
    anchor: str
    number: str  # "2.1"
    caption_html: str  # may hold reference placeholders, resolved with the document


def first_sentence(caption_html: str) -> str:
    """The caption up to its first full stop in plain text, open tags closed.

    Text inside code, formulas (SVG) and other markup is not searched for the stop."""
    stack: list[str] = []
    position = 0
    for match in [*_TAG.finditer(caption_html), None]:
        end = match.start() if match else len(caption_html)
        if all(tag in _PROSE for tag in stack):
            stop = re.search(r"\.(\s|$)", caption_html[position:end])
            if stop:
                cut = caption_html[: position + stop.start()]
                return cut + "." + "".join(f"</{tag}>" for tag in reversed(stack))
        if match is None:
            break
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if closing and name in stack:
            del stack[len(stack) - 1 - stack[::-1].index(name) :]
        elif not closing and not self_closing and name not in _VOID:
            stack.append(name)
        position = match.end()
    return caption_html


def list_html(kind: str, items: list[Captioned], resolve: Callable[[str], str]) -> str:
    """The list of ``kind`` (figure, table or listing) as a front-matter page; '' when there is none.

    ``resolve`` turns reference placeholders into links; links are then dropped, since each
    line is itself a link to its figure."""
    chosen = [item for item in items if item.kind == kind]
    if not chosen:
        return ""
    lines = []
    for item in chosen:
        caption = re.sub(r"</?a\b[^>]*>", "", resolve(first_sentence(item.caption_html)))
        lines.append(  # like a contents line: the leader and the page number from the CSS
            f'<li><a href="#{item.anchor}"><span class="lof-number">{kind.capitalize()} '
            f'{item.number}</span><span class="lof-text">{caption}</span></a></li>'
        )
    anchor = f"list-of-{kind}s"
    return (
        f'<nav class="front-matter list-of-{kind}s" id="{anchor}">'
        f'<h1 class="front-matter-title">{TITLES[kind]}</h1>'
        f'<ul>\n{chr(10).join(lines)}\n</ul></nav>'
    )
