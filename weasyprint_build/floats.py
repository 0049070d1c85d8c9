"""Figures that float: one pushed to the next page lets the text after it fill the gap it left.

WeasyPrint 70 has no page floats (docs/pdf.md, "Figures do not float"): a figure or a table
that does not fit in what is left of a page goes to the next page and leaves the rest of its
page blank. This pass does what LaTeX does instead: it lays a chapter out, finds each figure
unit that starts a page while the page before ends with a gap of more than ``MIN_GAP`` of the
text block, and moves the unit in the HTML after the paragraphs that follow it, as many as
fill the gap (units in a row, a figure then a table, move together, in their order); then it
lays the chapter out again, up to ``ROUNDS`` layouts, each round moving what the last one
pushed. The moves kept are those of the last round whose emptiest page is no emptier than
``ACCEPTABLE`` or than the chapter's emptiest page before any move (a round whose moved text
pushed another figure is kept when a later round moves that one too). A kept code cell that a
page break pushes to the next page splits where it stands instead (it does not float: the
prose around it reads it in order).

- The unit that moves is what the pages keep whole: a ``div.cell.keep`` that holds a figure,
  a table or a listing (the code that draws a figure moves with it, render.py), or a captioned
  ``figure`` of the text itself (``numbered-figure``, ``numbered-table``,
  ``numbered-listing``). A figure in a long cell, which may split, stays.
- A unit moves past paragraphs, lists, equations and boxes of text, never past a heading, a
  code cell (the code is read in the order it runs; a unit that prints no code of its own may
  pass one), another figure or table (the figures stay in the order of their numbers), nor out
  of the element (the chapter, its section) that holds it.
- Chapters start on a new page and the text block is as wide on left and right pages, so a
  chapter's page breaks do not depend on the others: each chapter is laid out alone, and the
  moves found are cached under a hash of the chapter's HTML, the style sheets and the layout
  code (this module, ragged.py, pdf.py). A chapter that did not change costs no layout; the
  book is then laid out once, with the moves made.
- A figure never moves to stand right after a sentence that ends with a colon (it introduces
  what follows it, code or another figure) or beside a displayed equation (its sentence runs
  through it), nor away from a sentence that introduces it; a kept code cell after such a
  sentence at the top of a page splits as a cell alone there does (the sentence stays with it).
- The same layouts find the paragraphs whose justified lines would stretch their spaces too
  wide (ragged.py); they are set ragged-right, and cached with the moves.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from weasyprint.formatting_structure.boxes import (
    BlockLevelBox,
    LineBox,
    MarginBox,
    ParentBox,
    ReplacedBox,
)

from weasyprint_build.ragged import set_ragged, stretched_paragraphs

LEAD_IN_CLASS = "lead-in"  # a paragraph ending with a colon before code (render.mark_lead_ins)

MIN_GAP = 0.12  # of the text block's height: a smaller gap before a pushed figure is left
ROUNDS = 5  # layouts of a chapter alone, at most, when its cache holds nothing
ACCEPTABLE = 0.3  # rounds that leave a page emptier than this and than the emptiest before: undone
FIGURES = ("numbered-figure", "numbered-table", "numbered-listing")  # captioned, numbered
TEXT_TAGS = {"p", "ul", "ol", "blockquote", "dl"}  # what a figure may move past
TEXT_CLASSES = {"equation", "admonition"}  # divs of text (not code: code keeps its order)
SPLIT_CLASS = "may-split"  # replaces "keep" on a kept code cell pushed to the next page


@dataclass(frozen=True)
class Move:
    """The unit whose id is ``unit`` goes after the ``past`` elements that follow it; or, with
    ``split``, the kept code cell whose id is ``unit`` stays and may split (``past`` is 0)."""

    unit: str
    past: int
    split: bool = False


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def _holds_figure(element: ET.Element) -> bool:
    return any(_classes(figure) & set(FIGURES) for figure in element.iter("figure"))


def is_unit(element: ET.Element) -> bool:
    """A box that moves whole: a kept cell with a figure or table, or a figure of the text."""
    if not element.get("id"):
        return False
    if element.tag == "div" and {"cell", "keep"} <= _classes(element):
        return _holds_figure(element)
    return element.tag == "figure" and bool(_classes(element) & set(FIGURES))


def is_kept_code(element: ET.Element) -> bool:
    """A kept code cell that draws no figure, of the chapter or of an exercise (an instructor's
    solution 2 pt too tall for its page left 37 % of it blank, the book of 5 December): it does
    not float (the prose around it reads it in order), but may split when it is pushed
    (``SPLIT_CLASS``)."""
    classes = _classes(element)
    return (element.tag == "div" and "keep" in classes
            and bool(classes & {"cell", "exercise-cell"})
            and bool(element.get("id")) and not _holds_figure(element))  # fmt: skip


def _is_text(element: ET.Element) -> bool:
    """What a unit may move past: text, not a heading, code, nor another figure. A block of
    code that the book does not run (a shell command, ``pre.static``) reads as text."""
    if element.tag in TEXT_TAGS or (element.tag == "pre" and "static" in _classes(element)):
        return True
    if element.tag == "div" and _classes(element) & TEXT_CLASSES:
        return not _holds_figure(element)
    return False


def _shows_code(element: ET.Element) -> bool:
    """Whether a unit prints code (a cell's input), which a move keeps in its order."""
    return any("input" in _classes(pre) for pre in element.iter("pre"))


def _is_code_cell(element: ET.Element) -> bool:
    """A code cell without a figure (a unit that shows no code may move past it)."""
    return element.tag == "div" and "cell" in _classes(element) and not _holds_figure(element)


def _is_lead_in(element: ET.Element) -> bool:
    """A paragraph that introduces what follows it (render.mark_lead_ins)."""
    return element.tag == "p" and LEAD_IN_CLASS in _classes(element)


def _is_equation(element: ET.Element) -> bool:
    return element.tag == "div" and "equation" in _classes(element)


def _introduces(element: ET.Element) -> bool:
    """A paragraph that ends with a colon: a lead-in, or one that introduces a figure ("... from
    samples of the first (Table 8.9):"), which a moved figure must not follow either."""
    return element.tag == "p" and "".join(element.itertext()).rstrip().endswith(":")


def _joined(before: ET.Element, after: ET.Element | None) -> bool:
    """Whether no figure may stand between ``before`` and ``after``, the next element (None at
    the end): after a paragraph that introduces what follows it, or on either side of a
    displayed equation, which its sentence runs through ("... proposed the k3 estimator" /
    (8.9) / "which has the same mean ..."; the book of 5 December set Table 8.8 after (8.9),
    then, once that was mended, after "(Table 8.9):")."""
    return (_introduces(before) or _is_equation(before)
            or (after is not None and _is_equation(after)))  # fmt: skip


def _parents(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


def apply_moves(chapter: ET.Element, moves: list[Move]) -> None:
    """Make ``moves`` in the chapter's tree (in place); a move naming no unit is skipped."""
    for move in moves:
        parents = _parents(chapter)
        unit = next((e for e in chapter.iter() if e.get("id") == move.unit), None)
        if unit is None or unit not in parents:
            continue
        if move.split:
            unit.set("class", _split_class(unit.get("class", "")))
            continue
        parent = parents[unit]
        index = list(parent).index(unit)
        parent.remove(unit)
        parent.insert(index + move.past, unit)


# --- the same moves in the HTML text (the HTML written beside the PDF) ---------------------
# A tag, its attributes quoted or not (an attribute's value may hold ">"), or a comment.
HTML_TAG = re.compile(
    r"<!--.*?-->|<(/?)([A-Za-z][\w:.-]*)((?:\s+[^\s\"'>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|"
    r"[^\s\"'>]+))?)*)\s*(/?)>",
    re.DOTALL,
)
_ID = re.compile(r"""\sid\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}  # fmt: skip


def element_start(document: str, element_id: str) -> int | None:
    """Where the tag of the element whose id is ``element_id`` opens in ``document``."""
    found = re.search(rf"""<[A-Za-z][^<>]*?\sid\s*=\s*["']?{re.escape(element_id)}["'\s>]""",
                      document)  # fmt: skip
    return None if found is None else found.start()


def element_end(document: str, start: int) -> int:
    """Where the element (or comment) whose tag opens at ``start`` ends in ``document``."""
    depth = 0
    for match in HTML_TAG.finditer(document, start):
        if match.group(2) is None:  # a comment
            if depth == 0:
                return match.end()
            continue
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(4)
        if not closing and not self_closing and name not in _VOID:
            depth += 1
        elif closing:
            depth -= 1
        if depth == 0:
            return match.end()
    raise ValueError(f"the element at character {start} is not closed")


def _split_class(classes: str) -> str:
    """A kept cell's classes with ``keep`` replaced by ``SPLIT_CLASS``."""
    return " ".join(SPLIT_CLASS if name == "keep" else name for name in classes.split())


def moved_document(document: str, moves: list[Move]) -> str:
    """``document`` (the book's HTML text) with ``moves`` made, as ``apply_moves`` makes them in
    its tree: the HTML written beside the PDF is the document the PDF shows. The rest of the
    text is kept as it is, character for character."""
    for move in moves:
        start = element_start(document, move.unit)
        if start is None:
            continue
        if move.split:  # the class of the cell's tag, as apply_moves sets it
            tag = HTML_TAG.match(document, start)
            attributes = re.sub(r"""(\sclass\s*=\s*")([^"]*)(")""",
                                lambda m: m[1] + _split_class(m[2]) + m[3], tag.group(3), count=1)
            document = document[:start] + f"<{tag.group(2)}{attributes}>" + document[tag.end():]
            continue
        end = past_end = element_end(document, start)
        for _ in range(move.past):
            sibling = past_end + len(document[past_end:]) - len(document[past_end:].lstrip())
            if not document.startswith("<", sibling) or document.startswith("</", sibling):
                raise ValueError(f"{move.unit}: fewer than {move.past} elements follow it")
            past_end = element_end(document, sibling)
        unit = document[start:end]
        document = document[:start] + document[end:past_end] + "\n" + unit + document[past_end:]
    return document


def ids_in_order(document: str) -> list[str]:
    """The ids of ``document``'s elements, in the order of the text."""
    ids = []
    for tag in HTML_TAG.finditer(document):
        if tag.group(2) and not tag.group(1) and (found := _ID.search(tag.group(3) or "")):
            ids.append(next(value for value in found.groups() if value is not None))
    return ids


def _flow(page) -> list:
    """The page's text block: its boxes but the margin boxes (running header, page number)."""
    return [box for box in page.children if not isinstance(box, MarginBox)]


def _blocks(page):
    """The page's block boxes that stand for an element, outermost first."""
    stack = list(reversed(_flow(page)))
    while stack:
        box = stack.pop()
        if isinstance(box, BlockLevelBox) and getattr(box, "element", None) is not None:
            yield box
        if isinstance(box, ParentBox) and not isinstance(box, LineBox):
            stack.extend(reversed(box.children))


def _ink_bottom(page) -> float:
    """The bottom of the last line or picture on the page (a block split at the page's end
    reaches down to the end of the text block, whatever it holds)."""
    bottom = page.content_box_y()
    stack = _flow(page)
    while stack:
        box = stack.pop()
        if isinstance(box, (LineBox, ReplacedBox)) or (
            isinstance(box, BlockLevelBox) and not getattr(box, "children", None)
        ):
            bottom = max(bottom, box.position_y + box.margin_height() - box.margin_bottom)
        elif isinstance(box, ParentBox):
            stack.extend(box.children)
    return bottom


def page_gaps(pages) -> list[float]:
    """For each page but the last: the blank below its last line, as a fraction of the text
    block's height. ``pages``: WeasyPrint's laid-out pages (``Document.pages``)."""
    gaps = []
    for page in pages[:-1]:
        box = page._page_box
        gaps.append((box.content_box_y() + box.height - _ink_bottom(box)) / box.height)
    return gaps


def find_moves(pages, min_gap: float = MIN_GAP) -> list[Move]:
    """The moves that fill the gaps left by units pushed to the next page, in page order; and a
    kept code cell pushed to the next page splits where it stands.

    ``pages``: WeasyPrint's laid-out pages (``Document.pages``, each with ``_page_box``)."""
    moves = []
    for fraction, page in zip(page_gaps(pages), pages[1:], strict=True):
        if fraction < min_gap:
            continue
        box = page._page_box
        gap = fraction * box.height
        first = _first_unit(box)
        if first is None:
            continue
        group, following = first
        if is_kept_code(group[0].element):
            moves.append(Move(group[0].element.get("id"), 0, split=True))
            continue
        filled, past = 0.0, 0
        shows_code = any(_shows_code(unit.element) for unit in group)
        elements = [sibling.element for sibling in following] + [None]
        for sibling in following:
            passable = _is_text(sibling.element) or (
                not shows_code and _is_code_cell(sibling.element))  # the code keeps its order
            if not passable:
                break
            past += 1
            filled += sibling.margin_height()
            if filled >= gap and not _joined(sibling.element, elements[past]):
                break  # (past "... it runs:", the unit goes past what that introduces too)
        while past and _joined(elements[past - 1], elements[past]):
            past -= 1  # not after "... are:" nor beside an equation: the sentence goes on
        if past:  # the last unit first: the group keeps its order
            moves += [Move(unit.element.get("id"), past) for unit in reversed(group)]
    return moves


def _first_unit(page_box):
    """The units that start the page (one, or several in a row with nothing between them),
    with the boxes that follow them in their parent; a kept code cell that starts the page,
    alone, or after the sentence that introduces it or a heading; or None."""
    introduced = headed = False
    for box in _blocks(page_box):
        if is_kept_code(box.element):  # it splits: nothing moves with it
            return [box], []
        if introduced:
            return None  # a figure introduced by "... shows:" does not move away from it
        if _is_lead_in(box.element):  # "... it prints:" went to this page with its cell
            introduced = True
            continue
        if re.fullmatch(r"h[2-6]", box.element.tag) and not headed:
            headed = True  # a heading that went to this page with the cell under it
            continue
        if is_unit(box.element):
            siblings = _parent_box(page_box, box).children
            following = siblings[siblings.index(box) :]
            following = [s for s in following if getattr(s, "element", None) is not None]
            group = []
            while following and is_unit(following[0].element):
                group.append(following.pop(0))
            return group, following
        if isinstance(box, ReplacedBox) or any(isinstance(c, LineBox) for c in box.children):
            return None  # text starts the page
    return None


def _parent_box(page_box, target):
    stack = [page_box]
    while stack:
        box = stack.pop()
        children = getattr(box, "children", None) or []
        if target in children:
            return box
        stack.extend(children)
    raise ValueError("box not on its page")


# The moves follow the layout's rules, which live in this module, ragged.py and pdf.py's fixes
# to WeasyPrint: their source is part of the cache key (a version number bumped by hand was
# once forgotten, and moves found under an older rule for code boxes were reused).
LAYOUT_SOURCES = ("floats.py", "ragged.py", "pdf.py")


@functools.cache
def layout_code() -> str:
    """The source of the modules whose rules decide the moves."""
    here = Path(__file__).parent
    return "".join((here / name).read_text(encoding="utf-8") for name in LAYOUT_SOURCES)


def chapter_key(chapter: ET.Element, styles: str) -> str:
    digest = hashlib.sha256(f"{layout_code()}\n{styles}".encode())
    digest.update(ET.tostring(chapter, encoding="utf-8"))
    return digest.hexdigest()[:24]


@dataclass
class Placement:
    """What ``float_figures`` did: the moves by chapter id, and how many chapters it laid out
    alone (the others came from the cache)."""

    moves: dict[str, list[Move]] = field(default_factory=dict)
    # by chapter id: the places of its paragraphs set ragged (ragged.py), and how many it holds
    ragged: dict[str, list[int]] = field(default_factory=dict)
    paragraphs: dict[str, int] = field(default_factory=dict)
    laid_out: int = 0
    layouts: int = 0  # layouts of a chapter alone, all rounds

    def summary(self) -> str:
        moved = sorted({m.unit for moves in self.moves.values() for m in moves if not m.split})
        split = sorted({m.unit for moves in self.moves.values() for m in moves if m.split})
        return (
            f"{len(moved)} figure(s) or table(s) moved after the text that follows them "
            f"({', '.join(moved) or 'none'}); {len(split)} kept code cell(s) pushed to the next "
            f"page split instead ({', '.join(split) or 'none'}); "
            f"{sum(map(len, self.ragged.values()))} paragraph(s) set ragged-right (a justified "
            f"line would have widened its spaces more than twice); {self.laid_out} of "
            f"{len(self.moves)} chapters "
            f"laid out alone ({self.layouts} layouts), the others' moves from the cache"
        )


def float_figures(
    root: ET.Element,
    layout: Callable[[ET.Element], list],
    cache_dir: Path | None,
    rounds: int = ROUNDS,
) -> Placement:
    """Move the pushed figures of each chapter of ``root`` (in place).

    ``layout(html_root)`` lays out a document and returns its pages. Each chapter
    (``section.chapter``) is laid out alone, in a document with the book's ``<head>``."""
    head, body = root.find("head"), root.find("body")
    styles = ET.tostring(head, encoding="unicode") if head is not None else ""
    chapters = [e for e in body.iter("section") if "chapter" in _classes(e)]
    placement = Placement()
    for chapter in chapters:
        key = chapter_key(chapter, styles)
        cached = cache_dir / f"{key}.json" if cache_dir else None
        if cached is not None and cached.exists():
            saved = json.loads(cached.read_text())
            moves, ragged = [Move(**m) for m in saved["moves"]], saved["ragged"]
            apply_moves(chapter, moves)
            set_ragged(chapter, ragged)
        else:
            moves, ragged, layouts = _place(chapter, root, layout, rounds)
            placement.laid_out += 1
            placement.layouts += layouts
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps({"moves": [m.__dict__ for m in moves],
                                              "ragged": ragged}))  # fmt: skip
        placement.moves[chapter.get("id")] = moves
        placement.ragged[chapter.get("id")] = ragged
        placement.paragraphs[chapter.get("id")] = sum(1 for _ in chapter.iter("p"))
    return placement


def _place(chapter, root, layout, rounds) -> tuple[list[Move], list[int], int]:
    """Lay the chapter out alone, in a document with the book's ``<head>`` and the chapter's
    ancestors (their classes may select style rules), and move its pushed figures. Returns the
    moves kept, the paragraphs of the layout with them that are to be ragged
    (``ragged.stretched_paragraphs``) and the number of layouts."""
    parents = _parents(root)
    alone = inner = chapter
    while inner in parents:  # ElementTree keeps no parent: the book still holds the chapter
        inner = parents[inner]
        outer = ET.Element(inner.tag, dict(inner.attrib))
        if inner is root and root.find("head") is not None:
            outer.append(root.find("head"))
        outer.append(alone)
        alone = outer
    original = copy.deepcopy(list(chapter))
    pages, layouts = layout(alone), 1
    moves: list[Move] = []
    # (emptiest page, rounds' moves, their ragged paragraphs): the moves kept are the last
    # round's whose emptiest page is no emptier than ACCEPTABLE or than the chapter's emptiest
    # page before any move
    rounds_made = [(max(page_gaps(pages), default=0.0), moves,
                    stretched_paragraphs(pages, chapter))]  # fmt: skip
    while layouts < rounds:
        new = find_moves(pages)
        if not new:
            break
        apply_moves(chapter, new)
        moves = moves + new
        pages, layouts = layout(alone), layouts + 1
        rounds_made.append((max(page_gaps(pages), default=0.0), moves,
                            stretched_paragraphs(pages, chapter)))  # fmt: skip
    limit = max(rounds_made[0][0], ACCEPTABLE)
    _, kept, ragged = next(made for made in reversed(rounds_made) if made[0] <= limit)
    if kept is not moves:  # a later round pushed something else and emptied a page: undone
        chapter[:] = original
        apply_moves(chapter, kept)
    set_ragged(chapter, ragged)
    return kept, ragged, layouts
