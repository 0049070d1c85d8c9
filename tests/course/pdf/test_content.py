"""What the PDF holds: embedded fonts, extractable text, drawn math, each edition's exercises."""

from __future__ import annotations

import re

from pypdf import PdfReader

from tests.course.pdf.conftest import HIDDEN_TEST_SENTINEL, SOLUTION_SENTINEL, normalize, pdftotext

# A line of code in the week 1 chapter, and what it printed when the build ran it.
KNOWN_CODE_LINE = 'print(f"{len(text):,} characters, {len(set(text))} distinct")'
KNOWN_OUTPUT = re.compile(r"^1,115,394 characters, 65 distinct$", re.M)
EXPECTED_FONTS = (
    "TeX-Gyre-Pagella",
    "TeX-Gyre-Pagella-Bold",
    "TeX-Gyre-Pagella-Italic",
    "DejaVu-Sans-Mono",
    "DejaVu-Sans",
)  # DejaVu Sans: the text of the figures


def fonts(reader: PdfReader) -> dict[str, bool]:
    """{font name without subset prefix: embedded?} over pages and the forms they draw."""
    found: dict[str, bool] = {}

    def walk(resources):
        resources = resources.get_object() if resources is not None else {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            name = str(font.get("/BaseFont")).lstrip("/").split("+")[-1]
            found[name] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    for page in reader.pages:
        walk(page.get("/Resources"))
    return found


def test_every_font_is_embedded(course_build, edition):
    found = fonts(PdfReader(course_build.pdf(edition)))
    assert [name for name, embedded in found.items() if not embedded] == []
    assert set(EXPECTED_FONTS) <= set(found), found


def test_every_chapter_title_can_be_extracted(course_build, edition):
    result = course_build.results[edition]
    for chapter, title in zip(result.chapters, course_build.titles, strict=True):
        page = normalize(pdftotext(result.pdf, chapter.page))
        assert normalize(title) in page, (chapter.page, title)


def test_code_and_its_output_can_be_extracted_exactly(course_build, edition):
    text = pdftotext(course_build.pdf(edition))
    assert KNOWN_CODE_LINE in text.splitlines()
    assert KNOWN_OUTPUT.search(text)


def test_the_pdf_holds_no_raster_image(course_build, edition):
    """Figures are SVG (sharp at any zoom): no /Image XObject anywhere."""
    images = []

    def walk(resources):
        resources = resources.get_object() if resources is not None else {}
        for name, xobject in (resources.get("/XObject") or {}).items():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Image":
                images.append(name)
            elif xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    for page in PdfReader(course_build.pdf(edition)).pages:
        walk(page.get("/Resources"))
    assert images == []


def test_math_is_drawn_not_left_as_tex(course_build, edition):
    result = course_build.results[edition]
    text = pdftotext(result.pdf)
    assert not re.search(r"\\(frac|text|sqrt|operatorname|sum|ln)\b", text)
    html = result.html.read_text()
    # A dollar sign is left only where it is not math: in code and its output (TinyShakespeare's
    # alphabet has one), and in the drawn formulas' TeX attributes.
    prose = re.sub(r"<(pre|code|svg)\b.*?</\1>", "", html, flags=re.S)
    prose = re.sub(r'data-tex="[^"]*"', "", prose)
    assert "$" not in prose
    formulas = re.findall(r'<span class="math (inline|display)" data-tex="[^"]*"[^>]*><svg ', html)
    assert formulas.count("display") >= 2 and formulas.count("inline") >= 3
    assert "<math" not in html  # no MathML, which WeasyPrint would print as flat text


def test_the_student_edition_has_no_solution_code(course_build):
    student = course_build.results["student"]
    for text in (pdftotext(student.pdf), student.html.read_text()):
        assert SOLUTION_SENTINEL not in text
        assert HIDDEN_TEST_SENTINEL not in text
        assert "BEGIN SOLUTION" not in text
    exercise_chapter = pdftotext(student.pdf, student.chapters[-1].page, student.pages)
    assert "# YOUR CODE HERE" in exercise_chapter
    assert "raise NotImplementedError()" in exercise_chapter
    assert "Notebook exercises/week1/01-count-tokens.ipynb" in normalize(exercise_chapter)


def test_the_instructor_edition_has_the_solutions(course_build):
    instructor = course_build.results["instructor"]
    exercise_chapter = pdftotext(instructor.pdf, instructor.chapters[-1].page, instructor.pages)
    assert f"return len({SOLUTION_SENTINEL})" in exercise_chapter
    assert HIDDEN_TEST_SENTINEL in exercise_chapter
    assert "raise NotImplementedError()" not in exercise_chapter


def test_both_editions_number_the_book_the_same_way(course_build):
    student, instructor = course_build.results["student"], course_build.results["instructor"]
    assert [c.title for c in student.chapters] == [c.title for c in instructor.chapters]
    included = sum(path.read_text().count("```{exercise}")
                   for path in course_build.course_dir.glob("*.md"))
    assert len(student.exercises) == len(instructor.exercises) == included >= 3
