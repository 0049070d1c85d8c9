"""The book's layout, checked on the pages of the real course PDF (docs/pdf.md, "Layout rules").

What a program can check of what a reader sees:

- no page break falls between a code cell and its output (the cells and their outputs carry ids,
  so the PDF's named destinations say on which page, and how far down, each one starts);
- the figures are printed in the order of their numbers;
- a short answer cell of an exercise is on one page (its signature and its body);
- nothing is drawn in the left or the bottom margin (test_pages.py checks the right one);
- no page is more than 28 % empty (a run of blank rows of the text block), except the last page
  of a chapter or of the front matter (the worst pages measured when the limit was set, 5 December:
  26 % in both editions);
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
import pytest
from PIL import Image
from pypdf import PdfReader

from tests.course.pdf.conftest import pdftotext
from weasyprint_build.highlight import inline_code
from weasyprint_build.render import KEEP_HEIGHT_PT, estimated_height, keep_last_words

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


MAX_BLANK = 0.28  # of the text block's height, in one run, on a page inside a chapter


def half_empty_pages(
    pdf: Path, starts: set[int], folder: Path, limit: float = MAX_BLANK
) -> dict[int, float]:
    """Pages more than ``limit`` empty that do not end a chapter or the front matter (the next
    page is in ``starts``, or has no running header), with their largest blank fraction."""
    pages = render_pages(pdf, folder)
    found = {}
    for number, page in enumerate(pages[:-1], 1):
        following = pages[number]
        if number + 1 in starts or not has_running_header(following):
            continue
        blank = largest_blank_fraction(page)
        if blank > limit:
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


def wide_gap_lines(pdf: Path, limit_pt: float = 2.5 * 0.25 * 10.5) -> list[str]:
    """The full-width lines of prose whose word gaps (their median, on the page, from poppler's
    word boxes) are wider than ``limit_pt``: by default two and a half spaces of the 10.5 pt
    body text. The gaps beside inline code count its padding too, so a line of prose with
    several names in code measures a little wider than it is justified."""
    import itertools
    import statistics

    xml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    xml = re.sub(r"<!DOCTYPE[^>]*>", "", xml).replace('xmlns="http://www.w3.org/1999/xhtml"', "")
    left, right = SIDE_MM / 25.4 * 72, (PAGE_W_MM - SIDE_MM) / 25.4 * 72  # 59.5 and 535.7 pt
    found = []
    for number, page in enumerate(ET.fromstring(xml).iter("page"), 1):
        for line in page.iter("line"):
            words = [(float(w.get("xMin")), float(w.get("xMax")), w.text or "")
                     for w in line.iter("word")]  # fmt: skip
            if len(words) < 3 or words[0][0] > left + 3 or words[-1][1] < right - 2:
                continue  # not a full-width line: a last line, an indented one, a table's
            gap = statistics.median(b[0] - a[1] for a, b in itertools.pairwise(words))
            if gap > limit_pt:
                found.append(f"page {number}: {gap:.1f} pt: {' '.join(w[2] for w in words)}")
    return found


def test_no_justified_line_opens_gaps_wider_than_two_and_a_half_spaces(course_build, edition):
    """Lines stretched before a formula or a long name that would not break: the paragraph is
    set ragged-right (ragged.py). Before (5 December): 12 lines of each edition wider, up to
    8.7 pt a gap, most before the formulas of chapters 7 and 8; after: the widest 6.2 pt."""
    assert wide_gap_lines(course_build.pdf(edition)) == []


def test_nothing_is_drawn_in_the_left_or_bottom_margin(course_build, edition, tmp_path):
    assert margin_ink(course_build.pdf(edition), tmp_path) == []


def test_no_page_is_more_than_a_third_empty_except_before_a_chapter(
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
        "<code>llm_\u200bkeras.\u200bmodels.\u200bGPT</code>"
    )
    assert inline_code("queue_size") == "<code>queue_\u200bsize</code>"  # two parts, 10 long
    assert inline_code("keras.ops") == "<code>keras.ops</code>"  # short: never broken
    assert inline_code("a_long < b_c_d_e") == (  # 16 characters: one short expression, whole
        '<code><span class="nobreak">a_long &lt; b_c_d_e</span></code>')
    assert inline_code("a_long_name < b_c") == "<code>a_long_\u200bname &lt; b_c</code>"
    # a CamelCase name never breaks before its capitals: unmarked, the halves read as two words
    # ("Layer" / "Norm(epsilon=1e-5)" in a table of the 5 December build)
    assert inline_code("MultiWorkerMirroredStrategy") == "<code>MultiWorkerMirroredStrategy</code>"
    assert "Layer\u200bNorm" not in inline_code("LayerNorm(epsilon=1e-5)")


def test_inline_code_keeps_a_word_with_a_hyphen_whole():
    assert inline_code("-inf") == '<code><span class="nobreak">-inf</span></code>'
    assert inline_code("x = -inf") == '<code><span class="nobreak">x = -inf</span></code>'
    assert inline_code("logits = -inf here") == (  # over 16 characters: the word alone
        '<code>logits = <span class="nobreak">-inf</span> here</code>')
    # a long one may still break after its dots (a 24-character line of week 7's notebook
    # stretched the spaces of its line): only the part with the hyphen stays whole
    assert inline_code("-ops.log(ops.sigmoid(x))") == (
        '<code><span class="nobreak">-ops.</span>\u200blog(ops.\u200bsigmoid(x))</code>'
    )


# Paragraphs of the book whose justified lines had word gaps of three spaces and more (book read
# of 5 December: readI3 1, 2, 6, 8, readS2 1, 3): a code name that did not break went whole to
# the next line.
_GAPPED_PARAGRAPHS = (
    (
        "A character vocabulary has no padding token, and transformers wants one: given the "
        "newline's id as ``pad_token_id``, it would take the prompt's newline for padding and mask "
        "it, unless the ``attention_mask`` says that every token is real."
    ),
    (
        "TensorFlow uses it for float32 products on these GPUs by default; PyTorch only when "
        "``torch.backends.cuda.matmul.allow_tf32`` is set. The fp32 rows above assume it is off."
    ),
    (
        "A generation keeps a CPU busy, so at most a few generations run at once (one by default, "
        "``--concurrency`` on the command line) and at most ``queue_size`` requests wait."
    ),
)


def justified_stretch(document: str) -> list[float]:
    """For each line of each <p> but its last, the space WeasyPrint added to each of its word
    spaces to justify it (pt), laid out with the book's fixes to WeasyPrint."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    from weasyprint_build.pdf import weasyprint_fixed

    with weasyprint_fixed():
        pages = HTML(string=document).render().pages

    def texts(box):
        if isinstance(box, boxes.TextBox):
            yield box
        for child in getattr(box, "children", []):
            yield from texts(child)

    def walk(box):
        if isinstance(box, boxes.BlockBox) and box.element_tag == "p":
            lines = [line for line in box.children if isinstance(line, boxes.LineBox)]
            for line in lines[:-1]:
                yield max(getattr(text, "justification_spacing", 0) or 0 for text in texts(line))
            return
        for child in getattr(box, "children", []):
            yield from walk(child)

    return [px * 0.75 for page in pages for px in walk(page._page_box)]  # CSS px -> pt


def test_long_code_names_do_not_open_wide_gaps_in_justified_lines():
    """The paragraphs above at the 31 widths of 446-476 pt (the text block: 476 pt), with the
    book's CSS: no word space is stretched by more than 1.5 spaces (a space of the 10.5 pt body
    text: 2.6 pt). Before: 6.2 pt (3.4 spaces wide); WeasyPrint did not break a name inside a
    <code> with a left padding (style/book.css) nor between two boxes (<wbr>)."""
    from weasyprint_build.document import STYLESHEET
    from weasyprint_build.render import _inline_code

    css = STYLESHEET.read_text(encoding="utf-8")
    document = f"<html lang='en'><head><style>{css}</style></head><body>" + "".join(
        f'<p style="width: {width}pt; break-inside: avoid">{_inline_code(text)}</p>'
        for width in range(446, 477) for text in _GAPPED_PARAGRAPHS) + "</body></html>"
    stretch = justified_stretch(document)
    assert len(stretch) > 120  # (3 paragraphs x 31 widths, their lines but the last)
    assert max(stretch) < 1.5 * 2.625


def test_a_number_and_its_unit_stay_on_one_line_in_prose():
    """"down to 10" / "% for 10-grams" (book read 5 December, readI1 5): the notebooks write a
    space before "%". The prose's space between a number and its unit is a no-break space; code
    is left as it is. The sentence at 120 widths, 0.5 pt apart: no line starts with a unit."""
    from weasyprint import HTML

    from weasyprint_build.render import prose_renderer

    markdown = prose_renderer().md
    text = "15 % for 5-grams, 14 % for 6-grams, down to 10 % for 10-grams, in 1.7 s on 5.1 MB."
    assert markdown.render(text) == (
        "<p>15\u00a0% for 5-grams, 14\u00a0% for 6-grams, down to 10\u00a0% for 10-grams, "
        "in 1.7\u00a0s on 5.1\u00a0MB.</p>\n")
    assert "x = 10 % 3" in markdown.render("`x = 10 % 3` and 3 sequences of 2 models")
    assert "3 sequences of 2 models" in markdown.render("3 sequences of 2 models")
    document = "<style>p { font: 10.5pt serif; margin: 0; text-align: justify }</style>" + "".join(
        f'<p lang="en" style="width: {60 + i * 0.5:.1f}pt">{markdown.render(text)[3:-5]}</p>'
        for i in range(120))
    lines = [line for lines in paragraph_lines(HTML(string=document).render()) for line in lines]
    assert len(lines) > 600
    assert [line for line in lines if re.match(r"(%|s |MB)", line)] == []


def test_a_chat_token_in_inline_code_is_one_unbreakable_word():
    """``<|user|>`` broke after "<|" at a line's end (UAX #14 allows a break after a bar).
    The same sentence at 200 widths, 0.5 pt apart: no line ends inside a token."""
    from weasyprint import HTML

    assert inline_code("<|user|>") == '<code><span class="nobreak">&lt;|user|&gt;</span></code>'
    assert inline_code("<|endoftext|>") == (
        '<code><span class="nobreak">&lt;|endoftext|&gt;</span></code>')
    assert inline_code("ab|cd.long_name_x") == (
        '<code><span class="nobreak">ab|cd.</span>\u200blong_\u200bname_x</code>')
    tokens = ("<|user|>", "<|assistant|>", "<|end|>", "<|endoftext|>")
    words = "The template writes " + ", then ".join(
        f"{inline_code(token)} and some words" for token in tokens) + "."
    document = (
        "<style>@page { size: A3; margin: 1cm } p { font: 10.5pt serif; margin: 0 0 4pt; "
        "text-align: justify } code { font: 9pt monospace } .nobreak { white-space: nowrap }"
        "</style>"
        + "".join(f'<p lang="en" style="width: {80 + i * 0.5:.1f}pt">{words}</p>'
                  for i in range(200))
    )
    lines = [line for lines in paragraph_lines(HTML(string=document).render()) for line in lines]
    cut = [line for line in lines if re.search(r"<\|?\w*$|<$", line)]
    assert len(lines) > 1000 and cut == []


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
    # the code a listing prints is highlighted as code, not set as plain output (book read of
    # 5 December: Listings 5.5-5.8 were the only code of the book in black)
    printed = listing_html("def f(x):\n    return x + 1\n")
    assert '<pre class="code printed"' in printed and '<pre class="output"' not in printed
    assert re.search(r'<span style="[^"]*">def</span>', printed)


# --- captions and stray lines ------------------------------------------------------------------
_FIGCAPTION = re.compile(r"<figcaption>(.*?)</figcaption>", re.S)


def caption_widows(html: str) -> list[str]:
    """Captions whose last word could be left alone on their last line: the space before it is
    a breaking one."""
    found = []
    for match in _FIGCAPTION.finditer(html):
        text = re.sub(r"<[^>]*>", "", match.group(1)).strip()
        if " " in text.rsplit("\u00a0", 1)[-1] or ("\u00a0" not in text and " " in text):
            found.append(text[-60:])
    return found


def test_a_caption_keeps_its_last_two_words_together():
    assert keep_last_words("The loss of a run") == "The loss of a\u00a0run"
    assert keep_last_words('shown in <a href="#f">Figure 1.2</a>.') == (
        'shown in <a href="#f">Figure\u00a01.2</a>.'
    )
    assert keep_last_words("<code>a b</code> c <em>d</em>") == "<code>a b</code> c\u00a0<em>d</em>"
    assert keep_last_words("one") == "one"
    assert caption_widows("<figcaption>a b c</figcaption>") == ["a b c"]


def test_no_caption_of_the_book_can_end_with_one_word_on_its_line(course_build, edition):
    """Two captions (pages 46 and 48 of a student edition) ended with a one-word line."""
    html = course_build.results[edition].html.read_text(encoding="utf-8")
    assert _FIGCAPTION.search(html)
    assert caption_widows(html) == []


_COVER_LINE = re.compile(r'<p class="cover-(?:title|subtitle|edition)">(.*?)</p>', re.S)


def test_the_covers_title_and_edition_keep_their_last_two_words_together(course_build, edition):
    """The instructor cover printed "teaching" / "notes" (and the title "Scratch") alone."""
    html = course_build.results[edition].html.read_text(encoding="utf-8")
    lines = _COVER_LINE.findall(html)
    assert len(lines) == 3
    assert caption_widows("".join(f"<figcaption>{line}</figcaption>" for line in lines)) == []


def paragraph_lines(rendered) -> list[list[str]]:
    """The lines of each <p> of a rendered WeasyPrint document, as texts."""
    from weasyprint.formatting_structure import boxes

    paragraphs: list[list[str]] = []

    def text_of(box) -> str:
        own = box.text if isinstance(box, boxes.TextBox) else ""
        return own + "".join(text_of(child) for child in getattr(box, "children", []))

    def walk(box, lines):
        if isinstance(box, boxes.LineBox):
            lines.append(text_of(box).strip())
            return
        if isinstance(box, boxes.BlockBox) and box.element_tag == "p":
            lines = []
            paragraphs.append(lines)
        for child in getattr(box, "children", []):
            walk(child, lines)

    for page in rendered.pages:
        walk(page._page_box, None)
    return paragraphs


def stray_lines(layout_text: str) -> list[str]:
    """Lines of prose (pdftotext -layout) that hold one word between two full lines, the next
    starting in lower case: a paragraph broken in its middle. Page 1 (the cover) is left out."""
    found = []
    for number, page in enumerate(layout_text.split("\f")[1:], 2):
        lines = page.split("\n")
        for before, line, after in zip(lines, lines[1:], lines[2:]):
            word = line.strip()
            if (
                line == word
                and re.fullmatch(r"[A-Za-z\u2010-]+[,.;:]?", word)
                and len(before) >= 70
                and not before.startswith(" ")
                and re.search(r"[A-Za-z\u2010,]$", before)
                and len(after) >= 70
                and re.match(r"[a-z]", after)
            ):
                found.append(f"page {number}: {before[-30:]!r} / {word!r} / {after[:30]!r}")
    return found


def test_a_line_that_fits_without_its_last_space_is_not_cut_after_its_first_word():
    """WeasyPrint 70 alone, on a paragraph whose text before an inline element fits its line
    only without its last space, prints the line's first word alone ("without / the / cache");
    weasyprint_build.pdf works around it. The same paragraph at 300 widths, 0.2 pt apart."""
    from weasyprint import HTML

    from weasyprint_build.pdf import weasyprint_fixed

    text = (
        "The model is small and its context short, so a step without the cache is only sixty-four "
        "positions of work; the gain grows with the <code>context</code> and more."
    )
    widths = [150 + i * 0.2 for i in range(300)]
    document = (
        "<style>@page { size: A3; margin: 1cm } p { font: 10.5pt serif; margin: 0 0 4pt; "
        "hyphens: auto; text-align: justify }</style>"
        + "".join(f'<p lang="en" style="width: {width:.1f}pt">{text}</p>' for width in widths)
    )

    def one_word_lines(rendered):
        return [line for lines in paragraph_lines(rendered) for line in lines[:-1]
                if len(line.split()) == 1]  # fmt: skip

    assert one_word_lines(HTML(string=document).render())  # the bug, without the work-around
    with weasyprint_fixed():
        assert one_word_lines(HTML(string=document).render()) == []
    assert stray_lines("x\f" + "a" * 70 + " without\nthe\n" + "cache" + " a" * 40) == [
        "page 2: " + repr("a" * 22 + " without") + " / 'the' / " + repr("cache" + " a" * 12 + " ")
    ]


def test_no_line_of_the_book_holds_a_paragraph_s_word_alone(course_build, edition):
    """"without / the / cache" (chapter 5) and "Py- / Torch," (each "Before you hand it in")."""
    from tests.course.pdf.conftest import pdftotext

    assert stray_lines(pdftotext(course_build.pdf(edition), layout=True)) == []


def test_the_text_of_the_gradio_picture_is_at_least_7_pt_in_the_book():
    """Figure 5.3 (the demo in Chromium) was taken 1,100 px wide and printed its text at 4-5 pt.
    browser.save_pictures records the smallest font size on the page it pictured; the SVG is
    shrunk to the text block's width when it is wider."""
    import json

    figures = Path(__file__).resolve().parents[3] / "course" / "figures"
    text = json.loads((figures / "gradio-demo-text.json").read_text())
    root = ET.parse(figures / "gradio-demo.svg").getroot()
    width_pt = float(re.match(r"[\d.]+", root.get("width")).group())
    assert abs(width_pt - text["width_px"] * 0.75) < 1  # the picture of that window
    printed = text["smallest_text_px"] * 0.75 * min(1.0, TEXT_W_PT / width_pt)
    assert printed >= MIN_FIGURE_TEXT_PT, f"{printed:.1f} pt"


# (a kept cell that a page break pushed is "may-split" in the HTML: floats.py)
_CHECK_CELL = re.compile(r'<div class="exercise-cell check( keep| may-split)?"(?: id="[^"]+")?>'
                         r".*?<pre[^>]*>(.*?)</pre>", re.S)


def test_a_long_check_cell_may_split_and_a_short_one_stays_whole(course_build):
    """A 17-line check cell kept whole left 36 % of page 38 (student edition) blank; a check
    cell's lines are independent checks, so one of more than 10 lines may split."""
    html = course_build.results["student"].html.read_text(encoding="utf-8")
    cells = [(bool(keep), code.count("\n") + 1) for keep, code in _CHECK_CELL.findall(html)]
    assert any(keep for keep, _ in cells) and any(not keep for keep, _ in cells)
    assert [lines for keep, lines in cells if keep and lines > 10] == []
    assert [lines for keep, lines in cells if not keep and lines <= 8] == []


def test_the_contents_fit_on_two_pages_before_the_list_of_figures(course_build, edition):
    """The contents' third page held 4 lines (the list of figures started on page 5)."""
    from tests.course.pdf.conftest import pdftotext

    pdf = course_build.pdf(edition)
    reader = PdfReader(pdf)
    tops = {item.title: reader.get_destination_page_number(item) + 1
            for item in reader.outline if not isinstance(item, list)}  # fmt: skip
    assert pdftotext(pdf, 2).lstrip().startswith("Contents")
    assert "Index" in pdftotext(pdf, 3)  # the contents' last entry
    assert tops["List of figures"] == 4
    assert pdftotext(pdf, 4).lstrip().startswith("List of figures")


def _split_code_tails(top_pt: float, cell: str | None = None, shown_only: bool = False
                      ) -> list[float]:
    """A cell (default: a 20-line check cell) below a block ``top_pt`` high, laid out with the
    book's CSS: for each fragment of a code box that ends a page, the height of the box below
    its last line (pt), padding and border included; ``shown_only``: below its last line that
    shows some text (a blank line of the code is not counted)."""
    from weasyprint import HTML
    from weasyprint.formatting_structure.boxes import LineBox, ParentBox, TextBox

    from weasyprint_build.document import STYLESHEET
    from weasyprint_build.highlight import highlight
    from weasyprint_build.pdf import weasyprint_fixed

    if cell is None:
        code = "\n".join(f"assert check_{i}(x) == {i}, 'check {i} failed'" for i in range(20))
        cell = (
            '<div class="exercise-cell check"><p class="cell-label">Check</p>'
            f'{highlight(code, "ipython3", "code input")}</div>'
        )
    document = (
        f"<html><head><style>{STYLESHEET.read_text(encoding='utf-8')}</style></head><body>"
        f'<div style="height: {top_pt}pt"></div>{cell}<p>After the cell.</p></body></html>'
    )
    with weasyprint_fixed():
        pages = HTML(string=document).render().pages

    def walk(box):
        yield box
        if isinstance(box, ParentBox) and not isinstance(box, LineBox):
            for child in box.children:
                yield from walk(child)

    def shows_text(line) -> bool:
        stack = [line]
        while stack:
            box = stack.pop()
            if isinstance(box, TextBox) and box.text.strip():
                return True
            stack.extend(getattr(box, "children", None) or [])
        return False

    tails = []
    for page in pages[:-1]:
        for box in walk(page._page_box):
            if box.element_tag == "pre" and not isinstance(box, LineBox):
                last = max(line.position_y + line.height for line in box.children
                           if not shown_only or shows_text(line))  # fmt: skip
                bottom = box.border_box_y() + box.border_height()
                tails.append((bottom - last) * 0.75)  # CSS px -> pt
    return tails


def test_a_code_box_split_across_pages_ends_after_its_last_line():
    """WeasyPrint stretches a split box to the bottom of the page; a check cell whose last
    lines ``widows`` carried over showed its background for up to four empty lines (the
    student edition's page 45: 42 pt). The box ends at its last line, padding and border below
    (1.6 mm, 4.5 pt)."""
    tails = [tail for top in range(440, 560, 6) for tail in _split_code_tails(top)]
    assert len(tails) >= 10  # the cell did split
    assert max(tails) < 5, [round(tail, 1) for tail in tails]


def test_a_kept_cell_split_before_its_output_leaves_no_band_in_its_code_box():
    """A six-line cell pushed to the next page splits in its code (``may-split``), three lines
    each side, and its output may not start a page (``break-before: avoid``): WeasyPrint then
    goes back to a break inside the code box and kept the whole box's height in the first
    fragment, an empty band three lines tall (the book's pages 50, 52, 151 and 157 of the
    instructor edition, 5 December). The fragment ends after its third line."""
    from weasyprint_build.highlight import highlight

    code = "\n".join(f"line_{i} = compute(x, {i})" for i in range(6))
    cell = (
        '<div class="cell may-split">'
        f'{highlight(code, "ipython3", "code input")}'
        '<pre class="output">output 1\noutput 2\noutput 3</pre></div>'
    )
    tails = [tail for top in range(560, 680, 5) for tail in _split_code_tails(top, cell)]
    assert len(tails) >= 5  # the cell did split
    assert max(tails) < 5, [round(tail, 1) for tail in tails]


def _lay_out_chapter(text_pt: float, body: str, tmp_path: Path, name: str):
    """A chapter: a block ``text_pt`` high, ``body``, then three paragraphs of ten lines; laid
    out with the book's CSS (figures moved by floats.py). Returns the PdfResult (``source``: the
    HTML before the moves) and the rendered pages."""
    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET
    from weasyprint_build.pdf import write_pdf

    words = "The residual stream carries every layer's output to the next one. " * 14
    paragraphs = "".join(f"<p>{number}: {words}</p>" for number in range(1, 4))
    css = STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")
    document = (
        f"<html><head><style>{css}</style></head><body><main>"
        '<section class="chapter" id="chapter-1">'
        f'<div style="height: {text_pt}pt; background: #888"></div>'
        f"{body}{paragraphs}</section></main></body></html>"
    )
    result = write_pdf(document, tmp_path / f"{name}.pdf", tmp_path)
    result.source = document
    (tmp_path / name).mkdir()
    return result, render_pages(result.path, tmp_path / name)


def _chapter_with_a_figure(text_pt: float, tmp_path: Path, name: str, then: str = ""):
    """``_lay_out_chapter`` with a kept cell with a 330 pt figure, then ``then``. Returns the
    PdfResult and the largest blank fraction of each page but the last."""
    figure = (
        '<div class="cell keep" id="cell-1-1"><figure class="numbered-figure" id="fig-a">'
        '<div style="height: 330pt; background: #888"></div>'
        "<figcaption>Figure 1.1. A figure.</figcaption></figure></div>"
    )
    result, pages = _lay_out_chapter(text_pt, figure + then, tmp_path, name)
    return result, [largest_blank_fraction(page) for page in pages[:-1]]


def test_a_figure_that_does_not_fit_goes_after_the_next_paragraph(tmp_path):
    """A figure 330 pt high below 400 pt of text does not fit (the text block is 711 pt): it
    went to the next page and left 43 % of the page blank. It now follows the paragraphs after
    it that fill the gap (three of ten lines: 311 pt are left on the page, 10 lines are about
    150 pt); a figure that fits (below 200 pt of text) stays where it is."""
    pushed, blanks = _chapter_with_a_figure(400, tmp_path, "pushed")
    assert [(m.unit, m.past) for m in pushed.placement.moves["chapter-1"]] == [("cell-1-1", 3)]
    assert max(blanks) < 0.1, blanks
    assert pushed.anchors["fig-a"] == 1  # the second page, after paragraph 1
    # the HTML beside the PDF is the document laid out: the figure after the three paragraphs,
    # the rest of the text as the renderer wrote it
    figure = pushed.source[pushed.source.index('<div class="cell keep"') :]
    figure = figure[: figure.index("</figure></div>") + 15]  # the cell and its figure
    paragraphs = "".join(f"<p>{n}: " + pushed.source.split(f"<p>{n}: ")[1].split("</p>")[0]
                         + "</p>" for n in (1, 2, 3))  # fmt: skip
    assert pushed.html == pushed.source.replace(figure + paragraphs, paragraphs + "\n" + figure)
    fits, blanks = _chapter_with_a_figure(200, tmp_path, "fits")
    assert fits.placement.moves["chapter-1"] == []
    assert fits.anchors["fig-a"] == 0


def test_a_figure_and_the_table_right_after_it_move_together_in_their_order(tmp_path):
    """A pushed figure followed at once by a table (Figure 2.3 and Table 2.4 of the course,
    35 % of page 32 blank): both follow the paragraphs after them, the figure first."""
    table = (
        '<figure class="numbered-table" id="tab-a"><figcaption>Table 1.1. A table.'
        '</figcaption><div style="height: 60pt; background: #888"></div></figure>'
    )
    pushed, blanks = _chapter_with_a_figure(400, tmp_path, "group", then=table)
    moves = [(m.unit, m.past) for m in pushed.placement.moves["chapter-1"]]
    # the table's move first, so the figure ends first; past the two paragraphs on the page the
    # group went to (the third is on the page after: its height is not known to fill the gap)
    assert moves == [("tab-a", 2), ("cell-1-1", 2)]
    assert max(blanks) < 0.1, blanks
    figure, table = pushed.anchors["fig-a"], pushed.anchors["tab-a"]
    assert (figure, table) == (1, 1)


def test_the_moves_made_in_the_html_text_give_the_tree_laid_out():
    """The HTML beside the PDF gets the moves in its text (the rest kept character for
    character); its elements come in the order of the tree WeasyPrint laid out, whatever the
    markup between: void elements, SVG's self-closed ones, ">" in an attribute, a comment."""
    import tinyhtml5

    from weasyprint_build.floats import Move, apply_moves, ids_in_order, moved_document

    document = (
        '<html><head></head><body><section class="chapter" id="c">'
        '<div class="cell keep" id="u"><figure id="f"><svg viewBox="0 0 1 1"><path d="M0"/>'
        '<title>x</title></svg><img src="a.svg"></figure></div>\n'
        '<p id="p1">a<br>b <span data-tex="a > b" id="m">a</span></p>'
        "<!-- a comment -->"
        '<ul id="l"><li>one<wbr>two</li></ul><p id="p2">c</p>'
        '<figure id="t"><figcaption>t</figcaption></figure><p id="p3">d</p></section></body></html>'
    )
    moves = [Move("u", 3), Move("t", 1)]
    moved = moved_document(document, moves)
    tree = tinyhtml5.parse(document)
    apply_moves(tree, moves)
    laid_out = [e.get("id") for e in tree.iter() if isinstance(e.tag, str) and e.get("id")]
    assert ids_in_order(moved) == laid_out == ["c", "p1", "m", "l", "u", "f", "p2", "p3", "t"]
    assert moved.replace("\n", "") != document.replace("\n", "")
    assert sorted(moved.replace("\n", "")) == sorted(document.replace("\n", ""))


def _chapter_with_a_kept_cell(text_pt: float, tmp_path: Path, name: str):
    """``_lay_out_chapter`` with a kept code cell of 20 lines and a 3-line output (about
    300 pt). Returns the PdfResult, the largest blank fraction of each page but the last, and
    the text of each page."""
    from weasyprint_build.highlight import highlight
    from weasyprint_build.outputs import text_block

    code = "\n".join(f"line_{n} = {n}  # the code of the cell" for n in range(1, 21))
    output = text_block("\n".join(f"output {n}" for n in range(1, 4)), "output")
    cell = (
        f'<div class="cell keep" id="cell-1-1">{highlight(code, "ipython3", "code input")}'
        f'<div class="outputs" id="cell-1-1-output">{output}</div></div>'
    )
    result, pages = _lay_out_chapter(text_pt, cell, tmp_path, name)
    texts = [pdftotext(result.path, page) for page in range(1, len(pages) + 1)]
    return result, [largest_blank_fraction(page) for page in pages[:-1]], texts


def test_a_kept_code_cell_pushed_to_the_next_page_splits_in_its_code_instead(tmp_path):
    """A 20-line cell and its output (about 300 pt) below 560 pt of text does not fit in the
    151 pt left (the text block is 711 pt): kept whole, it went to the next page and left 21 %
    of the page blank. It does not float (the paragraphs after a code cell read its output):
    it splits in its code, three lines at least on the first page, its output with the code's
    last lines (no page break between code and output). One that fits stays whole."""
    pushed, blanks, texts = _chapter_with_a_kept_cell(560, tmp_path, "pushed")
    moves = pushed.placement.moves["chapter-1"]
    assert [(m.unit, m.past, m.split) for m in moves] == [("cell-1-1", 0, True)]
    assert max(blanks) < 0.1, blanks
    first, second = texts[0], texts[1]  # (anchors name a split box's last page)
    assert "line_3 = 3" in first and "line_18 = 18" in second and "output 1" in second
    assert "output" not in first and "line_1 = 1" not in second
    assert "<p>1: " in pushed.html and 'class="cell may-split" id="cell-1-1"' in pushed.html
    fits, blanks, texts = _chapter_with_a_kept_cell(300, tmp_path, "fits")
    assert fits.placement.moves["chapter-1"] == []
    assert fits.anchors["cell-1-1"] == 0 and "line_20 = 20" in texts[0] and "output 3" in texts[0]


def test_a_move_that_pushes_the_next_figure_stands_when_the_next_round_moves_that_one(tmp_path):
    """Figure a (330 pt below 400 pt of text) moves after the two paragraphs that fill its gap,
    which pushes figure b, two paragraphs on, to the next page with 44 % of its page blank.
    The pass undid the first move at once (the chapter kept its 44 % gap); it now lets the next
    round move figure b too, and keeps the last round whose emptiest page is within the limit
    (ACCEPTABLE, or the emptiest page before any move)."""
    words = "The residual stream carries every layer's output to the next one. "
    then = (
        f"<p>a: {words * 14}</p><p>b: {words * 20}</p>"
        '<div class="cell keep" id="cell-1-2"><figure class="numbered-figure" id="fig-b">'
        '<div style="height: 330pt; background: #888"></div>'
        "<figcaption>Figure 1.2. Another figure.</figcaption></figure></div>"
    )
    result, blanks = _chapter_with_a_figure(400, tmp_path, "cascade", then=then)
    moves = [(m.unit, m.past) for m in result.placement.moves["chapter-1"]]
    assert moves == [("cell-1-1", 2), ("cell-1-2", 3)]
    assert max(blanks) < 0.1, blanks
    assert result.anchors["fig-a"] < result.anchors["fig-b"]


def test_a_listing_in_a_long_cell_splits_with_its_caption_above_its_first_lines(tmp_path):
    """A 40-line listing (a long cell: not kept) below 400 pt of text: kept whole as a figure,
    it went to the next page and left 43 % of the page blank (Listing 4.6 of the course, 560 pt:
    24 %, then 40 % once the figures before it had moved). It splits like the cell's code."""
    from weasyprint_build.highlight import highlight

    code = "\n".join(f"line_{n} = {n}  # the code of the cell" for n in range(1, 41))
    cell = (
        '<div class="cell" id="cell-1-1"><figure class="numbered-listing" id="lst-a">'
        '<figcaption><span class="caption-number">Listing 1.1.</span> A long listing.'
        f'</figcaption>{highlight(code, "ipython3", "code input")}</figure></div>'
    )
    result, pages = _lay_out_chapter(400, cell, tmp_path, "listing")
    assert largest_blank_fraction(pages[0]) < 0.1
    first, second = pdftotext(result.path, 1), pdftotext(result.path, 2)
    assert "Listing 1.1." in first and "line_3 = 3" in first and "line_40 = 40" in second


def test_a_paragraph_ending_with_a_colon_before_code_is_a_lead_in():
    """render.mark_lead_ins: a paragraph that ends with a colon and stands right before a code
    cell, a code block, an equation or a table without a caption (week 2's list of weight
    names: page 53 of 5 December ended with its lead-in); not one before other text, nor a
    colon inside code in the middle of a paragraph, nor one before a figure, a numbered table or
    a cell that draws one (those float: the text names them by their number)."""
    from weasyprint_build.render import mark_lead_ins

    html = ('<p>It prints:</p>\n<div class="cell keep" id="c">x</div>'
            "<p>Not <code>a:</code> one.</p><p>Says:</p><p>then text</p>"
            '<p>A <em>block</em>:</p>\n<pre class="code">y</pre><p>As (1.1):</p>'
            '<div class="equation">z</div><p>Shows:</p><figure class="numbered-table"></figure>'
            '<p>Draws:</p><div class="cell keep" id="d"><pre>plot</pre><figure>f</figure></div>'
            "<p>Names:</p>\n<table><tr><td>w</td></tr></table>")
    marked = mark_lead_ins(html)
    assert re.findall(r'<p class="lead-in">(.*?)</p>', marked) == [
        "It prints:", "A <em>block</em>:", "As (1.1):", "Names:"]
    assert "<p>Says:</p>" in marked and "<p>Not <code>a:</code> one.</p>" in marked
    assert "<p>Shows:</p>" in marked and "<p>Draws:</p>" in marked


def _chapter_with_a_lead_in(text_pt: float, tmp_path: Path, name: str):
    """``_lay_out_chapter``: a two-line paragraph that ends "... it prints:", then a kept cell
    of 8 lines and its output. Returns the text of each page."""
    from weasyprint_build.highlight import highlight
    from weasyprint_build.outputs import text_block
    from weasyprint_build.render import mark_lead_ins

    code = "\n".join(f"value_{n} = {n}  # a line of the cell" for n in range(1, 9))
    lead_in = ("<p>The second asks for eight devices, each with a micro-batch of twelve "
               "sequences, and the second stage of the sharded optimizer; it prints:</p>")
    cell = (f'{lead_in}<div class="cell keep" id="cell-1-1">'
            f'{highlight(code, "ipython3", "code input")}<div class="outputs">'
            f'{text_block("the table", "output")}</div></div>')  # fmt: skip
    result, pages = _lay_out_chapter(text_pt, mark_lead_ins(cell), tmp_path, name)
    return [pdftotext(result.path, page) for page in range(1, len(pages) + 1)]


def test_a_lead_in_never_ends_a_page_without_what_it_introduces(tmp_path):
    """The paragraph before a cell that ends "it prints:" ended a page with the cell on the
    next (the book read of 5 December: nine places, both editions). Laid out ever lower on its
    page, the sentence's page also shows the cell's first line: the cell splits after it, or
    the sentence goes to the next page with the cell."""
    placed = []
    for text_pt in range(520, 700, 12):
        texts = _chapter_with_a_lead_in(text_pt, tmp_path, f"lead-{text_pt}")
        page = next(i for i, text in enumerate(texts) if "it prints:" in " ".join(text.split()))
        assert "value_1 = 1" in texts[page], (text_pt, texts[page][-300:])
        placed.append(page)
    assert set(placed) == {0, 1}  # at some heights the sentence did fit on the first page


def test_a_figure_never_moves_to_stand_after_a_lead_in(tmp_path):
    """A pushed figure followed by "Run it:" and the command it introduces, then text: the
    figure moved past the sentence alone, between it and its command (as Figure 2.3 stood
    between "Table 2.4 shows ...:" and the table, the book read of 5 December): without the
    rule it moves past one element here. It goes past what the sentence introduces too when
    that is on the page (a block the book does not run, or a code cell: the figure prints no
    code of its own), or stays before the sentence."""
    from weasyprint_build.highlight import highlight
    from weasyprint_build.render import mark_lead_ins

    cell = highlight("x = 1", "ipython3", "code input")
    for name, introduced in (
        ("static", highlight("llm-keras train --preset tiny", "bash", "code static")),
        ("cell", f'<div class="cell keep" id="cell-1-2">{cell}</div>'),
    ):
        long = "The run writes its log as it goes, one line for each evaluation. " * 40
        then = mark_lead_ins(f"<p>{long}Run it, then read the log as it goes:</p>{introduced}")
        assert 'class="lead-in"' in then
        pushed, _ = _chapter_with_a_figure(400, tmp_path, f"lead-in-{name}", then=then)
        moved = [(m.unit, m.past) for m in pushed.placement.moves["chapter-1"] if not m.split]
        assert ("cell-1-1", 1) not in moved, (name, moved)
        text = pushed.html
        between = text[text.index("goes:</p>"): text.index(introduced[:20])]
        assert "fig-a" not in between


def test_a_figure_never_moves_to_stand_beside_a_displayed_equation(tmp_path, monkeypatch):
    """Table 8.8 stood between equation (8.9) and "which has the same mean, because ..." (the
    book of 5 December, page 152): a sentence runs through its equation. A pushed figure, then
    "... proposed the k3 estimator", an equation and "which has the same mean ...", at two
    lengths of the first paragraph: the figure never stands between them (it goes past the
    sentence's end, or stays). Without the rule it moved past two elements, to stand after the
    equation."""
    from weasyprint_build import floats

    def laid_out(repeats: int, name: str) -> tuple[list[tuple[str, int]], str]:
        words = "The estimate has the right mean but is negative for some tokens. " * repeats
        then = (f"<p>{words}Schulman proposed the k3 estimator</p>"
                '<div class="equation" style="height: 60pt">k3 = u - log u - 1 (1.1)</div>'
                "<p>which has the same mean, and is never negative.</p>")  # fmt: skip
        pushed, _ = _chapter_with_a_figure(400, tmp_path, name, then=then)
        moves = [(m.unit, m.past) for m in pushed.placement.moves["chapter-1"] if not m.split]
        text = pushed.html
        return moves, text[text.index("Schulman proposed"): text.index("which has the same")]

    for repeats in (24, 26):
        moves, sentence = laid_out(repeats, f"equation-{repeats}")
        assert "fig-a" not in sentence, (repeats, moves)
    assert laid_out(24, "equation-24-again")[0] == [("cell-1-1", 3)]
    monkeypatch.setattr(floats, "_joined", lambda before, after: floats._is_lead_in(before))
    moves, sentence = laid_out(24, "equation-without-the-rule")
    assert moves == [("cell-1-1", 2)] and "fig-a" in sentence


def test_a_figure_never_moves_to_stand_after_a_colon_that_introduces_another(tmp_path,
                                                                             monkeypatch):
    """Table 8.8 moved to stand between "... from samples of the first (Table 8.9):" and
    Table 8.9 (the book of 5 December, once the equation rule above was in): a paragraph that
    introduces a figure is not a lead-in (figures float), but no moved figure may follow it.
    Without the rule the pushed figure moves past that one paragraph."""
    from weasyprint_build import floats

    words = "The two estimates are compared on two small distributions. " * 24
    then = (f"<p>{words}From samples of the first (Table 1.2):</p>"
            '<figure class="numbered-table" id="tab-b"><div style="height: 100pt"></div>'
            "<figcaption>Table 1.2. Two estimates.</figcaption></figure>")  # fmt: skip

    def moves(name: str) -> list[tuple[str, int]]:
        pushed, _ = _chapter_with_a_figure(400, tmp_path, name, then=then)
        return [(m.unit, m.past) for m in pushed.placement.moves["chapter-1"] if not m.split]

    assert ("cell-1-1", 1) not in moves("colon")
    monkeypatch.setattr(floats, "_introduces", floats._is_lead_in)
    assert ("cell-1-1", 1) in moves("colon-without-the-rule")


def test_a_heading_keeps_its_last_two_words_together():
    """"2.13 Exercise: Data curation: near-duplicates, token shards and a quality" / "rule" (the
    book read of 5 December): a heading's last two words are in a no-break span; a heading of
    one word after its number is left as it is."""
    from weasyprint_build.render import keep_heading_words

    html = ('<h2 id="s"><span class="number">2.13</span> Exercise: a quality rule</h2>'
            '<p>a quality rule</p><h3 class="exercise-heading">One two</h3>'
            '<h1><span class="number">1</span> Introduction</h1>')
    kept = '<span class="nobreak">'
    assert keep_heading_words(html) == html.replace(
        "quality rule</h2>", f"{kept}quality rule</span></h2>").replace(
        ">One two<", f">{kept}One two</span><")  # (the bookmarks keep a plain space)


def _paragraph_lines(document: str) -> list[list[str]]:
    """For each <p> of ``document`` laid out with the book's fixes to WeasyPrint, the text of
    each of its lines."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    from weasyprint_build.pdf import weasyprint_fixed

    with weasyprint_fixed():
        pages = HTML(string=document).render().pages

    def text(box) -> str:
        if isinstance(box, boxes.TextBox):
            return box.text
        return "".join(text(child) for child in getattr(box, "children", None) or [])

    def walk(box):
        if isinstance(box, boxes.BlockBox) and box.element_tag == "p":
            yield [text(line) for line in box.children if isinstance(line, boxes.LineBox)]
            return
        for child in getattr(box, "children", None) or []:
            yield from walk(child)

    return [lines for page in pages for lines in walk(page._page_box)]


def _last_lines(document: str) -> list[tuple[str, str]]:
    """For each <p> of ``document``, the text of its last two lines."""
    return [(lines[-2] if len(lines) > 1 else "", lines[-1])
            for lines in _paragraph_lines(document)]  # fmt: skip


def test_a_paragraph_never_ends_with_a_fragment_of_a_hyphenated_word():
    """"the commands are the ones it in-" / "stalled:" (page 8 of 5 December; 14 paragraphs of
    the student edition): a paragraph's last word is never hyphenated (a word in a tag is left
    alone). The sentence at the 31 widths of 446-476 pt with the book's CSS: a fragment alone at
    two widths without the span, at none with it."""
    from weasyprint_build.document import STYLESHEET
    from weasyprint_build.render import keep_last_word_whole

    sentence = ("On a machine that was set up by someone else, the first thing to check on a fresh "
                "machine is that the package is importable from the environment, and that its "
                "commands are the ones it installed:")  # fmt: skip
    css = STYLESHEET.read_text(encoding="utf-8")

    def fragments(html: str) -> int:
        document = f"<html lang='en'><head><style>{css}</style></head><body>" + "".join(
            f'<p style="width: {width}pt; break-inside: avoid">{html}</p>'
            for width in range(446, 477)) + "</body></html>"  # fmt: skip
        pairs = _last_lines(document)
        assert len(pairs) == 31
        return sum(len(last.split()) == 1 and last.strip() != "installed:" for _, last in pairs)

    assert keep_last_word_whole(f"<p>{sentence}</p><ul><li>a <em>b</em></li></ul>") == (
        f'<p>{sentence[:-10]}<span class="last-word">installed:</span></p><ul><li>a <em>b</em></li></ul>')
    assert fragments(sentence) > 0
    assert fragments(keep_last_word_whole(f"<p>{sentence}</p>")[3:-4]) == 0


def test_a_name_with_a_capital_inside_is_never_hyphenated():
    """"nanoG-" / "PT", "Py-" / "Torch" (the book read of 5 December: 11 breaks in the student
    edition): the prose renderer puts such names in a span that is never hyphenated. A sentence
    at 60 widths with the book's CSS: hyphenated inside a name at some widths without the span,
    at none with it; a plain word still hyphenates."""
    from weasyprint_build.document import STYLESHEET
    from weasyprint_build.render import keep_names_whole, prose_renderer

    sentence = ("Compared with the plain program, the PyTorch backend of TinyShakespeare's "
                "nanoGPT configuration normalises with RMSNorm in TensorFlow and elsewhere.")  # fmt: skip
    names = ("PyTorch", "TinyShakespeare", "nanoGPT", "RMSNorm", "TensorFlow")
    css = STYLESHEET.read_text(encoding="utf-8")

    def broken(html: str) -> tuple[int, int]:
        """Lines that end inside a name, and lines that end with any hyphen."""
        document = f"<html lang='en'><head><style>{css}</style></head><body>" + "".join(
            f'<p style="width: {width}pt; break-inside: avoid">{html}</p>'
            for width in range(120, 240, 2)) + "</body></html>"  # fmt: skip
        lines = [line.rstrip() for paragraph in _paragraph_lines(document)
                 for line in paragraph[:-1]]  # fmt: skip
        hyphenated = [line for line in lines if line.endswith(("\u2010", "-"))]
        inside = [line for line in hyphenated
                  if any(name.startswith(line.split()[-1][:-1]) for name in names)]  # fmt: skip
        return len(inside), len(hyphenated)

    rendered = prose_renderer().md.renderInline(sentence)
    assert rendered.count('<span class="name">') == 5 and "<span class=\"name\">Compared" not in rendered
    assert keep_names_whole("GPUs and GPT-2 and x") == '<span class="name">GPUs</span> and GPT-2 and x'
    inside, _ = broken(sentence)
    assert inside > 0
    inside, hyphenated = broken(rendered)
    assert inside == 0 and hyphenated > 0


def test_a_short_expression_in_inline_code_stays_on_one_line():
    """"`lengths[b] -`" / "`1`" and "`W (in,`" / "`out)`" (the book read of 5 December): inline
    code of 16 characters or fewer with a space is kept whole; longer code still breaks."""
    from weasyprint_build.highlight import inline_code

    assert inline_code("lengths[b] - 1") == '<code><span class="nobreak">lengths[b] - 1</span></code>'
    assert inline_code("W (in, out)") == '<code><span class="nobreak">W (in, out)</span></code>'
    assert "nobreak" not in inline_code('os.environ["KERAS_BACKEND"] = "torch"')
    assert inline_code("x") == "<code>x</code>"


def test_a_kept_exercise_cell_pushed_to_the_next_page_splits_too(tmp_path):
    """An instructor's solution cell (kept whole) 2 pt too tall for what was left of its page
    went to the next page and left 37 % of the page blank (the book of 5 December, instructor
    page 44): a kept exercise cell with an id splits like a kept code cell of the chapter."""
    from weasyprint_build.highlight import highlight

    code = "\n".join(f"line_{n} = {n}  # the solution" for n in range(1, 21))
    cell = (f'<div class="exercise-cell answer keep" id="ex-1-cell-3"><p class="cell-label">'
            f'solution</p>{highlight(code, "ipython3", "code input")}</div>')  # fmt: skip
    pushed, pages = _lay_out_chapter(560, cell, tmp_path, "exercise")
    assert [(m.unit, m.past, m.split) for m in pushed.placement.moves["chapter-1"]] == [
        ("ex-1-cell-3", 0, True)]
    assert max(largest_blank_fraction(page) for page in pages[:-1]) < 0.1
    assert "line_3 = 3" in pdftotext(pushed.path, 1) and "line_20 = 20" in pdftotext(pushed.path, 2)


def test_a_code_box_leaves_three_shown_lines_at_least_before_a_page_break(tmp_path,
                                                                            monkeypatch):
    """An import and the two blank lines after it ended a page alone, the other 20 lines of the
    cell on the next (the book read of 5 December, page 84): ``orphans: 3`` counted the blank
    lines. A long check cell (``orphans: 3``) that starts with an import and two blank lines, laid out lower and lower
    on its page: its first page shows three lines of code at least, or none. Without the rule
    some layouts show the import alone."""
    from weasyprint_build import pdf
    from weasyprint_build.highlight import highlight

    code = "import numpy as np\n\n\n" + "\n".join(f"line_{n} = {n}" for n in range(1, 31))
    cell = f'<div class="exercise-cell check">{highlight(code, "ipython3", "code input")}</div>'

    def alone(name: str) -> list[int]:
        found = []
        for text_pt in range(560, 700, 6):
            result, pages = _lay_out_chapter(text_pt, cell, tmp_path, f"{name}-{text_pt}")
            first = pdftotext(result.path, 1)
            if "import numpy" in first and "line_2 = 2" not in first:
                found.append(text_pt)
        return found

    assert alone("orphans") == []
    monkeypatch.setattr(pdf, "_break_line", pdf._weasyprint_break_line)
    assert alone("orphans-without-the-rule") != []
    monkeypatch.undo()
    # A statement of three lines (one inline block) and two blank lines: three lines shown, the
    # box may split after them (an instructor's solution went whole to the next page, 29 %).
    three = "def f(x):\n    y = x + 1\n    return y\n\n\n"
    code = three + "\n".join(f"line_{n} = {n}" for n in range(1, 31))
    cell = f'<div class="exercise-cell check">{highlight(code, "ipython3", "code input")}</div>'
    split = []
    for text_pt in range(560, 700, 6):
        result, pages = _lay_out_chapter(text_pt, cell, tmp_path, f"statement-{text_pt}")
        first = pdftotext(result.path, 1)
        split.append("return y" in first and "line_30 = 30" not in first)
    assert any(split)


def test_a_code_box_of_two_whole_statements_splits_between_them(tmp_path, monkeypatch):
    """An instructor's solution of two functions of nine lines each (two line boxes, one per
    function kept whole, and two blank lines) went whole to the next page, leaving 37 % of a
    page blank (instructor edition, 5 December): ``widows: 3`` counted line boxes, and the
    second function is one. Laid out lower and lower on its page, the box splits between the
    functions wherever the first fits; without the rule it never splits."""
    from weasyprint_build import pdf
    from weasyprint_build.highlight import highlight

    def function(name: str) -> str:
        body = "\n".join(f"    {name}_{n} = {n}" for n in range(1, 8))
        return f"def {name}(x):\n{body}\n    return x"

    code = function("first") + "\n\n\n" + function("second")
    cell = (f'<div class="exercise-cell answer may-split">'
            f'{highlight(code, "ipython3", "code input")}</div>')

    def splits(name: str) -> list[int]:
        found = []
        for text_pt in range(520, 700, 8):
            result, pages = _lay_out_chapter(text_pt, cell, tmp_path, f"{name}-{text_pt}")
            first = pdftotext(result.path, 1)
            assert ("first_3" in first) == ("first_7" in first), text_pt  # never inside one
            if "first_7 = 7" in first and "second_1" not in first:
                found.append(text_pt)
        return found

    assert len(splits("shown-lines")) >= 3
    monkeypatch.setattr(pdf, "_break_line", pdf._weasyprint_break_line)
    assert splits("line-boxes") == []



def test_short_row_labels_stay_on_one_line(tmp_path):
    """Tables 3.3 and 3.4 (book read of 5 December): beside long cells, WeasyPrint's automatic
    layout left the first column so narrow that "position embedding" and "generates text"
    wrapped. A table whose first cells are all short row labels keeps them on one line."""
    from weasyprint_build.render import LABEL_COLUMN_CHARACTERS, keep_label_columns

    long = "twelve layers, d_model 768, twelve heads, vocabulary 50,257, context 1,024"
    rows = "".join(f"<tr><td>{label}</td><td>{long}</td><td>{long}</td></tr>" for label in
                   ("configuration", "position embedding", "feed-forward, all blocks"))
    table = f"<table><thead><tr><th>component</th><th>a</th><th>b</th></tr></thead>{rows}</table>"
    marked = keep_label_columns(table)
    assert marked.startswith('<table class="label-column">')
    # a label too long, or a table of two columns, is left to the automatic layout
    too_long = table.replace("configuration", "x" * (LABEL_COLUMN_CHARACTERS + 1))
    assert keep_label_columns(too_long) == too_long
    two = "<table><tr><td>a</td><td>b</td></tr></table>"
    assert keep_label_columns(two) == two
    for name, body, whole in (("marked", marked, True), ("plain", table, False)):
        result, _ = _lay_out_chapter(100, body, tmp_path, name)
        lines = pdftotext(result.path, 1).splitlines()
        assert any("feed-forward, all blocks" in line for line in lines) is whole, name
        assert any("position embedding" in line for line in lines) is whole, name


def test_justified_lines_never_widen_the_spaces_of_inline_code():
    """``lengths[b] - 1`` in a justified line opened gaps inside the expression as wide as the
    prose's (the book read of 5 December, r1 #5). Inline code keeps its natural width in a
    justified line, as in a ragged one; WeasyPrint alone widens it."""
    import contextlib

    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    from weasyprint_build.document import STYLESHEET
    from weasyprint_build.pdf import weasyprint_fixed

    words = "the residual stream carries every output " * 6
    code = "<code>lengths[b] - 1</code>"
    document = (f"<html><head><style>{STYLESHEET.read_text(encoding='utf-8')}</style></head>"
                f"<body><p style='text-align: justify'>{words}{code} {words}</p>"
                f"<p style='text-align: left'>{code}</p></body></html>")

    def code_widths(fixed: bool) -> list[float]:
        with weasyprint_fixed() if fixed else contextlib.nullcontext():
            page = HTML(string=document).render().pages[0]._page_box
        found = []

        def walk(box) -> None:  # in the document's order
            if isinstance(box, boxes.TextBox) and "lengths" in box.text:
                found.append(box.width)
            for child in getattr(box, "children", None) or []:
                walk(child)

        walk(page)
        return found

    justified, ragged = code_widths(True)
    assert justified == pytest.approx(ragged, abs=0.01)
    justified, ragged = code_widths(False)
    assert justified > ragged + 1  # the spaces widened by the justification
