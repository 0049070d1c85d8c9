"""Paragraphs whose justified lines would open wide gaps are set ragged-right (ragged.py).

The gaps are measured on WeasyPrint's layout: the space it adds to each word space of a
justified line (``justification_spacing``), against a space of the book's body text."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.course.pdf.test_layout import justified_stretch

WIDTHS = range(446, 477)  # pt: a text block of 476 pt, narrowed a little, as in test_layout.py
# A sentence of the alignment chapter that stretched its lines to three spaces a gap (the book
# read of 5 December): a formula is one picture and never breaks.
FORMULA = r"\beta(\log \pi_\theta(y) - \log \pi_{\text{ref}}(y))"
WIDE = ("No reward model and no sampling: the implicit reward of an answer is its log-probability "
        "ratio summed over the answer, and the loss is the Bradley-Terry loss of the implicit "
        "rewards {} of the two answers.")  # fmt: skip
PLAIN = ("The residual stream carries every layer's output to the next one, and each block "
         "reads it, normalises it, and adds what its attention and its feed-forward layer "
         "computed back into it, so that the last layer sees the sum of all of them.")  # fmt: skip
BODY_SPACE_PT = 0.25 * 10.5  # a word space of Pagella at the body's 10.5 pt


def _css() -> str:
    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET

    return STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")


def _formula() -> str:
    from weasyprint_build.math_svg import MathRenderer

    return MathRenderer(None).inline(FORMULA)


def _document(paragraphs: list[str]) -> str:
    return (f"<html lang='en'><head><style>{_css()}</style></head><body><main>"
            '<section class="chapter" id="chapter-1">' + "".join(paragraphs)
            + "</section></main></body></html>")  # fmt: skip


def _lines(document: str) -> list[tuple[str, float]]:
    """Each line of each paragraph of ``document`` laid out: its text and its top (pt)."""
    from weasyprint import HTML
    from weasyprint.formatting_structure.boxes import LineBox, TextBox

    from weasyprint_build.pdf import weasyprint_fixed

    with weasyprint_fixed():
        pages = HTML(string=document).render().pages

    def text(box) -> str:
        if isinstance(box, TextBox):
            return box.text
        return "".join(text(child) for child in getattr(box, "children", None) or [])

    lines, stack = [], [page._page_box for page in pages]
    while stack:
        box = stack.pop(0)
        if isinstance(box, LineBox):
            lines.append((text(box), round(box.position_y * 0.75, 2)))
            continue
        stack[:0] = getattr(box, "children", None) or []
    return lines


def test_a_ragged_paragraph_breaks_its_lines_where_the_justified_one_did():
    """The rule leaves the pages as they were: WeasyPrint breaks a line first and justifies it
    after, so the ragged paragraph has the same lines, at the same heights; and none of its
    spaces is widened (the justified one widened them by more than a space)."""
    wide = WIDE.format(_formula())
    justified = [f'<p style="width: {w}pt">{wide}</p>' for w in WIDTHS]
    ragged = [f'<p class="ragged" style="width: {w}pt">{wide}</p>' for w in WIDTHS]
    assert _lines(_document(justified)) == _lines(_document(ragged))
    assert max(justified_stretch(_document(justified))) > BODY_SPACE_PT
    assert max(justified_stretch(_document(ragged))) == 0


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory):
    """A chapter of a plain paragraph and the wide one at each width, written by write_pdf as the
    book is (each chapter laid out alone first, ragged.py's rule applied)."""
    from weasyprint_build.pdf import write_pdf

    wide = WIDE.format(_formula())
    paragraphs = [f'<p style="width: {w}pt">{text}</p>' for w in WIDTHS for text in (PLAIN, wide)]
    document = _document(paragraphs)
    folder = tmp_path_factory.mktemp("ragged")
    return document, write_pdf(document, folder / "chapter.pdf", folder)


def test_only_the_paragraphs_with_a_stretched_line_are_set_ragged(laid_out):
    """The wide paragraph at each of the 31 widths is ragged, the plain one at none (its widest
    gap measured: under one space); in the tree laid out and in the HTML written beside the PDF
    (the same paragraphs, their other attributes kept)."""
    document, result = laid_out
    wide_places = list(range(1, 2 * len(WIDTHS), 2))
    assert result.placement.ragged["chapter-1"] == wide_places
    plain = [f'<p style="width: {w}pt">{PLAIN}</p>' for w in WIDTHS]
    assert max(justified_stretch(_document(plain))) < BODY_SPACE_PT
    marked = result.html.split("<p ")[1:]
    assert len(marked) == 2 * len(WIDTHS)
    assert [i for i, tag in enumerate(marked) if tag.startswith('style="width: ') and
            'class="ragged"' in tag.split(">")[0]] == wide_places  # fmt: skip
    assert result.html.replace(' class="ragged"', "") == document


def test_no_line_of_a_chapter_widens_its_spaces_past_twice_a_space(laid_out):
    """What the reader sees: the HTML laid out (the one beside the PDF), every justified line
    measured: no space is widened by more than one space (0.25 em); before the rule, the
    formula's lines were widened by up to twice that."""
    from weasyprint_build.ragged import MAX_STRETCH_EM

    document, result = laid_out
    assert max(justified_stretch(document)) > 1.5 * BODY_SPACE_PT
    assert max(justified_stretch(result.html)) <= MAX_STRETCH_EM * 10.5 + 0.01


def test_the_ragged_marks_in_the_text_follow_the_tree():
    """ragged_document marks the n-th <p> of the chapter in the text as set_ragged marks the
    tree: an existing class kept (quoted or not), an SVG <path> not counted as a paragraph, the
    other chapter untouched; a text with another count of paragraphs is refused."""
    import tinyhtml5

    from weasyprint_build.ragged import ragged_document, set_ragged

    document = (
        '<html><body><section id="a"><p>one</p></section><section id="b">'
        '<p class=note>two</p><svg><path d="M0"/></svg><div><p class=\'x y\'>three</p></div>'
        "<p>four</p></section></body></html>"
    )
    marked = ragged_document(document, "b", [1, 0, 2], 3)
    assert marked == document.replace("<p class=note>", '<p class="note ragged">').replace(
        "<p class='x y'>", '<p class="x y ragged">').replace("<p>four", '<p class="ragged">four')
    tree = tinyhtml5.parse(document, namespace_html_elements=False)
    chapter = next(e for e in tree.iter("section") if e.get("id") == "b")
    set_ragged(chapter, [0, 1, 2])
    assert [p.get("class") for p in tree.iter("p")] == [None, "note ragged", "x y ragged",
                                                      "ragged"]  # fmt: skip
    with pytest.raises(ValueError, match="2 <p> in the text, 3 in the tree"):
        ragged_document(document.replace("<p>four</p>", ""), "b", [0], 3)


def test_the_ragged_paragraphs_are_cached_with_the_moves(laid_out, tmp_path: Path):
    """A second build from the cache marks the same paragraphs without laying them out."""
    from weasyprint_build.pdf import write_pdf

    document, _ = laid_out
    first = write_pdf(document, tmp_path / "one.pdf", tmp_path, floats_cache=tmp_path / "cache")
    again = write_pdf(document, tmp_path / "two.pdf", tmp_path, floats_cache=tmp_path / "cache")
    assert first.placement.laid_out == 1 and again.placement.laid_out == 0
    assert again.placement.ragged == first.placement.ragged
    assert again.html == first.html
