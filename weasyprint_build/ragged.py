"""Paragraphs set ragged-right where justifying them would open wide gaps between words.

A justified line that ends before something it cannot break, a wide formula or a long name in
code, spreads the rest of the line over its few spaces: the book read of 5 December found 36
lines whose spaces were more than twice as wide as a space, most before inline formulas of the
alignment and fine-tuning chapters (a formula is one picture: it never breaks). TeX would
stretch them as well, or report an underfull line for the author to rewrite. Here a paragraph
with such a line is set ragged-right instead (``p.ragged`` in style/book.css): its lines break
where they broke (WeasyPrint breaks a line first and justifies it after, so the paragraph's
height and the pages do not change) and its spaces keep their width.

The paragraphs are found on the layouts of each chapter alone that ``floats.float_figures``
makes anyway, and named by their place among the chapter's ``<p>`` elements (a paragraph has
no id); the same marks are made in the HTML text written beside the PDF (``ragged_document``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from weasyprint.formatting_structure.boxes import BlockBox, LineBox, TextBox

# A justified line may widen each of its spaces by up to this much (of the font size; a space
# of Pagella is 0.25 em): up to twice a space's width. A paragraph with a wider line is ragged.
MAX_STRETCH_EM = 0.25
CLASS = "ragged"


def _texts(box):
    if isinstance(box, TextBox):
        yield box
    for child in getattr(box, "children", None) or []:
        yield from _texts(child)


def line_stretch(line: LineBox) -> float:
    """How much justifying ``line`` widened each of its spaces, in ems of the line's font."""
    widest = max((getattr(text, "justification_spacing", 0) or 0 for text in _texts(line)),
                 default=0)  # fmt: skip
    return widest / line.style["font_size"]


def stretched_paragraphs(pages, chapter: ET.Element, limit: float = MAX_STRETCH_EM) -> list[int]:
    """The places (0-based, among ``chapter.iter("p")``) of the paragraphs of ``chapter`` with a
    line whose spaces ``pages`` (WeasyPrint's laid-out pages) widen by more than ``limit`` em."""
    places = {id(paragraph): place for place, paragraph in enumerate(chapter.iter("p"))}
    found = set()
    stack = [page._page_box for page in pages]
    while stack:
        box = stack.pop()
        if isinstance(box, BlockBox) and id(getattr(box, "element", None)) in places:
            if box.element_tag == "p" and any(
                isinstance(line, LineBox) and line_stretch(line) > limit for line in box.children
            ):
                found.add(places[id(box.element)])
            continue
        stack.extend(getattr(box, "children", None) or [])
    return sorted(found)


def _with_class(classes: str | None) -> str:
    names = (classes or "").split()
    return " ".join(names if CLASS in names else [*names, CLASS])


def set_ragged(chapter: ET.Element, places: list[int]) -> None:
    """Mark the paragraphs of ``chapter`` at ``places`` ragged (in place)."""
    wanted = set(places)
    for place, paragraph in enumerate(chapter.iter("p")):
        if place in wanted:
            paragraph.set("class", _with_class(paragraph.get("class")))


def ragged_document(document: str, chapter_id: str, places: list[int], count: int) -> str:
    """``document`` (the book's HTML text) with the paragraphs at ``places`` of the chapter whose
    id is ``chapter_id`` marked as ``set_ragged`` marks them in its tree; ``count``: how many
    ``<p>`` the tree's chapter holds (the text must hold as many, or ValueError)."""
    from weasyprint_build.floats import HTML_TAG, element_end, element_start

    start = element_start(document, chapter_id)
    if start is None:
        raise ValueError(f"no element with the id {chapter_id!r} in the text")
    end = element_end(document, start)
    opening = [tag for tag in HTML_TAG.finditer(document, start, end)
               if tag.group(2) and tag.group(2).lower() == "p" and not tag.group(1)]  # fmt: skip
    if len(opening) != count:
        raise ValueError(f"chapter {chapter_id}: {len(opening)} <p> in the text, {count} in "
                         "the tree")  # fmt: skip
    for place in sorted(set(places), reverse=True):  # from the end: earlier offsets hold
        tag = opening[place]
        attributes = tag.group(3) or ""
        found = re.search(r"""(\sclass\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", attributes)
        if found:
            old = next((g for g in found.groups()[1:] if g is not None), "")
            attributes = (attributes[: found.start()] + f'{found.group(1)}"{_with_class(old)}"'
                          + attributes[found.end():])  # fmt: skip
        else:
            attributes += f' class="{CLASS}"'
        document = (document[: tag.start()] + f"<{tag.group(2)}{attributes}{tag.group(4)}>"
                    + document[tag.end():])  # fmt: skip
    return document
