"""The book's layout, checked on the pages of the real course PDF (docs/pdf.md, "Layout rules").

What a program can check of what a reader sees:

- no page break falls between a code cell and its output (the cells and their outputs carry ids,
  so the PDF's named destinations say on which page, and how far down, each one starts);
- the figures are printed in the order of their numbers;
- a short answer cell of an exercise is on one page (its signature and its body);
- nothing is drawn in the left or the bottom margin (test_pages.py checks the right one);
- no page is more than half empty, except the last page of a chapter or of the front matter;
- the text of the figures is at least 7 pt on the page, once a figure is scaled to the text width.

The rest (long names breaking at dots, list markers next to math) is looked at in PNG renders
of the pages; the small functions that do it are tested here too.
"""

from __future__ import annotations

import base64
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
from PIL import Image
from pypdf import PdfReader

from weasyprint_build.highlight import inline_code
from weasyprint_build.render import KEEP_HEIGHT_PT, estimated_height

# The page of style/book.css: A4, margins 24 mm (top) 21 mm (sides) 22 mm (bottom).
PAGE_W_MM, PAGE_H_MM = 210, 297
TOP_MM, SIDE_MM, BOTTOM_MM = 24, 21, 22
TEXT_W_PT = (PAGE_W_MM - 2 * SIDE_MM) / 25.4 * 72  # 476 pt
DPI = 50
MM = DPI / 25.4
INK = 200  # a grey darker than this is ink
MIN_FIGURE_TEXT_PT = 7


# --- helpers -----------------------------------------------------------------------------------
def destinations(pdf: Path) -> dict[str, tuple[int, float]]:
    """Named destination -> (1-based page, millimetres from the top of the page)."""
    reader = PdfReader(pdf)
    found = {}
    for name, destination in reader.named_destinations.items():
        page = reader.get_destination_page_number(destination)
        height = float(reader.pages[page].mediabox.height)
        found[str(name)] = (page + 1, (height - float(destination.top)) / 72 * 25.4)
    return found


def top_level_bookmark_pages(pdf: Path) -> set[int]:
    """1-based pages where a top-level bookmark points: chapters, front and back matter."""
    reader = PdfReader(pdf)
    return {
        reader.get_destination_page_number(item) + 1
        for item in reader.outline
        if not isinstance(item, list)
    }


def code_split_from_output(pdf: Path) -> list[str]:
    """Cells whose output starts at the top of a page while the cell (its code) started on an
    earlier page: the page break fell between the code and its output."""
    places = destinations(pdf)
    split = []
    for name, (page, top) in places.items():
        cell = name.removesuffix("-output")
        if cell == name or cell not in places:
            continue
        if page > places[cell][0] and top < TOP_MM + 2:
            split.append(f"{cell} (pages {places[cell][0]}-{page})")
    return split


def figures_out_of_order(pdf: Path) -> list[str]:
    """Figures printed before one with a smaller number (a float must not overtake another)."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    printed = [
        ((int(match.group(1)), int(match.group(2))), page)
        for page, page_text in enumerate(text.split("\f"), 1)
        for match in re.finditer(r"^Figure (\d+)\.(\d+)\. ", page_text, re.M)
    ]
    return [
        f"Figure {b[0]}.{b[1]} (page {page_b}) after Figure {a[0]}.{a[1]} (page {page_a})"
        for (a, page_a), (b, page_b) in zip(printed, printed[1:])
        if b < a
    ]


def render_pages(pdf: Path, folder: Path) -> list[Image.Image]:
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-png", str(pdf), str(folder / "page")], check=True
    )
    paths = sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    return [Image.open(path).convert("L") for path in paths]


def ink_rows(page: Image.Image, left_mm: float, right_mm: float, top_mm: float, bottom_mm: float):
    """For each pixel row between top_mm and bottom_mm: whether it has ink between the two
    abscissae."""
    box = (int(left_mm * MM), int(top_mm * MM), int(right_mm * MM), int(bottom_mm * MM))
    ink = page.crop(box).point(lambda grey: 255 if grey < INK else 0).tobytes()
    width = box[2] - box[0]
    return [b"\xff" in ink[y * width : (y + 1) * width] for y in range(box[3] - box[1])]


def largest_blank_fraction(page: Image.Image) -> float:
    """The largest run of empty rows of the text block, as a fraction of its height."""
    rows = ink_rows(page, SIDE_MM, PAGE_W_MM - SIDE_MM, TOP_MM, PAGE_H_MM - BOTTOM_MM)
    longest = run = 0
    for has_ink in rows:
        run = 0 if has_ink else run + 1
        longest = max(longest, run)
    return longest / len(rows)


def has_running_header(page: Image.Image) -> bool:
    return any(ink_rows(page, SIDE_MM, PAGE_W_MM - SIDE_MM, 10, TOP_MM - 1))


def half_empty_pages(pdf: Path, starts: set[int], folder: Path) -> dict[int, float]:
    """Pages more than half empty that do not end a chapter or the front matter (the next page
    is in ``starts``, or has no running header), with their largest blank fraction."""
    pages = render_pages(pdf, folder)
    found = {}
    for number, page in enumerate(pages[:-1], 1):
        following = pages[number]
        if number + 1 in starts or not has_running_header(following):
            continue
        blank = largest_blank_fraction(page)
        if blank > 0.5:
            found[number] = round(blank, 2)
    return found


def margin_ink(pdf: Path, folder: Path) -> list[str]:
    """Pages with ink in the left margin, or in the bottom margin beside the page number."""
    found = []
    for number, page in enumerate(render_pages(pdf, folder), 1):
        if any(ink_rows(page, 0, SIDE_MM - 2, 0, PAGE_H_MM)):
            found.append(f"page {number}: left margin")
        bottom = PAGE_H_MM - BOTTOM_MM + 2
        beside = [(0, PAGE_W_MM / 2 - 15), (PAGE_W_MM / 2 + 15, PAGE_W_MM)]
        if any(any(ink_rows(page, a, b, bottom, PAGE_H_MM)) for a, b in beside):
            found.append(f"page {number}: bottom margin")
    return found


_SVG_IMAGE = re.compile(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
_FONT_SIZE = re.compile(r"font(?:-size)?:[^;\"]*?([\d.]+)px")


def small_figure_text(html: str) -> list[str]:
    """Texts of the figures smaller than MIN_FIGURE_TEXT_PT once the figure is on the page (an
    image wider than the text block is shrunk to its width; matplotlib's SVG unit is the pt)."""
    found = []
    for index, match in enumerate(_SVG_IMAGE.finditer(html), 1):
        root = ET.fromstring(base64.b64decode(match.group(1)))
        width = float(re.match(r"[\d.]+", root.get("width", "0")).group())
        scale = min(1.0, TEXT_W_PT / width) if width else 1.0
        for element in root.iter("{http://www.w3.org/2000/svg}text"):
            # a text's size is that of its largest part (a superscript, as in 2^8, is smaller)
            sizes = [
                float(size.group(1))
                for part in element.iter()
                if (size := _FONT_SIZE.search(part.get("style", "")))
            ]
            if sizes and max(sizes) * scale < MIN_FIGURE_TEXT_PT - 0.05:
                text = "".join(element.itertext()).strip()
                found.append(f"figure {index}: {text!r} at {max(sizes) * scale:.1f} pt")
    return found


def answer_cells_split(pdf: Path, solutions: Path) -> list[str]:
    """The short answer cells of the student edition whose signature is on one page and their
    ``raise NotImplementedError()`` on the next (each notebook's cells as nbgrader hands them
    out; a page's text from pdftotext)."""
    from tests.course.pdf.conftest import normalize, pdftotext
    from weasyprint_build.exercises import student_version

    pages = [normalize(page) for page in pdftotext(pdf).split("\f")]
    split = []
    for path in sorted(solutions.glob("*/*.ipynb")):
        notebook = student_version(nbformat.read(path, as_version=4), path)
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if not meta.get("solution") or estimated_height(cell) > KEEP_HEIGHT_PT:
                continue
            signature = next((line for line in cell.source.splitlines()
                              if line.startswith(("def ", "class "))), None)  # fmt: skip
            if signature is None:
                continue
            signature = normalize(signature)  # its last place: the exercise, after the text
            found = [n for n, text in enumerate(pages) if signature in text]
            if found and "raise NotImplementedError()" not in pages[found[-1]].rsplit(
                    signature, 1)[1]:  # fmt: skip
                split.append(f"{path.parent.name}: {signature} (page {found[-1] + 1})")
    return split


# --- the real book ----------------------------------------------------------------------------
def test_a_short_answer_cell_is_never_split_across_pages(course_build):
    """Two answer cells (week 1-data's `def shingles`, week 4's `def sample`) began at a page's
    foot, their body on the next page."""
    assert answer_cells_split(course_build.pdf("student"), course_build.solutions_dir) == []


def test_no_page_break_falls_between_a_code_cell_and_its_output(course_build, edition):
    pdf = course_build.pdf(edition)
    assert any(name.endswith("-output") for name in destinations(pdf))  # the ids are there
    assert code_split_from_output(pdf) == []


def test_figures_are_printed_in_the_order_of_their_numbers(course_build, edition):
    assert figures_out_of_order(course_build.pdf(edition)) == []


def test_nothing_is_drawn_in_the_left_or_bottom_margin(course_build, edition, tmp_path):
    assert margin_ink(course_build.pdf(edition), tmp_path) == []


def test_no_page_is_more_than_half_empty_except_before_a_chapter(
    course_build, edition, tmp_path
):
    result = course_build.results[edition]
    starts = {chapter.page for chapter in result.chapters} | top_level_bookmark_pages(result.pdf)
    assert half_empty_pages(result.pdf, starts, tmp_path) == {}


def test_the_text_of_figures_is_at_least_7_pt(course_build):
    html = course_build.results["student"].html.read_text(encoding="utf-8")
    assert _SVG_IMAGE.search(html)  # the book has figures
    assert small_figure_text(html) == []


# --- the pieces --------------------------------------------------------------------------------
def test_inline_code_breaks_after_dots_and_underscores_of_long_names():
    assert inline_code("llm_keras.models.GPT") == (
        "<code>llm_<wbr>keras.<wbr>models.<wbr>GPT</code>"
    )
    assert inline_code("keras.ops") == "<code>keras.ops</code>"  # short: never broken
    assert inline_code("a < b_c") == "<code>a &lt; b_c</code>"


def test_inline_code_keeps_a_word_with_a_hyphen_whole():
    assert inline_code("-inf") == '<code><span class="nobreak">-inf</span></code>'
    assert inline_code("x = -inf") == '<code>x = <span class="nobreak">-inf</span></code>'
    # a long one may still break after its dots (a 24-character line of week 7's notebook
    # stretched the spaces of its line): only the part with the hyphen stays whole
    assert inline_code("-ops.log(ops.sigmoid(x))") == (
        '<code><span class="nobreak">-ops.</span><wbr>log(ops.<wbr>sigmoid(x))</code>'
    )


def _code_cell(source: str, stdout: str = "", figure: bool = False):
    cell = nbformat.v4.new_code_cell(source)
    if stdout:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stdout)]
    if figure:
        cell.outputs.append(
            nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg/>"})
        )
    return cell


def test_a_cell_is_kept_whole_up_to_about_a_third_of_a_page():
    short = estimated_height(_code_cell("x = 1", "1"))
    long = estimated_height(_code_cell("\n".join(f"x{i} = {i}" for i in range(40)), "done"))
    assert 20 < short < 25 and 41 * 11 < long < 41 * 12
    assert short <= KEEP_HEIGHT_PT < long
    wrapped = estimated_height(_code_cell("x = " + "1" * 150))  # wraps: two lines
    assert wrapped == estimated_height(_code_cell("x = 1\ny = 2"))
    plot = estimated_height(_code_cell("plt.plot(x)\nplt.show()", figure=True))
    assert plot <= KEEP_HEIGHT_PT  # a figure stays with the short code that draws it


def test_a_listing_of_lines_wider_than_the_page_is_set_smaller(tmp_path):
    """Chapter 5's listings print library code of up to 100 columns, which wrapped at column 0."""
    import jupytext

    from tests.course.pdf.conftest import myst_header
    from weasyprint_build.chapters import read_chapter
    from weasyprint_build.math_svg import MathRenderer
    from weasyprint_build.render import Book

    def listing_html(printed: str) -> str:
        path = tmp_path / "01-listing.md"
        path.write_text(myst_header() + "# Listings\n\n```{code-cell} ipython3\n---\ntags: "
                        "[remove-input]\nmystnb:\n  listing:\n    name: lst-a\n    caption: "
                        "Code.\n---\nprint(code)\n```\n")  # fmt: skip
        notebook = jupytext.read(path)
        notebook.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        book = Book(edition="student", math=MathRenderer(None), solutions_dir=tmp_path)
        return book.render_chapter(read_chapter(path, 1), notebook)

    assert 'class="numbered-listing wide"' in listing_html("x = 1\n" + "y" * 93 + "\n")
    assert 'class="numbered-listing"' in listing_html("x = 1\n" + "y" * 92 + "\n")
