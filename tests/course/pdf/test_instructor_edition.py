"""The week notebooks as the book prints them: no plumbing, no nbgrader markers, and the
instructor edition's teaching notes (points, hidden checks, the corpus's mistakes).

The first tests render each week's notebook alone to HTML (no kernel, a few seconds); the last
ones read the PDFs of the session's build (``course_build``).
"""

from __future__ import annotations

import functools
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
from weasyprint_build.chapters import curly_quotes, read_chapter
from weasyprint_build.errors import BuildError
from weasyprint_build.math_svg import MathRenderer
from weasyprint_build.render import Book
from weasyprint_build.teaching_notes import (
    CheckNote,
    ExerciseNote,
    Mistake,
    WeekNotes,
    _case_title,
    _mistake,
    render_notes,
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


@functools.cache
def week_code_names(week: str) -> tuple[str, ...]:
    """The names of the code the week's learner writes, which a mistake's title sets as code."""
    path = next(path for path in NOTEBOOKS if path.parent.name == week)
    notes = week_notes(REPO, week, nbformat.read(path, as_version=4))
    return tuple(name for exercise in notes.exercises for name in exercise.names)


def title(week: str, case: str) -> str:
    """A mistake's title as the notes print it, in plain text (lower case)."""
    return _case_title(case, week_code_names(week)).replace("`", "").lower()


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
            # the note names the cells not printed as the notebook's first ones (they are: the
            # environment report and the set-up), where the notebook says "Run the first cell"
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


def _cell(kind, source, tags=(), **grader):
    """A notebook cell with ``tags`` and nbgrader metadata ``grader``."""
    made = (nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell)(
        source)
    made.metadata["tags"] = list(tags)
    if grader:
        made.metadata["nbgrader"] = grader
    return made


def test_cell_tags_override_the_plumbing_rule():
    from weasyprint_build.exercises import plumbing_note, shown_in_book

    cell = _cell
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
    models = cell("code", "from llm_keras.models import GPT, GPTConfig\nimport numpy as np\n"
                  "from llm_keras.models import GPT")
    assert plumbing_note([models]) == (  # book read 5 Dec: "GPT (from ...), GPTConfig (from ...)"
        "The notebook's set-up code (1 cell, 3 lines) is not printed: it imports `GPT` and "
        "`GPTConfig` (from `llm_keras.models`), `np` (`numpy`).")


def test_the_plumbing_note_names_what_the_printed_cells_use_from_the_set_up():
    """Book read 5 Dec, readS1 4: the note on week 1-data's set-up named its imports and
    functions but not the constants its exercises use (``& MAX_HASH``, ``SHARD_MAGIC``), so
    the book never said where they come from or what ``MAX_HASH`` is. It names the assigned
    names (with the value when its code is short) and, since the book leaves out "Run the first
    cell: it says which Keras backend ...", the backend the first cell sets and prints."""
    from weasyprint_build.exercises import plumbing_note

    environment = _cell("code", 'import os\n\nos.environ["KERAS_BACKEND"] = "jax"\n'
                        "from llm_keras.environment import describe_backend\n\n"
                        "print(describe_backend())  # the backend\n"
                        'print("To switch backend: edit the line above, then restart "\n'
                        '      "the kernel.")\n')
    setup = _cell("code", 'import re\n\nBREAK = re.compile(r"\\n\\s*\\n")\n'
                  "MAX_HASH: int = (1 << 32) - 1\nFIRST, SECOND = 0, 1\n"
                  "TABLE = {'a long value': 1, 'that the note': 2, 'leaves out': 3}\n"
                  "os.environ['HOME'] = 'x'\n\ndef check(x):\n    pass\n")
    assert plumbing_note([environment, setup], first=True) == (
        "The notebook's first two code cells, its set-up (18 lines), are not printed here: "
        'they set the environment variable `KERAS_BACKEND` to `"jax"`, print '
        "`describe_backend()` and set the environment variable `HOME` to `'x'`; import `os`, "
        "`describe_backend` (from `llm_keras.environment`), `re`; define `check`; and set the "
        'constants `BREAK = re.compile(r"\\n\\s*\\n")`, `MAX_HASH = (1 << 32) - 1`, '
        "`FIRST = 0`, `SECOND = 1`, `TABLE`.")  # the message to the learner: not named
    lower = _cell("code", "import numpy as np\n\nrng = np.random.default_rng(seed=2024)")
    assert plumbing_note([lower]) == (
        "The notebook's set-up code (1 cell, 3 lines) is not printed: it imports `np` "
        "(`numpy`) and sets `rng`.")  # not "the constants": a generator

    exercise = REPO / "solutions/week1-data/data-curation.ipynb"
    hidden = [c for c in nbformat.read(exercise, 4).cells if c.cell_type == "code"][:2]
    note = plumbing_note(hidden, first=True)
    for name in ("`PARAGRAPH_BREAK = re.compile(", "`MERSENNE_PRIME = (1 << 61) - 1`",
                 "`MAX_HASH = (1 << 32) - 1`", "`SHARD_MAGIC = 20240520`",
                 "`SHARD_VERSION = 1`", ("set the environment variable `KERAS_BACKEND` to "
                                          '`"jax"` and print `describe_backend()`')):
        assert name in note, name
    assert "To switch backend" not in note


def test_the_book_leaves_out_the_text_that_says_how_to_run_a_cell_it_does_not_print():
    """Book read 5 Dec, readI1 3, readI3 3: each notebook's "Run the first cell: it says which
    Keras backend, versions and device this notebook runs on ..." was printed, next to a note
    saying that the first cells are not. A paragraph that opens by telling the learner to run
    cells, named by their place, all of which the book leaves out, is left out with them; one
    that names a printed cell, or mentions a left-out one later ("Before you hand it in"),
    stays."""
    from weasyprint_build.exercises import load_exercise, without_run_instructions

    environment = _cell("code", "import os")
    setup = _cell("code", "def check(x):\n    pass")
    shown = _cell("code", "print(1)", tags=["book-show"])
    answer = _cell("code", "def f(x):\n    return x", solution=True, grade_id="f")
    intro = _cell("markdown", "# Title\n\nWrite `f`.\n\nRun the first cell: it prints the "
                  "backend.\nTo switch, edit it.\n\n  \nRun the first two code cells before "
                  "the others.\n\nRun the third cell: it is printed.\n\nRun the fourth cell "
                  "too.\n\nRun the fifth cell.\n\nRun the first three cells.\n\nThen "
                  "run the first cell again.")
    alone = _cell("markdown", "Run the second cell.")
    hand_in = _cell("markdown", "## Before you hand it in\n\nRun the whole notebook from the "
                    "top. Change `KERAS_BACKEND` in the first cell and run it again.")
    notebook = nbformat.v4.new_notebook(cells=[intro, environment, alone, setup, shown, answer,
                                               hand_in])
    printed = without_run_instructions(notebook)
    kept = ("# Title\n\nWrite `f`.\n\nRun the third cell: it is printed.\n\nRun the fourth "
            "cell too.\n\nRun the fifth cell.\n\nRun the first three cells.\n\nThen run the "
            "first cell again.")  # the third and fourth are printed, there is no fifth
    # "Run the second cell.", its only paragraph, goes: the second code cell is left out
    assert [c.source for c in printed.cells if c.cell_type == "markdown"] == [kept,
                                                                             hand_in.source]
    assert len(notebook.cells) == 7 and notebook.cells[0].source == intro.source

    for path in NOTEBOOKS:
        week, text = path.parent.name, "".join(source(c) for c in cells(path))
        assert "\n\nRun the first cell: it says which Keras backend" in text, week
        for edition in ("student", "instructor"):
            exercise = load_exercise(REPO / "solutions", f"{week}/{path.name}", edition, "t")
            markdown = "\n\n".join(c.source for c in exercise.notebook.cells
                                   if c.cell_type == "markdown")  # fmt: skip
            assert "Run the first cell" not in markdown, (week, edition)
            assert "Before you hand it in" in markdown, week  # it says: "change
            assert re.search(r"KERAS_BACKEND`\s+in\s+the\s+first\s+cell", markdown), week
            intro = next(c.source for c in exercise.notebook.cells if c.cell_type == "markdown")
            assert "\n\n\n" not in intro and re.search(r"exercises are\s+worth", intro), week


def test_a_check_cell_is_printed_without_the_set_up_s_calls_that_check_nothing():
    """``remind_second_backend()``, the last line of the check cells of six notebooks,
    was printed 34 times: a call, with no argument, of a function of the left-out set-up."""
    from weasyprint_build.exercises import load_exercise, without_plumbing_calls

    setup = _cell("code", "def check(what, x):\n    print(what)\n\n\ndef remind():\n    pass")
    checks = _cell("code", "check('f(1)', f(1))  # one\nremind()\nremind(); x = 1\n"
                   "y = remind()\ncheck(\n    'f(2)', f(2))\nremind()  # the backend\n",
                   grade=True, points=1, grade_id="c")
    answer = _cell("code", "def f(x):\n    return remind()\nremind()", solution=True)
    notebook = nbformat.v4.new_notebook(cells=[setup, answer, checks])
    printed = without_plumbing_calls(notebook)
    assert printed.cells[2].source == (
        "check('f(1)', f(1))  # one\nremind(); x = 1\ny = remind()\ncheck(\n    'f(2)', f(2))")
    assert printed.cells[1].source == "def f(x):\n    return remind()"
    assert printed.cells[0].source == setup.source  # the set-up is left out whole, not edited
    assert notebook.cells[2].source == checks.source  # the notebook itself is not changed

    def checks_of(cells) -> str:
        return "\n".join(c.source for c in cells if c.get("metadata", {}).get("nbgrader", {})
                         .get("grade"))

    source = checks_of(nbformat.read(REPO / "solutions/week5/compute-budget.ipynb", 4).cells)
    assert source.count("remind_second_backend()") == 4
    for edition in ("student", "instructor"):  # the real notebook: every check stays
        exercise = load_exercise(REPO / "solutions", "week5/compute-budget.ipynb", edition, "t")
        printed = checks_of(exercise.notebook.cells)
        assert "remind_second_backend" not in printed
        assert printed.count("check_") == source.count("check_") == 17


def test_a_check_cell_is_printed_without_its_message_to_the_learner_at_the_keyboard():
    """The last check cell of weeks 3, 4, 6 and 7 printed "All the checks pass on ... Now run the
    notebook once on a second backend": text alone, whose fields name only the set-up's modules,
    which the notebook's "Before you hand it in" section (printed) says in prose. A print of
    anything the exercise computes stays."""
    from weasyprint_build.exercises import load_exercise, without_plumbing_calls

    setup = _cell("code", "import sys\nimport keras\nfrom keras import ops")
    checks = _cell("code", 'print("Done.")\nprint(f"All pass on {keras.backend.backend()}. Now "\n'
                   '      "run it on a second backend.")\nprint(f"f(1) = {f(1)}")\nprint(f(2))\n'
                   'print("to stderr", file=sys.stderr)\nprint(f"{ops.ones(2)}", end="")\n'
                   'x = 1; print("x")\n', grade=True, points=1, grade_id="c")  # fmt: skip
    answer = _cell("code", "def f(x):\n    print('computing')\n    return x", solution=True)
    notebook = nbformat.v4.new_notebook(cells=[setup, answer, checks])
    printed = without_plumbing_calls(notebook)
    assert printed.cells[2].source == (
        'print(f"f(1) = {f(1)}")\nprint(f(2))\nprint("to stderr", file=sys.stderr)\n'
        'x = 1; print("x")')
    assert printed.cells[1].source == answer.source  # inside a function: the code's own print

    for week in ("week3/pretraining-a-gpt", "week4/generating-text", "week6/fine-tuning",
                 "week7/alignment"):  # fmt: skip
        path = REPO / "solutions" / f"{week}.ipynb"
        assert "second backend" in "".join(c.source for c in nbformat.read(path, 4).cells
                                           if c.cell_type == "code")  # fmt: skip
        for edition in ("student", "instructor"):
            exercise = load_exercise(REPO / "solutions", f"{week}.ipynb", edition, "t")
            code = [c.source for c in exercise.notebook.cells if c.cell_type == "code"]
            assert not [c for c in code if "second backend" in c], (week, edition)
            markdown = "".join(c.source for c in exercise.notebook.cells
                               if c.cell_type == "markdown")  # fmt: skip
            assert "Before you hand it in" in markdown and "second backend" in markdown


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
                assert title(week, case.name) in text.lower(), (week, case.name)
                named += 1
        text = series_expanded(text)
        for probe_path in sorted((REPO / "autograder" / "probes" / week).glob("[!_]*.py")):
            probe = load_probe(probe_path)
            for check in probe.checks:  # the checks' names, never their inputs
                # (printed with the prose's curly quotes: "grader’s weights")
                assert curly_quotes(re.sub(r"\s+", " ", check.name)) in text, (week, check.name)
            assert "def inputs" not in text and "rng." not in text
    assert named >= 100  # the corpus's mistakes, each under its exercise


def mistake_items(notes: str) -> dict[str, str]:
    """{mistake name: the text of its item} of a week's teaching notes (series expanded)."""
    items = re.findall(r'<li><span class="mistake-name">(.*?)</span>(.*?)</li>', notes, re.DOTALL)
    return {plain(name).lower(): series_expanded(re.sub(r"\s+", " ", plain(name + rest)))
            for name, rest in items}


_SERIES = re.compile(r"(\u201c?)([^\u201c\u201d()]*?\b([kjnm])\b[^\u201c\u201d()]*?)(\u201d?) for \3 = "
                     r"((?:\d+(?: to \d+)?(?:, | and )?)+)")


def series_expanded(text: str) -> str:
    """``“run k of 12” for k = 2 to 4 and 7`` as ``“run 2 of 12”, “run 3 of 12”, “run 4 of
    12”, “run 7 of 12”``: the names a series of checks stands for, each as it is named alone."""
    def expanded(match: re.Match) -> str:
        numbers = []
        for part in re.split(r", | and ", match[5].strip(", ").removesuffix(" and")):
            first, _, last = part.partition(" to ")
            numbers += range(int(first), int(last or first) + 1)
        name = match[2].strip()
        return ", ".join(match[1] + re.sub(rf"\b{match[3]}\b", str(n), name) + match[4]
                         for n in numbers) + " "
    return _SERIES.sub(expanded, text)


def test_checks_that_differ_in_one_number_are_said_once():
    """Week 3's ``diagnose`` has 12 checks, "run 1 of 12" to "run 12 of 12": one item, not
    twelve, and a mistake says how many of the runs it fails, not which: the runs' order is
    drawn per submission (book read of p. 105: "k = 2 to 9 and 12" for one mistake and "1 to 4,
    6 and 8" for another read as if run 1 were healthy in one and not in the other)."""
    notebook = nbformat.read(REPO / "solutions/week3/pretraining-a-gpt.ipynb", as_version=4)
    notes = week_notes(REPO, "week3", notebook)
    diagnose = next(exercise for exercise in notes.exercises if exercise.name == "diagnose")
    assert [check.name for check in diagnose.checks] == [f"run {k} of 12" for k in range(1, 13)]
    html_notes = render_notes(notes)
    section = html_notes[html_notes.index("<code>diagnose</code> (4 points)"):]
    checks = re.findall(r"<li><span class=\"check-name\">.*?</li>", section.split(
        "What the hidden checks test", 1)[1].split("</ul>", 1)[0], re.DOTALL)
    assert len(checks) == 1 and plain(checks[0]).startswith(
        "run k of 12 for k = 1 to 12 (1/3 of a point each): Test in the order of the table")
    assert "run 2 of 12" not in plain(section)  # the series, never the twelve names
    stored = json.loads((REPO / "tests/course/weeks/failing_checks.json").read_text())["week3"]
    series, items = 0, mistake_items(section)
    for case, failing in stored.items():  # the mistakes (not the release, which fails all)
        runs = sorted(int(name.split()[1]) for name in failing.get("diagnose", {}))
        if len(runs) >= 3 and title("week3", case) in items:  # how many runs, never which
            text = items[title("week3", case)]
            assert f"Fails {len(runs)} of the 12 checks \u201crun k of 12\u201d" in text, text
            assert not re.search(r"run \d+ of 12|for k =", text), text
            series += 1
    assert series >= 2
    from weasyprint_build.teaching_notes import _quoted_names, _ranges

    # the whole series failing (an exception, the release) is said as a series still
    names = [f"run {k} of 12" for k in range(1, 13)]
    assert plain(_quoted_names(names, names)) == "\u201crun k of 12\u201d for k = 1 to 12"
    assert plain(_quoted_names(["a", "run 2 of 12", "run 5 of 12"], ["a", *names])) == (
        "\u201ca\u201d and 2 of the 12 checks \u201crun k of 12\u201d")
    assert _ranges([2, 3, 4, 5, 6, 7, 8, 9, 12]) == "2 to 9 and 12"
    assert _ranges([1, 2, 3, 4, 6, 8]) == "1 to 4, 6 and 8"
    assert plain(_quoted_names(["a", "b 1", "b 2", "c 1 of 3", "c 2 of 3", "c 3 of 3"])) == (
        "\u201ca\u201d, \u201cb 1\u201d, \u201cb 2\u201d and \u201cc k of 3\u201d for k = 1 to 3")
    assert plain(_quoted_names(["k = 1", "k = 2", "k = 3"])) == "\u201ck = j\u201d for j = 1 to 3"


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
            text = items[title(week, case.name)]
            failing = stored[week][case.name]
            assert set(failing) >= set(case.lost), (week, case.name, failing)
            checks = [check for checks in failing.values() for check in checks]
            # part of a series of checks is said as how many ("9 of the 12 checks “run k of
            # 12”"), not which
            for count, total, name in re.findall(
                    r"(\d+) of the (\d+) checks \u201c([^\u201d]*)\u201d", text):
                member = re.compile(re.sub(r"\b[kjnm]\b", r"\\d+", re.escape(name)))
                counted = [check for check in checks if member.fullmatch(check)]
                assert len(counted) == int(count) < int(total), (week, case.name, text)
                checks = [check for check in checks if check not in counted]
            # what differs, for each check of its own exercise; the hint after it is quoted
            # unless it is the one the list of checks prints (checked below)
            # (its own exercise's: the one whose feedback the note quotes)
            # (printed with the prose's curly quotes)
            said = [{curly_quotes(re.sub(r"\s+", " ", found["feedback"].replace("`", "").replace(
                " from the reference by more than the tolerance", "").replace(
                " from the reference", "")).partition(". ")[0]
                     .strip(". ")) for found in own.values()} for own in failing.values()]
            if not (all(f"\u201c{curly_quotes(check)}\u201d" in text for check in checks)
                    and any(all(what in text for what in one) for one in said)):  # fmt: skip
                unnamed.append((week, case.name, failing, text))
    assert mistakes >= 100 and not unnamed, (mistakes, len(unnamed), unnamed[:2])


def test_the_probes_summaries_name_nothing_the_reader_cannot_see():
    """The instructor edition prints each probe's docstring under "What the hidden checks
    test"; week 7's said "(see TOLERANCE)", a constant of the probe the book does not print.
    A summary names none of its probe's module-level constants, and says a tolerance in
    numbers equal to the probe's."""
    import ast

    from autograder.probes import load_probe
    from weasyprint_build.teaching_notes import _docstring

    probes = sorted((REPO / "autograder" / "probes").glob("*/[!_]*.py"))
    assert len(probes) >= 30
    for path in probes:
        tree = ast.parse(path.read_text())
        constants = {target.id for node in tree.body if isinstance(node, ast.Assign)
                     for target in node.targets
                     if isinstance(target, ast.Name) and target.id.isupper()}
        summary = _docstring(path)
        assert not [c for c in constants if re.search(rf"\b{c}\b", summary)], (path, summary)
    path = REPO / "autograder/probes/week7/group_advantages.py"
    said = re.search(r"within ([\d.]+) of the reference's \(plus ([\d.]+) % of it\)",
                     _docstring(path))
    for check in load_probe(path).checks:
        assert (check.atol, check.rtol) == (float(said[1]), float(said[2]) / 100), check


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


def test_checks_whose_feedback_reads_the_same_are_named_together():
    """Two checks with their own hints fail with the same count: the note said "Fails “a”
    (“4 of 4 values differ.”); “b” (“4 of 4 values differ.”)", the same words twice or four
    times (book read of 5 December, pp. 127, 198, 199); it names them together once. An exact
    check's "from the reference" goes as the tolerance's does (the introduction says it)."""
    exercise = ExerciseNote("loss", 1, ("loss",), 3.0, "", [
        CheckNote("a", 1.0, "hint a"), CheckNote("b", 1.0, "hint b"),
        CheckNote("c", 1.0, "hint c")], (), ())
    mistake = Mistake("Summed over the prompt", "", {"loss": 3.0}, ("jax",), {"loss": {
        "a": {"backends": ["jax"], "feedback": "4 of 4 values differ from the reference by more "
                                                "than the tolerance. hint a"},
        "b": {"backends": ["jax"], "feedback": "4 of 4 values differ from the reference. hint b"},
        "c": {"backends": ["jax"], "feedback": "1 of 4 values differ. hint c"}}})
    text = plain(_mistake(mistake, exercise, WeekNotes("week7", [exercise], 1)))
    assert ("Fails \u201ca\u201d and \u201cb\u201d (\u201c4 of 4 values differ.\u201d); "
            "\u201cc\u201d (\u201c1 of 4 values differ.\u201d).") in text


def test_a_hint_shared_with_an_earlier_check_is_printed_once():
    """Book read (instructor edition, pp. 33, 200): "targets, a larger stride" printed the hint
    of "targets, stride 1" again word for word, two checks after it; it names that check
    instead. A hint shared with the check right before is left out, as before."""
    from weasyprint_build.teaching_notes import _exercise_notes

    exercise = ExerciseNote("windows", 1, ("windows",), 2.0, "", [
        CheckNote("inputs", 0.5, "start at w"), CheckNote("targets", 0.5, "move by one"),
        CheckNote("more inputs", 0.5, "start at w"), CheckNote("more targets", 0.5, "move by one"),
        CheckNote("last targets", 0.5, "move by one")], (), ())
    markup = _exercise_notes(exercise, WeekNotes("week1", [exercise], 1))
    text = plain(markup)
    assert text.count("move by one") == 1 and text.count("start at w") == 1, text
    assert "more inputs (0.5 points): the hint of \u201cinputs\u201d" in text
    assert "more targets (0.5 points): the hint of \u201ctargets\u201d" in text
    assert '<span class="check-name">last targets</span> (0.5 points)</li>' in markup


def test_a_third_of_a_point_is_said_as_a_fraction_and_the_total_is_printed_once():
    """"0.33 points each" for twelve checks of a 4-point exercise did not add up (book read of
    5 December, p. 102); the points table's total was a footer that WeasyPrint repeats on each
    page the table spans (pp. 43-44 showed it under 5 of 6 rows)."""
    from weasyprint_build.teaching_notes import _points, _points_table

    assert [_points(v) for v in (1 / 3, 0.5, 1, 2, 4 / 3, 0.25)] == [
        "1/3 of a point", "0.5 points", "1 point", "2 points", "4/3 points", "0.25 points"]
    exercise = ExerciseNote("loss", 1, ("loss",), 3.0, "", [CheckNote("a", 3.0, "")], (), ())
    table = _points_table(WeekNotes("week7", [exercise], 1))
    assert "<tfoot" not in table and table.count(">total<") == 1
    assert table.index(">total<") < table.index("</tbody>")


def test_names_of_code_in_a_mistake_are_set_as_code(rendered):
    """The corpus's comments name code with or without backticks (``train_bpe uses
    get_pair_counts``); the notes set each such name in the code font, and a case name's
    Python words keep their spelling (``merge_returns_none_...`` reads "`merge` returns
    None")."""
    raw = {}  # {mistake name: its item's HTML}, every week
    for path in NOTEBOOKS:
        notes = rendered[path.parent.name, "instructor"].split('class="teaching-notes"', 1)[1]
        raw.update(re.findall(r'<li><span class="mistake-name">(.*?)</span>(.*?)</li>', notes,
                              re.DOTALL))  # fmt: skip
    assert len(raw) >= 100
    assert "<code>merge</code> returns None without the pair" in raw
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
    # each week's notes, and one entry for each in the contents
    assert text.count("Teaching notes") == 2 * len(NOTEBOOKS)
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


def test_code_in_the_notes_is_set_whole_in_one_font_and_the_prose_curled():
    """Readers found names inside a ``double-backtick`` span nested in a second <code> (printed
    at 0.67 em), a path or tuple of a hint half in the code font, and straight apostrophes."""
    from weasyprint_build.teaching_notes import _code

    assert _code("``cached_attention_step(q, k, v, cache, index)``") == (
        "<code>cached_attention_step(q, k, v, cache, index)</code>")
    assert _code("up_projection/kernel is (d_model, d_ff): its bias (d_ff,), (None, model_axis)"
                 ) == ("<code>up_projection/kernel</code> is <code>(d_model, d_ff)</code>: its bias "
                       "<code>(d_ff,)</code>, <code>(None, model_axis)</code>")  # fmt: skip
    assert _code("the path (e.g. 'gpt_3/block_11/attention/query/kernel'): start with '.*'.") == (
        "the path (e.g. <code>'gpt_3/block_11/attention/query/kernel'</code>): start with "
        "<code>'.*'</code>.")  # fmt: skip
    assert _code("merge(ids, pair, new_id) on llm_keras.tokenizers.bpe") == (
        "<code>merge(ids, pair, new_id)</code> on <code>llm_keras.tokenizers.bpe</code>")
    assert _code('ids[s + 1 : s + context_length + 1] with errors="replace"') == (
        '<code>ids[s + 1 : s + context_length + 1]</code> with <code>errors="replace"</code>')
    assert _code("the grader's cache (kernel and bias), \"as said\"") == (
        "the grader\u2019s cache (kernel and bias), \u201cas said\u201d")
    assert "<code><code>" not in _code("``a_b(c_d)`` and `x_y` and z_w")
    assert _code("no other weight matched (attention, embeddings, norms)") == (
        "no other weight matched (attention, embeddings, norms)")  # words in brackets: prose
    assert _code("In (7, 7, 7) the pair (7, 7) occurs twice") == (
        "In (7, 7, 7) the pair (7, 7) occurs twice")  # numbers too, as [5, 5, 5] is


def test_numbers_nested_subscripts_and_apostrophes_after_code_in_the_notes():
    """Book read 5 Dec: ``beta=0.1`` printed as "beta=0" in code and ".1" in prose (readI4 8,
    readI2 13), ``hidden[b, lengths[b] - 1]`` cut at its inner bracket, and the apostrophe
    after a code span set as an opening quote, "np.std‘s" (readI1 6, readI2 12, readI4 8)."""
    from weasyprint_build.teaching_notes import _code

    assert _code("AdamW with beta_1=0.9, epsilon=1e-8; the default is beta=0.1.") == (
        "AdamW with <code>beta_1=0.9</code>, <code>epsilon=1e-8</code>; the default is "
        "<code>beta=0.1</code>.")
    assert _code("Row b's features are hidden[b, lengths[b] - 1]: the last") == (
        "Row b\u2019s features are <code>hidden[b, lengths[b] - 1]</code>: the last")
    assert _code("not by group_size (ops.std and np.std's default)") == (
        "not by <code>group_size</code> (<code>ops.std</code> and <code>np.std</code>\u2019s "
        "default)")
    assert _code("``llm_keras.models.GPT``'s weights, `np.std`'s default, \"the\" `x` 'y'") == (
        "<code>llm_keras.models.GPT</code>\u2019s weights, <code>np.std</code>\u2019s default, "
        "\u201cthe\u201d <code>x</code> <code>'y'</code>")
    assert _code("over the peak FLOP/s, up_projection/kernel") == (
        "over the peak FLOP/s, <code>up_projection/kernel</code>")  # a unit, and a path
    # an expression the hint writes in backticks is one piece of code, quotes and all
    assert _code('read `int.from_bytes(..., "little")`, not 1 - (1 - c / n) ** k') == (
        'read <code>int.from_bytes(..., "little")</code>, not 1 - (1 - c / n) ** k')


def test_the_notes_introduction_and_mistake_titles_read_as_prose():
    """Book read 5 Dec: the introduction's apostrophes were straight (readI1 8, readI4 5), and
    the case ``top_k_strictly_above_the_kth`` read "the kth" beside the text's "k-th"
    (readI3 4)."""
    exercise = ExerciseNote("attention", 1, ("attention",), 4.0, "", [
        CheckNote("values", 4.0, "hint")], (), ())
    introduction = render_notes(WeekNotes("week2", [exercise], 1), "Section 1.7").split(
        "</p>", 1)[0]
    assert "'" not in plain(introduction) and "autograder\u2019s hidden probes" in plain(
        introduction)
    # how to read the notes is said once, in the introduction (book read of 5 Dec, r4 #12: the
    # same paragraph opened the notes of all eight weeks); each week's opening points there
    assert plain(introduction).endswith(
        "1 for this week, 0 of them typical mistakes); Section 1.7 says how they are made and "
        "how to read them."), plain(introduction)
    assert plain(render_notes(WeekNotes("week2", [exercise], 1))).split("\n")[2].startswith(
        "For instructors: generated from the autograder\u2019s hidden probes "
        "(autograder/probes/week2/) and its corpus of submissions (tests/course/weeks/"
        "corpus.py: 1 for this week, 0 of them typical mistakes).")
    assert _case_title("top_k_strictly_above_the_kth") == "Top k strictly above the k-th"
    assert _case_title("top_p_without_the_rule_for_p_at_least_1") == (
        "Top p without the rule for p at least 1")
    assert _case_title("bradley_terry_log_of_sigmoid") == "Bradley-Terry log of sigmoid"
    # the week's code as code (book read 5 Dec: "Delegates train BPE", "Delegates LoRA dense")
    assert _case_title("delegates_train_bpe", ("train_bpe", "merge")) == "Delegates `train_bpe`"
    assert _case_title("delegates_lora_dense", ("LoRADense",)) == "Delegates `LoRADense`"
    assert _case_title("warmup_off_by_one") == "Warm-up off by one"
    assert _case_title("clipnorm_instead_of_global_clipnorm") == (
        "`clipnorm` instead of `global_clipnorm`")
    # the course's spellings (instructor-edition read, pp. 50, 174, 201, 203): "K3 of the other
    # direction", "LoRA b", "Log probs", "Repeated n-grams overlaps counted again"
    assert _case_title("k3_of_the_other_direction") == "k3 of the other direction"
    assert _case_title("lora_b_random_at_the_start") == "LoRA B random at the start"
    assert _case_title("log_probs_log_of_softmax") == "Log-probs log of softmax"
    assert _case_title("repeated_ngrams_overlaps_counted_again") == (
        "Overlaps of repeated n-grams counted again")
    assert _case_title("ngrams_occurring_once_marked") == "N-grams occurring once marked too"
    # a comment that ends in a bracketed sentence gets no second full stop ("... .).")
    mistake = Mistake("k3 of the other direction", "Not this KL. (`d` is `-e`.)",
                      {"attention": 4.0}, ("torch",), {})
    text = plain(_mistake(mistake, exercise, WeekNotes("week7", [exercise], 1)))
    assert "(d is -e.) Loses 4 of its 4 points." in text and ".)." not in text


def test_each_summary_opens_with_the_calls_it_grades():
    """Book read 5 Dec (readI1 4): week 1's first note opened "char_vocabulary, encode_chars,
    decode_chars.", the heading's names again as a sentence; every summary names each function
    the learner writes with its arguments, as the others do (``get_pair_counts(words)``)."""
    from autograder.probes import load_probe
    from weasyprint_build.teaching_notes import _docstring

    for path in sorted((REPO / "autograder" / "probes").glob("*/[!_]*.py")):
        summary = _docstring(path)
        for name in load_probe(path).exercise.names:
            assert f"{name}(" in summary, (path.name, name, summary[:80])


def test_how_to_read_the_notes_is_said_once(course_build):
    """Book read of 5 December (r4 #12): the notes of each of the eight weeks opened with the
    same paragraph on how they are made, and the contents did not list them. The paragraph is
    now the introduction's (in its section on the autograder, instructor edition only), each
    week's opening links to that section, and the contents list each week's notes under its
    exercise, with the page they start on."""
    result = course_build.results["instructor"]
    markup = result.html.read_text()
    text = normalize(pdftotext(result.pdf))
    one_draw = "so such counts, shapes and run numbers are one draw\u2019s example"
    assert text.count(one_draw) == 1, text.count(one_draw)
    start, end = markup.index('id="sec-autograder"'), markup.index('id="sec-troubleshooting"')
    autograder = markup[start:end]
    assert "one draw\u2019s example" in autograder and "only-instructor" in autograder
    student = normalize(pdftotext(course_build.pdf("student")))
    assert one_draw not in student and "Teaching notes" not in student
    section = re.search(r'<h2 id="sec-autograder"><span class="number">([\d.]+)</span>',
                        markup).group(1)
    openings = re.findall(r'<div class="teaching-notes">\s*<h3 id="notes-([\w-]+)"[^>]*>'
                          r'(?:<[^>]+>)?Teaching notes(?:</span>)?</h3>\s*<p>(.*?)</p>', markup,
                          re.S)  # fmt: skip
    assert len(openings) == len(NOTEBOOKS), openings
    for week, opening in openings:
        assert f'href="#sec-autograder">Section\u00a0{section}</a> says how they are made' in (
            opening), (week, opening)
        assert "drawn anew" not in opening
    contents = re.search(r'<nav id="toc">.*?</nav>', markup, re.S).group(0)
    entries = re.findall(r'<li class="toc-(\d)"><a href="#([^"]+)">', contents)
    for week, _ in openings:
        at = entries.index(("3", f"notes-{week}"))
        exercise = next(anchor for level, anchor in reversed(entries[:at]) if level == "2")
        assert exercise.startswith("ex-week"), (week, exercise)
        assert week in exercise, (week, exercise)
    # each entry's page is the page its heading is on (pages numbered from the cover, 1)
    reader = PdfReader(str(result.pdf))
    pages = {name.lstrip("/"): reader.get_destination_page_number(dest)
             for name, dest in reader.named_destinations.items()}
    contents = "".join(reader.pages[i].extract_text() for i in range(1, 4))
    listed = [int(n) for n in re.findall(r"Teaching notes\s*[.\s]*?(\d+)\n", contents)]
    assert listed == [pages[f"notes-{week}"] + 1 for week, _ in openings], listed
