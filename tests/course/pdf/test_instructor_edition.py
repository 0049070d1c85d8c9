"""The week notebooks as the book prints them: no plumbing, no nbgrader markers, and the
instructor edition's teaching notes (points, hidden checks, the corpus's mistakes).

The first tests render each week's notebook alone to HTML (no kernel, a few seconds); the last
ones read the PDFs of the session's build (``course_build``).
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import nbformat
import pytest
from pypdf import PdfReader

from tests.course.pdf.conftest import REPO, myst_header, normalize, pdftotext
from tests.course.weeks import corpus
from weasyprint_build.bibliography import load_bibliography
from weasyprint_build.chapters import read_chapter
from weasyprint_build.errors import BuildError
from weasyprint_build.math_svg import MathRenderer
from weasyprint_build.render import Book
from weasyprint_build.teaching_notes import (
    CheckNote,
    ExerciseNote,
    Mistake,
    WeekNotes,
    _mistake,
    week_notes,
)

NOTEBOOKS = sorted((REPO / "solutions").glob("*/*.ipynb"))
MARKERS = re.compile(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)")
CHAPTER = myst_header() + """
# A chapter with one exercise

```{{exercise}} {relative}
:name: ex-under-test
```
"""


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def nbgrader(cell: dict) -> dict:
    return cell["metadata"].get("nbgrader", {})


def is_plumbing(cell: dict) -> bool:
    meta = nbgrader(cell)
    return cell["cell_type"] == "code" and not meta.get("solution") and not meta.get("grade")


def source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[tuple[str, str], str]:
    """{(week, edition): the HTML of a chapter that includes only that week's notebook}."""
    root = tmp_path_factory.mktemp("one_exercise")
    math = MathRenderer(root / "math")
    bibliography = load_bibliography(REPO / "course")
    pages = {}
    for number, path in enumerate(NOTEBOOKS, 1):
        week = path.parent.name
        chapter_path = root / f"{number:02d}-{week}.md"
        chapter_path.write_text(CHAPTER.format(relative=f"{week}/{path.name}"))
        chapter = read_chapter(chapter_path, number)
        for edition in ("student", "instructor"):
            book = Book(edition=edition, math=math, solutions_dir=REPO / "solutions",
                        repo_root=REPO, bibliography=bibliography)  # the notebooks cite
            pages[week, edition] = book.render_chapter(chapter, jupytext.read(chapter_path))
    return pages


def plain(markup: str) -> str:
    """The text of some HTML, as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_the_book_prints_no_plumbing_cell(rendered):
    hidden = 0
    for path in NOTEBOOKS:
        week = path.parent.name
        for edition in ("student", "instructor"):
            text = plain(rendered[week, edition])
            # the note on the cells left out names what they import ("they import os, ...")
            without_note = re.sub(r"The notebook.s first [^\n]*not printed here: [^\n]*", "", text)
            for cell in cells(path):
                first = next(line for line in source(cell).splitlines() if line.strip())
                if is_plumbing(cell):
                    hidden += 1
                    assert first not in without_note, (week, edition, first)
                elif cell["cell_type"] == "code" and not nbgrader(cell).get("solution"):
                    assert first in text, (week, edition, first)  # the visible checks
            # "Run the first cell", each notebook says: the note names the cells not printed
            # as the notebook's first ones (they are: the environment report and the set-up)
            note = re.search(r"The notebook.s first (two|three) code cells, its set-up "
                             r"\((\d+) lines\), are not printed here", text)
            plumbing = [cell for cell in cells(path) if is_plumbing(cell)]
            code = [cell for cell in cells(path) if cell["cell_type"] == "code"]
            assert code[: len(plumbing)] == plumbing, week
            assert note and ["two", "three"].index(note[1]) + 2 == len(plumbing), (week, edition)
            assert int(note[2]) == sum(len(source(cell).splitlines()) for cell in plumbing)
            assert "check_array" in text or "check_equal" in text or "check_close" in text
    assert hidden == 4 * len(NOTEBOOKS)  # environment and set-up cells, in both editions


def test_signatures_statements_and_points_are_printed(rendered):
    for path in NOTEBOOKS:
        week = path.parent.name
        student = plain(rendered[week, "student"])
        answers = [cell for cell in cells(path) if nbgrader(cell).get("solution")]
        for cell in answers:  # the signature of each answer cell, and the exercise's heading
            signature = next(line for line in source(cell).splitlines()
                             if line.startswith(("def ", "class ")))
            assert signature in student, (week, signature)
        assert student.count("# YOUR CODE HERE") >= len(answers)
        headings = re.findall(r"^## \d+\. (.+)$", "".join(source(c) for c in cells(path)
                                                          if c["cell_type"] == "markdown"), re.M)
        for heading in headings:
            assert heading in student, (week, heading)
        points = [nbgrader(cell)["points"] for cell in cells(path) if nbgrader(cell).get("grade")]
        labels = re.findall(r"check, (\d+(?:\.\d+)?) points?", student)
        assert [float(p) for p in labels] == [float(p) for p in points], week


def test_no_solution_in_the_student_edition_and_no_marker_in_either(rendered):
    for path in NOTEBOOKS:
        week = path.parent.name
        student, instructor = plain(rendered[week, "student"]), plain(rendered[week, "instructor"])
        assert not MARKERS.search(student) and not MARKERS.search(instructor), week
        solution = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
        elsewhere = "".join(solution.sub("", source(cell)) for cell in cells(path))
        for cell in cells(path):
            if not nbgrader(cell).get("solution"):
                continue
            lines = [line.strip() for line in solution.search(source(cell))[1].splitlines()
                     if len(line.strip()) > 25 and line.strip() not in elsewhere]
            assert lines, week
            for line in lines:
                assert line in instructor, (week, line)
            assert not any(line in student for line in lines), week
        assert "Teaching notes" not in student and "Teaching notes" in instructor


def test_cell_tags_override_the_plumbing_rule():
    import nbformat

    from weasyprint_build.exercises import plumbing_note, shown_in_book

    def cell(kind, source, tags=(), **grader):
        made = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
            source)
        made.metadata["tags"] = list(tags)
        if grader:
            made.metadata["nbgrader"] = grader
        return made

    setup = cell("code", "import numpy as np\nfrom keras import ops\n\ndef check(x):\n    pass")
    assert not shown_in_book(setup)
    assert shown_in_book(cell("code", "x = 1", tags=["book-show"]))
    assert shown_in_book(cell("code", "def f(): ...", solution=True, grade_id="f"))
    assert shown_in_book(cell("code", "check(f())", grade=True, points=1, grade_id="c"))
    assert not shown_in_book(cell("code", "check(f())", tags=["book-hide"], grade=True))
    assert shown_in_book(cell("markdown", "## 1. f (1 point)"))
    assert not shown_in_book(cell("markdown", "Hand it in.", tags=["book-hide"]))
    assert plumbing_note([setup]) == (
        "The notebook's set-up code (1 cell, 5 lines) is not printed: it imports `np` (`numpy`), "
        "`ops` (from `keras`) and defines `check`.")  # module names in code: never hyphenated
    assert plumbing_note([setup, cell("code", "import os")], first=True) == (
        "The notebook's first two code cells, its set-up (6 lines), are not printed here: they "
        "import `np` (`numpy`), `ops` (from `keras`), `os` and define `check`.")


class Tables(HTMLParser):
    """The rows of the tables of class ``points-table``: [[cell text, ...], ...]."""

    def __init__(self):
        super().__init__()
        self.rows, self.inside, self.cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "points-table" in (dict(attrs).get("class") or ""):
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_the_points_table_equals_the_notebooks_points(rendered):
    for path in NOTEBOOKS:
        week = path.parent.name
        tables = Tables()
        tables.feed(rendered[week, "instructor"])
        header, *rows, total = tables.rows
        assert header[-1] == "points"
        points = [float(nbgrader(c)["points"]) for c in cells(path) if nbgrader(c).get("grade")]
        assert [float(row[-1]) for row in rows] == points, week
        assert total[-2:] == ["", f"{sum(points):g}"] and total[1] == "total", week
        assert sum(points) == sum(corpus.POINTS[week].values()), week


def test_the_teaching_notes_name_the_corpus_mistakes_and_the_checks(rendered):
    from autograder.probes import load_probe

    named = 0
    for path in NOTEBOOKS:
        week = path.parent.name
        notes = rendered[week, "instructor"].split('class="teaching-notes"', 1)[1]
        text = re.sub(r"\s+", " ", plain(notes))
        for case in corpus.CASES:
            if case.week == week and case.lost and not case.release:
                assert case.name.replace("_", " ") in text.lower(), (week, case.name)
                named += 1
        for probe_path in sorted((REPO / "autograder" / "probes" / week).glob("[!_]*.py")):
            probe = load_probe(probe_path)
            for check in probe.checks:  # the checks' names, never their inputs
                assert re.sub(r"\s+", " ", check.name) in text, (week, check.name)
            assert "def inputs" not in text and "rng." not in text
    assert named >= 100  # the corpus's mistakes, each under its exercise


def mistake_items(notes: str) -> dict[str, str]:
    """{mistake name: the text of its item} of a week's teaching notes."""
    items = re.findall(r'<li><span class="mistake-name">(.*?)</span>(.*?)</li>', notes, re.DOTALL)
    return {plain(name).lower(): re.sub(r"\s+", " ", plain(name + rest)) for name, rest in items}


def test_every_mistake_names_its_failing_checks_and_their_feedback(rendered):
    """Each mistake's note names every check that grading found failing (in its own exercise
    and in the later ones that use it) and quotes what the feedback says of its own
    exercise's checks (``failing_checks.json``, which ``test_grading.py`` keeps equal to what
    grading finds)."""
    stored = json.loads((REPO / "tests" / "course" / "weeks" / "failing_checks.json").read_text())
    mistakes, unnamed = 0, []
    for path in NOTEBOOKS:
        week = path.parent.name
        notes = rendered[week, "instructor"].split('class="teaching-notes"', 1)[1]
        items = mistake_items(notes)
        for case in corpus.CASES:
            if case.week != week or not case.lost or case.release:
                continue
            mistakes += 1
            text = items[case.name.replace("_", " ")]
            failing = stored[week][case.name]
            assert set(failing) >= set(case.lost), (week, case.name, failing)
            checks = [check for checks in failing.values() for check in checks]
            # what differs, for each check of its own exercise; the hint after it is quoted
            # unless it is the one the list of checks prints (checked below)
            # (its own exercise's: the one whose feedback the note quotes)
            said = [{re.sub(r"\s+", " ", found["feedback"].replace("`", "").replace(
                " from the reference by more than the tolerance", "")).partition(". ")[0]
                     .strip(". ") for found in own.values()} for own in failing.values()]
            if not (all(f"\u201c{check}\u201d" in text for check in checks)
                    and any(all(what in text for what in one) for one in said)):  # fmt: skip
                unnamed.append((week, case.name, failing, text))
    assert mistakes >= 100 and not unnamed, (mistakes, len(unnamed), unnamed[:2])


def test_a_check_failing_on_some_backends_only_says_which():
    exercise = ExerciseNote("attention", 1, ("attention",), 4.0, "", [
        CheckNote("shape", 1.0, "hint one"), CheckNote("values", 3.0, "hint two")], (), ())
    mistake = Mistake("Wrong scale", "", {"attention": 3.0}, ("jax", "torch"), {"attention": {
        "values": {"backends": ["torch"], "feedback": "2 of 8 values differ. hint two"}}})
    notes = WeekNotes("week2", [exercise], 1)
    text = plain(_mistake(mistake, exercise, notes))
    # the hint is the check's own, which the list of checks prints: not repeated
    assert "Fails \u201cvalues\u201d on torch only (\u201c2 of 8 values differ.\u201d)." in text
    mistake.failing["attention"]["values"]["backends"] = ["jax", "torch"]
    assert "only" not in plain(_mistake(mistake, exercise, notes))
    # a message that is not the check's hint (an exception) is quoted whole
    mistake.failing["attention"]["values"]["feedback"] = "TypeError: no. Run it on torch"
    assert "(\u201cTypeError: no. Run it on torch.\u201d)" in plain(_mistake(mistake, exercise,
                                                                        notes))  # fmt: skip


def test_names_of_code_in_a_mistake_are_set_as_code(rendered):
    """The corpus's comments name code with or without backticks (``train_bpe uses
    get_pair_counts``); the notes set each such name in the code font, and a case name's
    Python words keep their spelling (``merge_returns_none_...`` reads "returns None")."""
    raw = {}  # {mistake name: its item's HTML}, every week
    for path in NOTEBOOKS:
        notes = rendered[path.parent.name, "instructor"].split('class="teaching-notes"', 1)[1]
        raw.update(re.findall(r'<li><span class="mistake-name">(.*?)</span>(.*?)</li>', notes,
                              re.DOTALL))  # fmt: skip
    assert len(raw) >= 100
    assert "Merge returns None without the pair" in raw
    assert "<code>train_bpe</code> uses <code>get_pair_counts</code>" in raw[
        "Pairs counted once per word"]  # fmt: skip
    plain_names = [(name, found) for name, rest in raw.items() for found in
                   re.findall(r"(?<![\w>])[a-z]\w*_\w+(?![\w<])", re.sub(
                       r"<code>.*?</code>|&\w+;", "", rest))]  # fmt: skip
    assert not plain_names, plain_names


def test_a_mistake_missing_from_the_stored_results_stops_the_build(tmp_path):
    (tmp_path / "autograder").mkdir()
    (tmp_path / "autograder" / "probes").symlink_to(REPO / "autograder" / "probes")
    weeks = tmp_path / "tests" / "course" / "weeks"
    weeks.mkdir(parents=True)
    (weeks / "corpus.py").symlink_to(REPO / "tests" / "course" / "weeks" / "corpus.py")
    notebook = nbformat.read(REPO / "solutions" / "week5" / "compute-budget.ipynb", as_version=4)
    with pytest.raises(BuildError, match=r"failing_checks\.json, which could not be read "
                       r".*LLM_COURSE_UPDATE_FAILING_CHECKS=1"):
        week_notes(tmp_path, "week5", notebook)
    stored = json.loads((REPO / "tests" / "course" / "weeks" / "failing_checks.json").read_text())
    del stored["week5"]["forward_flops_only"]
    (weeks / "failing_checks.json").write_text(json.dumps(stored))
    with pytest.raises(BuildError, match=r"week5's corpus case 'forward_flops_only' fails, yet "
                       r"the corpus has it lose points: regenerate"):
        week_notes(tmp_path, "week5", notebook)


# --- the PDFs of the session's build ---------------------------------------------------------
# Pages of the 8 week notebooks' sections of the student edition before the set-up cells were
# left out (the whole course built on 4 December 2026, 15:26 UTC, by commit 7751408's code):
# 66 pages. The same notebooks alone, built by that code and by this one: 62 and 55 pages.
STUDENT_PAGES_BEFORE = {"ex-week1": 5, "ex-week1-data": 8, "ex-week2": 9, "ex-week3": 11,
                        "ex-week4": 9, "ex-week5": 5, "ex-week6": 9, "ex-week7": 10}


def exercise_pages(pdf: Path, html_path: Path) -> dict[str, int]:
    """{exercise anchor: pages from its heading's page to the page where what follows it
    starts}: the pages the exercise occupies (its last page may be shared with what follows)."""
    markup = html_path.read_text()
    # what may follow an exercise: a section or chapter heading, a chapter, the back matter
    anchors = re.findall(r'<(?:h[12]|section)\b[^>]*\bid="([^"]+)"', markup)
    exercises = set(re.findall(r'<section class="exercise[^"]*">\s*<h2 id="([^"]+)"', markup))
    reader = PdfReader(str(pdf))
    pages = {name.lstrip("/"): reader.get_destination_page_number(dest)
             for name, dest in reader.named_destinations.items()}
    spans = {}
    for anchor, following in zip(anchors, [*anchors[1:], None]):
        if anchor in exercises:
            end = pages[following] if following else len(reader.pages)
            spans[anchor] = end - pages[anchor]
    return spans


def test_no_nbgrader_marker_and_the_notes_in_the_pdf(course_build):
    for edition in ("student", "instructor"):
        text = pdftotext(course_build.pdf(edition))
        assert not MARKERS.search(text), edition
        assert "def check_array(" not in text  # the notebooks' set-up code
    text = normalize(pdftotext(course_build.pdf("instructor")))
    assert text.count("Teaching notes") == len(NOTEBOOKS)
    assert "Naive softmax" in text and "Ties to the first pair" in text


def test_the_exercise_sections_take_fewer_pages(course_build):
    student = course_build.results["student"]
    spans = exercise_pages(student.pdf, student.html)
    weeks = {anchor: spans[anchor] for anchor in STUDENT_PAGES_BEFORE if anchor in spans}
    assert len(weeks) == len(STUDENT_PAGES_BEFORE), sorted(spans)
    for anchor, pages in weeks.items():
        assert pages <= STUDENT_PAGES_BEFORE[anchor], (anchor, pages)
    before = sum(STUDENT_PAGES_BEFORE.values())
    assert sum(weeks.values()) <= before - 5, (sum(weeks.values()), before)
