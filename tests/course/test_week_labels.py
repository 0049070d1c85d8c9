"""Every module of the library that names its chapter names one that exists (issue 12, item 3).

A module's docstring says where the course teaches it, ``(week N, "Section")``: chapter N of
the book (``course/0N-*.md``) must have that heading (its title or one of its sections), so that
the box of reference modules under a chapter's title never cites a section that is not there.
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CITATION = re.compile(r'\(week (\d)(?:,\s*"([^"]+)")?')


def headings(week: int) -> set[str]:
    (chapter,) = REPO.glob(f"course/0{week}-*.md")
    return {m.group(1).strip() for m in re.finditer(r"^#{1,3} (.+)$", chapter.read_text(),
                                                    flags=re.M)}


def citations():
    for path in sorted((REPO / "llm_keras").rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = docstring.split("\n\n")[0].replace("\n", " ")
        for week, section in CITATION.findall(first):
            yield path.relative_to(REPO).as_posix(), int(week), section


def test_the_library_cites_its_chapters():
    cited = list(citations())
    assert len(cited) >= 60
    assert {week for _, week, _ in cited} == {1, 2, 3, 4, 5, 6, 7}


@pytest.mark.parametrize("module, week, section",
                         [c for c in citations() if c[2]], ids=lambda v: str(v))
def test_each_cited_section_is_in_its_chapter(module, week, section):
    assert section in headings(week), (
        f"{module} cites week {week}, {section!r}, which chapter {week} does not have "
        f"(its headings: {sorted(headings(week))})")
