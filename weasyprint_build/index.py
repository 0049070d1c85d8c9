"""The index: terms marked in the text with ``{index}``, listed at the end with their pages.

The role is MyST's (Sphinx's ``index`` role), so chapters keep opening in Jupyter Book:

- ``{index}`perplexity```: the text shows "perplexity" and the index lists it;
- ``{index}`causal masks <causal mask>```: the text shows "causal masks", the entry is
  "causal mask";
- ``{index}`masks <attention; causal mask>```: a subentry "causal mask" under "attention"
  (``single: attention; causal mask`` is the same, in Sphinx's long form);
- ``{index}`DPO <pair: DPO; preference optimisation>```: two entries, each under the other.

Each marked place becomes an anchor; the index gives, per entry, the page of each anchor through
WeasyPrint's ``target-counter(attr(href url), page)``. A term marked twice in one section gets
one anchor (its first place), so the index lists each section once. Two sections can share a
page, so once the pages are laid out ``drop_repeated_pages`` takes a number out of an entry when
the number before it is the same ("attention, 12, 12" -> "attention, 12"). A malformed entry
stops the build with the file, the line and the forms above.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from weasyprint_build.errors import BuildError

ANCHOR_PREFIX = "index-"
REFERENCE_CLASS = "index-ref"  # a page number of an entry and the comma before it
TAIL_ENTRIES = 8  # entries of the index's end that stay together (no nearly empty last page)
_WITH_ENTRY = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
_OTHER_SPHINX_TYPES = ("triple", "see", "seealso", "module", "keyword", "operator", "object")
_SYNTAX = (
    "write {index}`term`, {index}`text <entry>`, {index}`text <main; sub>` or "
    "{index}`text <pair: first; second>`"
)


@dataclass
class _Entry:
    name: str  # as first written
    anchors: list[str] = field(default_factory=list)
    subentries: dict[str, _Entry] = field(default_factory=dict)


class Index:
    """The index of one edition: entries and the anchors that point at their places."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self._anchors = 0
        self._seen: set[tuple] = set()

    def mark(self, content: str, where: str, section: tuple) -> str:
        """The HTML of an ``{index}`` role at ``where``, in ``section`` (chapter, section)."""
        text, paths = parse(content, where)
        anchor = None
        for path in paths:
            key = (*section, *(p.casefold() for p in path))
            if key in self._seen:
                continue
            self._seen.add(key)
            if anchor is None:
                self._anchors += 1
                anchor = f"{ANCHOR_PREFIX}{self._anchors}"
            self._entry(path).anchors.append(anchor)
        id_attribute = f' id="{anchor}"' if anchor else ""
        return f'<span class="index-term"{id_attribute}>{html.escape(text)}</span>'

    def _entry(self, path: tuple[str, ...]) -> _Entry:
        entries, entry = self.entries, None
        for name in path:
            entry = entries.setdefault(name.casefold(), _Entry(name))
            entries = entry.subentries
        return entry

    def html(self) -> str:
        """The index as a back-matter section; '' when the book marks no term."""
        if not self.entries:
            return ""
        groups: list[tuple[str, list[str]]] = []  # (initial, the entries' HTML)
        for entry in _sorted(self.entries):
            initial = _sort_text(entry.name)[:1].upper() or "#"
            initial = initial if initial.isalpha() else "#"
            if not groups or groups[-1][0] != initial:
                groups.append((initial, []))
            groups[-1][1].append(_entry_html(entry))
        # The last groups, TAIL_ENTRIES entries at least, are kept together: a page break may
        # not leave a last page with one or two lines of the index on it.
        tail, count = len(groups), 0
        while tail > 0 and count < TAIL_ENTRIES:
            tail -= 1
            count += len(groups[tail][1])
        body = "".join(_group_html(g) for g in groups[:tail])
        body += f'<div class="index-tail">{"".join(_group_html(g) for g in groups[tail:])}</div>'
        return (
            '<section class="back-matter index" id="index">'
            '<h1 class="back-matter-title">Index</h1>'
            f'<div class="index-columns">{body}</div></section>'
        )


def _group_html(group: tuple[str, list[str]]) -> str:
    initial, entries = group
    return f'<p class="index-letter">{initial}</p><ul class="index-list">{"".join(entries)}</ul>'


def parse(content: str, where: str) -> tuple[str, list[tuple[str, ...]]]:
    """The text shown and the entry paths (main, sub) of an ``{index}`` role's content."""
    stripped = content.strip()
    match = _WITH_ENTRY.match(stripped)
    if match:
        text, spec = match.group(1).strip(), match.group(2).strip()
    elif "<" in stripped or ">" in stripped:
        raise BuildError(f"{where}: {{index}}`{content}`: an unmatched < or >; {_SYNTAX}.")
    else:
        text, spec = stripped, stripped
    kind, _, rest = spec.partition(":")
    if rest and kind.strip() in ("single", "pair"):
        kind, spec = kind.strip(), rest.strip()
    elif rest and kind.strip() in _OTHER_SPHINX_TYPES:
        raise BuildError(
            f"{where}: {{index}}`{content}`: the entry type {kind.strip()!r} is not supported "
            f"(single and pair are); {_SYNTAX}."
        )
    else:
        kind = "single"
    names = [name.strip().lstrip("!").strip() for name in spec.split(";")]
    if not text or not all(names) or len(names) > 2 or (kind == "pair" and len(names) != 2):
        raise BuildError(
            f"{where}: {{index}}`{content}`: an entry is one term or a main term and one "
            f"subentry separated by ';' (pair: exactly two); {_SYNTAX}."
        )
    if kind == "pair":
        return text, [(names[0], names[1]), (names[1], names[0])]
    return text, [tuple(names)]


def _sort_text(name: str) -> str:
    """Sort on the letters: '-inf' next to 'inf', '`top_k`' under T."""
    return re.sub(r"^[^A-Za-z0-9]+", "", name).casefold()


def _sorted(entries: dict[str, _Entry]) -> list[_Entry]:
    return sorted(entries.values(), key=lambda e: (_sort_text(e.name), e.name))


def _entry_html(entry: _Entry) -> str:
    # each number with the comma before it, one span: drop_repeated_pages removes both
    pages = "".join(
        f'<span class="{REFERENCE_CLASS}">, <a class="index-page" href="#{a}"></a></span>'
        for a in entry.anchors
    )
    subentries = "".join(_entry_html(sub) for sub in _sorted(entry.subentries))
    sub_html = f'<ul class="index-sublist">{subentries}</ul>' if subentries else ""
    return f"<li>{html.escape(entry.name)}{pages}{sub_html}</li>"


def drop_repeated_pages(document) -> int:
    """Take out of the laid-out ``document`` (a WeasyPrint ``Document``) each index number that
    repeats the number before it in its entry (two sections on one page), with its comma; the
    rest of its line moves left. Returns how many were taken out."""
    page_of = {name: number for number, page in enumerate(document.pages) for name in page.anchors}
    last: dict = {}  # an entry's <li> -> the page number it printed last
    drop: dict = {}  # a number's <span> -> whether it is taken out (decided at its first box)
    previous: dict = {}  # an entry's <li> -> its last line box so far
    dropped = 0
    for page in document.pages:
        changed = False
        for line in _line_boxes(page._page_box):
            shift, children = 0.0, []
            for child in line.children:
                span = child.element if _is_reference(child) else None
                if span is not None and span not in drop:
                    anchor = next(span.iter("a")).get("href", "").removeprefix("#")
                    entry, number = line.element, page_of.get(anchor)  # the entry's <li>
                    drop[span] = number is not None and last.get(entry) == number
                    last[entry] = number
                    dropped += drop[span]
                if span is not None and drop[span]:
                    shift += child.margin_width()
                    changed = True
                    continue
                if shift:
                    child.translate(dx=-shift)
                children.append(child)
            line.children = children
            if shift and children and previous.get(line.element):
                _move_leading_comma(line, previous[line.element])
            previous[line.element] = line
        if changed:  # gather the page's links and anchors again, from the boxes as they are
            page.__init__(page._page_box)
    return dropped


def _move_leading_comma(line, before) -> None:
    """A line that starts with ", 14" once the numbers before were taken out: its comma goes
    to the end of the entry's line before (``before``), as the line break would have put it."""
    from weasyprint.formatting_structure import boxes

    first = line.children[0]
    comma = first.children[0] if _is_reference(first) and first.children else None
    if not isinstance(comma, boxes.TextBox) or not comma.text.startswith(","):
        return
    texts = [box for box in before.descendants() if isinstance(box, boxes.TextBox)]
    if not texts:
        return
    last = texts[-1]
    width = comma.margin_width()
    comma.translate(dx=last.position_x + last.margin_width() - comma.position_x,
                    dy=last.position_y - comma.position_y)  # fmt: skip
    first.children = first.children[1:]
    before.children = [*before.children, comma]
    for child in line.children:
        child.translate(dx=-width)


def _is_reference(box) -> bool:
    element = getattr(box, "element", None)
    return (
        getattr(box, "element_tag", None) == "span"  # not a ::before or ::after box
        and REFERENCE_CLASS in (element.get("class") or "").split()
    )


def _line_boxes(box):
    """The line boxes under ``box``, in document order."""
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.LineBox):
        yield box
        return
    for child in getattr(box, "children", ()):
        yield from _line_boxes(child)
