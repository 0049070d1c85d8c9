"""Navigation: the outline (bookmarks), the table of contents and the internal links."""

from __future__ import annotations

import re

from pypdf import PdfReader

from tests.course.pdf.conftest import REPO, normalize, pdftotext

TOC_PAGE = 2
_TOC_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(.+?)\s*\.{3,}\s*(\d+)\s*$")


def outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(level, title, 1-based page) of every bookmark, in order."""
    entries = []

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                entries.append((level, item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 1)
    return entries


def toc_lines(result) -> list[tuple[str, str, int]]:
    """(number, title, page) of each line of the printed table of contents."""
    text = pdftotext(result.pdf, TOC_PAGE, result.chapters[0].page - 1, layout=True)
    return [
        (m.group(1), m.group(2).strip(), int(m.group(3)))
        for m in map(_TOC_LINE.match, text.splitlines())
        if m
    ]


def test_the_top_level_bookmarks_are_the_numbered_chapter_titles(course_build, edition):
    reader = PdfReader(course_build.pdf(edition))
    chapters = [
        (title, page)
        for level, title, page in outline(reader)
        if level == 1 and title[0].isdigit()  # not the list of figures, bibliography, index
    ]
    expected = [f"{n} {title}" for n, title in enumerate(course_build.titles, 1)]
    assert [title for title, _ in chapters] == expected
    assert [page for _, page in chapters] == [
        c.page for c in course_build.results[edition].chapters
    ]


def test_the_second_level_bookmarks_are_the_numbered_sections(course_build, edition):
    reader = PdfReader(course_build.pdf(edition))
    sections = [title for level, title, _ in outline(reader) if level == 2]
    assert len(sections) >= 2 * len(course_build.titles)
    assert all(re.match(r"^\d+\.\d+ \S", title) for title in sections), sections


def test_the_table_of_contents_gives_the_pages_where_chapters_and_sections_start(
    course_build, edition
):
    reader = PdfReader(course_build.pdf(edition))
    bookmarks = {
        title: page
        for level, title, page in outline(reader)
        if level <= 2 and title[0].isdigit()  # the unnumbered front and back matter: not here
    }
    lines = toc_lines(course_build.results[edition])
    assert len(lines) == len(bookmarks)
    for number, title, page in lines:
        assert bookmarks[f"{number} {title}"] == page, (number, title)
    chapter_pages = [page for number, _, page in lines if "." not in number]
    assert chapter_pages == [c.page for c in course_build.results[edition].chapters]
    assert chapter_pages == sorted(chapter_pages) and chapter_pages[0] > TOC_PAGE


def test_every_internal_link_goes_to_a_named_destination(course_build, edition):
    reader = PdfReader(course_build.pdf(edition))
    named = reader.named_destinations
    links = []
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") == "/Link" and "/Dest" in annotation:
                links.append(str(annotation["/Dest"]))
    assert links, "the PDF has no internal links"
    assert sorted(set(links) - set(named)) == []
    # The TOC links to every chapter and section, and the chapters' cross-references add more.
    assert len(links) > len(toc_lines(course_build.results[edition]))


def test_cross_references_name_their_target_by_number(course_build, edition):
    text = normalize(pdftotext(course_build.pdf(edition)))
    week1 = course_build.titles.index("Text, tokens and training windows") + 1
    assert f"of the text (Table {week1}.1)" in text
    assert f"Table {week1}.3 and Figure {week1}.1 show the trade" in text
    assert f"training of byte-level BPE as in ({week1}.1) with" in text
    introduction = course_build.titles.index("Introduction") + 1
    sections = [line for line in (REPO / "course" / "00-introduction.md").read_text(
        encoding="utf-8").splitlines() if line.startswith("## ")]  # fmt: skip
    autograder = sections.index("## What the autograder checks") + 1  # (sec-autograder)
    assert f"as described in Section {introduction}.{autograder}." in text  # another chapter
    exercise = len(course_build.titles)  # the tests' exercise chapter comes last
    assert f"The exercise is Exercise {exercise}.1." in text


def test_no_page_ends_with_a_heading(course_build, edition):
    result = course_build.results[edition]
    reader = PdfReader(result.pdf)
    headings = {title for _, title, _ in outline(reader)}
    pages = pdftotext(result.pdf, layout=True).split("\f")  # one piece per page
    for number in range(result.chapters[0].page, len(reader.pages) + 1):
        lines = [line.strip() for line in pages[number - 1].splitlines() if line.strip()]
        body = lines[:-1] if lines and lines[-1] == str(number) else lines
        assert body, f"page {number} is empty"
        last = re.sub(r"\s+", " ", body[-1])
        assert last not in headings, f"page {number} ends with the heading {last!r}"
