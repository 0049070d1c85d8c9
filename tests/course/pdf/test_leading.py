"""Inline formulas keep the lines of a paragraph evenly spaced (style/book.css, ``.math.inline``).

The lines are measured on WeasyPrint's layout with the book's CSS and formulas drawn by
math_svg.py, as the build draws them."""

from __future__ import annotations

import pytest

BODY_LINE_PT = 10.5 * 1.42  # the body text's size and line height (style/book.css)
WORDS = "The residual stream carries every layer's output to the next one, and each block reads it. "
# Formulas of the book that made their line 2-3 pt taller than the others (the book read of 5
# December: week 7's log-probability exercise, chapter 8's KL estimate).
SMALL = [r"m_t", r"z_t[y_t]", r"\log p(y_t)", r"\pi_{\text{ref}}(y_t)", r"\epsilon = 0.2", r"W_1"]
# A sum with its index below: its picture (17.5 pt) is taller than the line (week 7's
# "divide by max(sum_t m_t, 1)").
TALL = r"\sum_t m_t"


def _lines(body: str) -> list[tuple[float, float, list[tuple[float, float]]]]:
    """Each line of ``body`` laid out with the book's CSS: its top and height (pt), and the top
    and bottom (pt) of each formula's picture on it."""
    from weasyprint import HTML
    from weasyprint.formatting_structure.boxes import LineBox

    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET
    from weasyprint_build.pdf import weasyprint_fixed

    css = STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")
    document = (f"<html lang='en'><head><style>{css}</style></head><body><main>"
                f'<section class="chapter" id="chapter-1">{body}</section></main></body></html>')  # fmt: skip
    with weasyprint_fixed():
        pages = HTML(string=document).render().pages

    def pictures(box):
        if str(getattr(box, "element_tag", "")).endswith("svg"):
            yield box.position_y * 0.75, (box.position_y + box.margin_height()) * 0.75
            return
        for child in getattr(box, "children", None) or []:
            yield from pictures(child)

    lines, stack = [], [page._page_box for page in pages]
    while stack:
        box = stack.pop(0)
        if isinstance(box, LineBox):
            lines.append((box.position_y * 0.75, box.height * 0.75, list(pictures(box))))
            continue
        stack[:0] = getattr(box, "children", None) or []
    return lines


def _paragraph(formulas: list[str]) -> str:
    from weasyprint_build.math_svg import MathRenderer

    math = MathRenderer(None)
    return "<p>" + " ".join(f"{WORDS} {math.inline(tex)} is one" for tex in formulas) + "</p>"


def test_small_inline_formulas_leave_the_lines_evenly_spaced():
    """A paragraph with a subscript, an index or a Greek letter on most of its lines: every line is
    the body's line height (14.9 pt). Before: lines with a formula were 1.9-2.9 pt taller (the
    formula's span, shifted to its baseline, brought its own line height)."""
    lines = _lines(_paragraph(SMALL))
    assert len(lines) >= 6 and sum(bool(pictures) for _, _, pictures in lines) >= 4
    assert [round(height, 1) for _, height, _ in lines] == [round(BODY_LINE_PT, 1)] * len(lines)


def test_a_tall_formula_still_opens_its_line():
    """A sum with its index below is taller than the line: its line grows so that the picture
    stays between the lines above and below it (no overlap with their text)."""
    lines = _lines(_paragraph([SMALL[0], TALL, SMALL[1]]))
    tall = [(top, height, pictures) for top, height, pictures in lines
            if any(bottom - above > BODY_LINE_PT for above, bottom in pictures)]  # fmt: skip
    assert len(tall) == 1
    top, height, pictures = tall[0]
    assert height > BODY_LINE_PT + 1
    assert all(top - 0.01 <= above and bottom <= top + height + 0.01 for above, bottom in pictures)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
