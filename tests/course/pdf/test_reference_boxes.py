"""The boxes that name a chapter's reference modules say the book's chapter, not only the week
their docstrings name (chapter 2 is week 1: a reader saw two numberings)."""

from __future__ import annotations

import re
from pathlib import Path

from weasyprint_build.render import ChapterContext

REPO = Path(__file__).resolve().parents[3]
_BOX = re.compile(r'<aside class="reference-code">(.*?)</aside>', re.S)


class _Context:  # the part of a ChapterContext that _week_as_chapter reads
    def __init__(self, path: Path):
        self.chapter = type("Chapter", (), {"path": path})()


def test_a_week_in_a_docstring_is_named_with_its_chapter():
    context = _Context(REPO / "course" / "01-week1-text-and-tokens.md")
    assert ChapterContext._week_as_chapter(context, 'A split (week 1, "Text as data").') == (
        'A split (Chapter 2, week 1, "Text as data").'
    )
    assert ChapterContext._week_as_chapter(context, "(week 3)") == "(Chapter 4, week 3)"
    assert ChapterContext._week_as_chapter(context, "(week 99, x)") == "(week 99, x)"  # no chapter


def test_the_book_s_reference_boxes_name_chapters(course_build, edition):
    html = course_build.results[edition].html.read_text(encoding="utf-8")
    boxes = _BOX.findall(html)
    assert boxes
    weeks = [m.group(0) for box in boxes for m in re.finditer(r".{20}\(week \d+", box)]
    assert weeks == []
    assert sum(box.count("(Chapter ") for box in boxes) >= 10
