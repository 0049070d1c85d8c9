"""HTML -> PDF with WeasyPrint: offline, with its log collected so that problems are not missed.

- Nothing is fetched: the URL fetcher allows only ``data:`` and ``file:`` URLs and fails on
  anything else, so a stray ``https://`` image stops the build instead of going to the network.
- A work-around for a line-breaking bug of WeasyPrint 70 (``_split_first_line``): a line that
  fits only without the space at its end, where an inline element (``<code>``, ``<em>``) follows,
  printed its first word alone ("without / the / cache", "Py- / Torch, / and").
- A box split across pages (a long code cell, ``box-decoration-break: clone``) ends after its
  last line on the first page (``_block_container_layout``): WeasyPrint 70 stretches it to the
  bottom of the page, so that when ``widows`` carried lines over, its background and border ran
  on for up to four empty lines; and when a ``break-before: avoid`` (a cell's output after its
  code) made WeasyPrint go back to a break inside the code box (``find_earlier_page_break``),
  it kept the whole box's height in the first fragment.
- A ``leader()`` breaks like its text (``_split_inline_level``): WeasyPrint 70 allowed a break
  before any leader, so a caption that filled its last line put the list of figures' dots and
  page number alone on the next line, the no-break space before them notwithstanding.
- A code box's ``orphans`` and ``widows`` count the lines of code it shows (``_break_line``):
  blank lines none, a statement kept whole in one line box its lines.
- A justified line widens the spaces of its prose only, never those of inline code
  (``_count_expandable_spaces``, ``_add_word_spacing``).
- WeasyPrint reports problems (a link to a missing anchor, an image it cannot load, an unknown
  CSS property) through the ``weasyprint`` logger and carries on; they are collected here and
  returned, ERROR records separately, so the build can fail on them.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cssselect2
import weasyprint.layout.block as _block
import weasyprint.layout.inline as _inline
from weasyprint import HTML, URLFetcher
from weasyprint.urls import FatalURLFetchingError

from weasyprint_build.errors import BuildError
from weasyprint_build.floats import Placement, float_figures, ids_in_order, moved_document
from weasyprint_build.index import drop_repeated_pages
from weasyprint_build.ragged import ragged_document


@dataclass
class PdfResult:
    path: Path
    pages: int
    errors: list[str] = field(default_factory=list)  # WeasyPrint's ERROR records
    warnings: list[str] = field(default_factory=list)  # its WARNING records
    anchors: dict[str, int] = field(default_factory=dict)  # HTML id -> 0-based page index
    placement: Placement | None = None  # the figures moved after the text that follows them
    html: str = ""  # the document laid out: the HTML text with the figures' moves made


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        (self.errors if record.levelno >= logging.ERROR else self.warnings).append(
            record.getMessage()
        )


_weasyprint_split_first_line = _inline.split_first_line


def _split_first_line(text, style, context, max_width, justification_spacing,
                      is_line_start=True, minimum=False):  # fmt: skip
    """WeasyPrint's ``split_first_line``, except for a text that fits without its trailing space.

    A text box that ends with a space (the text before an inline element) and fits in
    ``max_width`` only without that space is taken by WeasyPrint 70 as a line that cannot be
    split ("step #3": it measures the space, finds the line too wide, finds no earlier break
    and keeps the first word alone). The space is dropped at the line's end anyway (the caller
    subtracts it before it checks for an overflow), so the whole text is laid out in one line.
    """
    result = _weasyprint_split_first_line(
        text, style, context, max_width, justification_spacing, is_line_start, minimum
    )
    if result[2] is None or max_width is None or minimum or not text.endswith(" "):
        return result
    stripped = _weasyprint_split_first_line(
        text.rstrip(" "), style, context, max_width, justification_spacing, is_line_start
    )
    if stripped[2] is None and stripped[3] <= max_width:
        return _weasyprint_split_first_line(
            text, style, context, float("inf"), justification_spacing, is_line_start
        )
    return result


_weasyprint_block_container_layout = _block.block_container_layout


def _block_container_layout(context, box, *args, **kwargs):
    """WeasyPrint's ``block_container_layout``, except that a box with
    ``box-decoration-break: clone`` split at the page's end ends after its last child.

    WeasyPrint follows css-break-3 (a fragment fills the rest of the page); for a box drawn
    with its background and border on each page that leaves an empty tail, as tall as the
    lines ``widows`` moved to the next page. The box's bottom padding and border stay."""
    result = _weasyprint_block_container_layout(context, box, *args, **kwargs)
    new_box, resume_at = result[0], result[1]
    if (
        new_box is not None
        and resume_at is not None
        and new_box.style["box_decoration_break"] == "clone"
        and new_box.children
    ):
        _end_after_last_child(new_box)
    return result


def _end_after_last_child(box) -> None:
    """A fragment of a split box ends after its last child (its bottom padding and border
    below it), where WeasyPrint left it as tall as the page or the whole box. Blank lines at
    its end are left out: a code box split at a blank line between two statements ended with
    an empty line of background (the book read of 5 December, pages 42 and 111)."""
    children = list(box.children)
    while len(children) > 1 and _blank_line(children[-1]):
        children.pop()
    last = children[-1]
    bottom = last.position_y + last.margin_height()
    box.height = max(0, min(box.height, bottom - box.content_box_y()))


def _blank_line(box) -> bool:
    """A line box that shows nothing: its text, if any, is white space."""
    if not isinstance(box, _block.boxes.LineBox):
        return False
    stack = list(box.children)
    while stack:
        child = stack.pop()
        if isinstance(child, _block.boxes.TextBox):
            if child.text.strip():
                return False
        elif not isinstance(child, _block.boxes.InlineBox):
            return False  # a picture, an inline-block: something shown
        else:
            stack.extend(child.children)
    return True


def _shown_lines(line) -> int:
    """The lines of code a line box of a ``<pre>`` shows: 0 for a blank line, the lines of a
    statement kept in one inline block (highlight.statement_lines), else 1."""
    if _blank_line(line):
        return 0
    nested, stack = 0, list(line.children)
    while stack:
        child = stack.pop()
        if isinstance(child, _block.boxes.LineBox):
            nested += not _blank_line(child)
        else:
            stack.extend(getattr(child, "children", None) or [])
    return max(1, nested)


_weasyprint_break_line = _block._break_line


def _break_line(context, box, line, new_children, needed, page_is_empty, index, skip_stack,
                resume_at, absolute_boxes, fixed_boxes):  # fmt: skip
    """WeasyPrint's ``_break_line``, except that a code box's ``orphans`` and ``widows`` count
    the lines of code it shows (``_shown_lines``), not its line boxes.

    - Blank lines do not count: an import and the two blank lines after it ended a page alone,
      the other 20 lines of the cell on the next (the book read of 5 December, pages 62, 84, 93,
      98). A code box with fewer shown lines than ``orphans`` before the break goes to the next
      page whole, as WeasyPrint does when the lines themselves are too few.
    - A statement kept whole (one line box of several lines) counts its lines: a solution of two
      functions of nine lines each, four line boxes with the blank lines between them, could not
      split at all under ``widows: 3`` and went whole to the next page, leaving 37 % of a page
      blank (instructor edition, 5 December). Lines are moved to the next page, as WeasyPrint
      moves them, until it shows ``widows`` lines (the lines after the first one there, fewer
      than ``widows`` line boxes, are not counted: they may be blank)."""
    if box.element_tag != "pre" or page_is_empty:
        return _weasyprint_break_line(context, box, line, new_children, needed, page_is_empty,
                                      index, skip_stack, resume_at, absolute_boxes,
                                      fixed_boxes)  # fmt: skip
    moved, shown_next = 0, _shown_lines(line)
    if needed > 0:
        while shown_next < box.style["widows"] and moved < len(new_children):
            moved += 1
            shown_next += _shown_lines(new_children[-moved])
    kept = new_children[: len(new_children) - moved]
    if sum(_shown_lines(child) for child in kept) < box.style["orphans"]:
        _block.remove_placeholders(context, line.children, absolute_boxes, fixed_boxes)
        return True, False, resume_at  # abort: as for too few lines
    for child in new_children[len(kept):]:
        _block.remove_placeholders(context, child.children, absolute_boxes, fixed_boxes)
    del new_children[len(kept):]
    _block.remove_placeholders(context, line.children, absolute_boxes, fixed_boxes)
    return False, True, {index: skip_stack}  # a page break here, resuming before ``line``


_weasyprint_count_expandable_spaces = _inline.count_expandable_spaces
_weasyprint_add_word_spacing = _inline.add_word_spacing


def _is_code_text(box) -> bool:
    """Text in the code font: inline code's, in a line of prose."""
    return isinstance(box, _block.boxes.TextBox) and "monospace" in box.style["font_family"]


def _count_expandable_spaces(box) -> int:
    """WeasyPrint's count of the spaces a justified line widens, without those of inline code:
    ``lengths[b] - 1`` in a justified line opened gaps inside the expression as wide as the
    prose's (the book read of 5 December, r1 #5; no-break spaces are widened too). The prose's
    spaces take the whole stretch, and ``ragged.py`` sets a paragraph ragged where that is
    more than it allows."""
    return 0 if _is_code_text(box) else _weasyprint_count_expandable_spaces(box)


def _add_word_spacing(context, box, justification_spacing, x_advance):
    """WeasyPrint's ``add_word_spacing``: inline code is moved with its line, never widened."""
    if _is_code_text(box):
        box.position_x += x_advance
        return x_advance
    return _weasyprint_add_word_spacing(context, box, justification_spacing, x_advance)


_weasyprint_find_earlier_page_break = _block.find_earlier_page_break


def _find_earlier_page_break(context, children, *args, **kwargs):
    """WeasyPrint's ``find_earlier_page_break``, except that a box with
    ``box-decoration-break: clone`` cut between its lines ends after its last line.

    A ``break-before: avoid`` (a cell's output after its code) makes WeasyPrint go back to an
    earlier break, inside the code box: it keeps the box's first lines in a copy of the box,
    with the height of the whole box, so the lines ``widows`` moved to the next page left an
    empty band as tall as themselves in the first fragment (six-line cells of chapters 3 and
    7, split three and three)."""
    result = _weasyprint_find_earlier_page_break(context, children, *args, **kwargs)
    if result:
        box = result[0][-1] if result[0] else None
        while box is not None and getattr(box, "children", None):
            if box.style["box_decoration_break"] == "clone" and isinstance(
                box.children[-1], _block.boxes.LineBox
            ):
                _end_after_last_child(box)
            box = box.children[-1]
    return result


_weasyprint_split_inline_level = _inline.split_inline_level


def _split_inline_level(context, box, *args, **kwargs):
    """WeasyPrint's ``split_inline_level``, except that a leader breaks like its own text.

    WeasyPrint 70 allows a line break before any ``leader()`` (and treats the place after it as
    a space), whatever comes before: the no-break space that glues the list of figures' leader
    to the caption's last word was ignored, and a caption that filled its last line put the
    leader and the page number alone on the next line. A dotted leader is dots: no break
    between a word or a no-break space and it, nor between it and a no-break space."""
    result = _weasyprint_split_inline_level(context, box, *args, **kwargs)
    if not box.is_leader or not box.children or not getattr(box.children[0], "text", ""):
        return result
    new_box, resume_at, preserved, _, _, float_widths = result
    text = box.children[0].text
    return new_box, resume_at, preserved, text[0], text[-1], float_widths


@contextmanager
def weasyprint_fixed():
    """WeasyPrint with this module's work-arounds (line breaking, split boxes, leaders)."""
    _inline.split_first_line = _split_first_line
    _inline.split_inline_level = _split_inline_level
    _block.block_container_layout = _block_container_layout
    _block.find_earlier_page_break = _find_earlier_page_break
    _block._break_line = _break_line
    _inline.count_expandable_spaces = _count_expandable_spaces
    _inline.add_word_spacing = _add_word_spacing
    try:
        yield
    finally:
        _inline.split_first_line = _weasyprint_split_first_line
        _inline.split_inline_level = _weasyprint_split_inline_level
        _block.block_container_layout = _weasyprint_block_container_layout
        _block.find_earlier_page_break = _weasyprint_find_earlier_page_break
        _block._break_line = _weasyprint_break_line
        _inline.count_expandable_spaces = _weasyprint_count_expandable_spaces
        _inline.add_word_spacing = _weasyprint_add_word_spacing


def write_pdf(
    document: str, out: Path, base_url: Path, floats_cache: Path | None = None
) -> PdfResult:
    """Lay out ``document`` and write it to ``out``; returns pages, anchors and log records.

    Figures pushed to the next page are first moved after the text that follows them
    (``floats.float_figures``, each chapter laid out alone, its moves cached in
    ``floats_cache``)."""
    logger = logging.getLogger("weasyprint")
    handler = _Collect()
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.WARNING)
    fetcher = URLFetcher(allowed_protocols={"file", "data"}, fail_on_errors=True)
    try:
        with weasyprint_fixed():
            html = HTML(string=document, base_url=str(base_url), url_fetcher=fetcher)
            placement = float_figures(html.etree_element, _layout(html), floats_cache)
            _reparse(html, html.etree_element)  # the tree changed under its selector wrapper
            laid_out = _moved_text(document, placement, html.etree_element)
            rendered = html.render()
        drop_repeated_pages(rendered)  # the index: one number per page, not "12, 12"
        out.parent.mkdir(parents=True, exist_ok=True)
        rendered.write_pdf(out)
    except FatalURLFetchingError as error:  # a BaseException: catch it by name
        raise BuildError(
            f"The book tried to load {error}: the PDF build fetches nothing from the network. "
            "Make figures with code in a {code-cell} instead of linking images."
        ) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    anchors = {name: index for index, page in enumerate(rendered.pages) for name in page.anchors}
    return PdfResult(
        out, len(rendered.pages), handler.errors, handler.warnings, anchors, placement, laid_out
    )


def _moved_text(document: str, placement: Placement, root) -> str:
    """``document`` with the moves made in its text and its ragged paragraphs marked, checked
    against the tree laid out (the same elements with an id, in the same order)."""
    moved = moved_document(document, [m for moves in placement.moves.values() for m in moves])
    try:
        for chapter, places in placement.ragged.items():
            if places:
                moved = ragged_document(moved, chapter, places, placement.paragraphs[chapter])
    except ValueError as error:
        raise BuildError(
            f"The HTML beside the PDF does not match the document laid out ({error}): report "
            "it with the build's log; ragged.ragged_document must follow the HTML parser."
        ) from None
    expected = [e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")]
    if ids_in_order(moved) != expected:
        raise BuildError(
            "The HTML beside the PDF does not match the document laid out (the figures' moves "
            "made in its text give another order of ids): report it with the build's log; "
            "floats.moved_document must follow the HTML parser."
        )
    return moved


def _reparse(html: HTML, root) -> HTML:
    html.etree_element = root
    html.wrapper_element = cssselect2.ElementWrapper.from_html_root(root)
    return html


def _layout(book: HTML):
    """``layout(root)``: the pages of the document ``root``, laid out like the book."""

    def layout(root) -> list:
        alone = HTML(string="<html></html>", base_url=book.base_url, url_fetcher=book.url_fetcher)
        return _reparse(alone, root).render().pages

    return layout
