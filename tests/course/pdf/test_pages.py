"""The pages as a reader sees them, rendered to PNG with poppler's pdftoppm.

These checks catch what looks wrong without a person looking: a blank page, and anything
drawn in the right margin (code or a figure or a formula wider than the text block).
"""

from __future__ import annotations

import subprocess

from PIL import Image

DPI = 40
MM = DPI / 25.4  # pixels per millimetre
RIGHT_MARGIN_MM = 21  # book.css: @page margin
INK = 200  # a pixel darker than this (0-255 grey) is ink


def render(pdf, folder) -> list[Image.Image]:
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-png", str(pdf), str(folder / "page")], check=True
    )
    return [
        Image.open(path)
        for path in sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
    ]


def ink_fraction(image: Image.Image) -> float:
    histogram = image.histogram()
    return sum(histogram[:INK]) / (image.width * image.height)


def test_every_page_renders_and_none_is_blank(course_build, edition, tmp_path):
    pages = render(course_build.pdf(edition), tmp_path)
    assert len(pages) == course_build.results[edition].pages
    blank = [number for number, page in enumerate(pages, 1) if ink_fraction(page) < 0.002]
    assert blank == []


def test_nothing_is_drawn_in_the_right_margin(course_build, edition, tmp_path):
    """Code, figures and formulas stay inside the text block (they wrap or shrink)."""
    overflowing = []
    for number, page in enumerate(render(course_build.pdf(edition), tmp_path), 1):
        left = page.width - int((RIGHT_MARGIN_MM - 2) * MM)
        margin = page.crop((left, 0, page.width, page.height))
        if ink_fraction(margin) > 0:
            overflowing.append(number)
    assert overflowing == []
