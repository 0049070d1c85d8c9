"""HTML -> PDF with WeasyPrint: offline, with its log collected so that problems are not missed.

- Nothing is fetched: the URL fetcher allows only ``data:`` and ``file:`` URLs and fails on
  anything else, so a stray ``https://`` image stops the build instead of going to the network.
- A work-around for a line-breaking bug of WeasyPrint 70 (``_split_first_line``): a line that
  fits only without the space at its end, where an inline element (``<code>``, ``<em>``) follows,
  printed its first word alone ("without / the / cache", "Py- / Torch, / and").
- WeasyPrint reports problems (a link to a missing anchor, an image it cannot load, an unknown
  CSS property) through the ``weasyprint`` logger and carries on; they are collected here and
  returned, ERROR records separately, so the build can fail on them.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import weasyprint.layout.inline as _inline
from weasyprint import HTML, URLFetcher
from weasyprint.urls import FatalURLFetchingError

from weasyprint_build.errors import BuildError
from weasyprint_build.index import drop_repeated_pages


@dataclass
class PdfResult:
    path: Path
    pages: int
    errors: list[str] = field(default_factory=list)  # WeasyPrint's ERROR records
    warnings: list[str] = field(default_factory=list)  # its WARNING records
    anchors: dict[str, int] = field(default_factory=dict)  # HTML id -> 0-based page index


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


@contextmanager
def _line_breaking_fixed():
    _inline.split_first_line = _split_first_line
    try:
        yield
    finally:
        _inline.split_first_line = _weasyprint_split_first_line


def write_pdf(document: str, out: Path, base_url: Path) -> PdfResult:
    """Lay out ``document`` and write it to ``out``; returns pages, anchors and log records."""
    logger = logging.getLogger("weasyprint")
    handler = _Collect()
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.WARNING)
    fetcher = URLFetcher(allowed_protocols={"file", "data"}, fail_on_errors=True)
    try:
        with _line_breaking_fixed():
            html = HTML(string=document, base_url=str(base_url), url_fetcher=fetcher)
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
    return PdfResult(out, len(rendered.pages), handler.errors, handler.warnings, anchors)
