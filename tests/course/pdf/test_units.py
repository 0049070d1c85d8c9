"""Small pieces of the build, tested without building a book."""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
import pytest

from tests.course.pdf.conftest import REPO, SAMPLE, SOLUTION_SENTINEL
from weasyprint_build import add_pdf_command, run_pdf_command
from weasyprint_build.chapters import CHAPTER_NAME, find_chapter_files
from weasyprint_build.exercises import cell_role, student_version
from weasyprint_build.markdown import split_directive
from weasyprint_build.outputs import sort_outputs, terminal_text


def test_terminal_text_keeps_what_a_terminal_would_show():
    assert terminal_text("10%\r50%\r100%\n") == "100%\n"
    # Keras writes one backspace per character shown and a carriage return, then the new bar.
    assert terminal_text("1/3 [==>...]" + "\b" * 12 + "\r3/3 [======]") == "3/3 [======]"
    assert terminal_text("abcd\b\bX") == "abXd"  # a backspace moves back, it does not erase
    assert terminal_text("\x1b[31mred\x1b[0m plain") == "red plain"
    assert terminal_text("abc\rX") == "Xbc"


def test_glued_values_are_collected_and_not_shown():
    outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": "42"},
            metadata={"scrapbook": {"name": "answer", "mime_prefix": ""}},
        ),
        nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
    ]
    glued: dict = {}
    sorted_outputs = sort_outputs(outputs, glued)
    assert glued == {"answer": {"text/plain": "42"}}
    assert sorted_outputs.stdout == "hello" and sorted_outputs.rich == []


def test_directive_options_are_read_in_both_myst_forms():
    assert split_directive(":name: tab-a\n| a |", "x") == ({"name": "tab-a"}, "| a |")
    assert split_directive("---\nname: tab-b\n---\nbody", "x") == ({"name": "tab-b"}, "body")


def test_chapters_are_the_numbered_markdown_files_in_name_order():
    assert CHAPTER_NAME.match("01-week1-foundations.md")
    assert not CHAPTER_NAME.match("README.md")
    assert not CHAPTER_NAME.match("1-short.md")
    names = [p.name for p in find_chapter_files(REPO / "course")]
    assert names == sorted(names) and "00-introduction.md" in names and "README.md" not in names


def test_the_student_version_replaces_the_solution_and_keeps_the_signature():
    path = SAMPLE / "solutions" / "week1" / "01-count-tokens.ipynb"
    source = nbformat.read(path, as_version=4)
    student = student_version(source, path)
    answer = student.cells[2]
    assert cell_role(answer) == ("answer", "answer cell")
    assert answer.source.splitlines() == [
        "def count_tokens(text: str, tokenizer) -> int:",
        '    """The number of token ids of `text` (an int)."""',
        "    # YOUR CODE HERE",
        "    raise NotImplementedError()",
    ]
    assert SOLUTION_SENTINEL in source.cells[2].source  # the source notebook is left as it was
    assert cell_role(student.cells[3]) == ("check", "check, 2 points")


def test_the_pdf_command_plugs_into_an_argparse_cli():
    parser = argparse.ArgumentParser(prog="llm-course")
    add_pdf_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pdf", "--edition", "instructor", "--out", "x.pdf", "--fresh"])
    assert args.handler is run_pdf_command
    assert (args.edition, args.out, args.fresh, args.backend) == (
        "instructor",
        Path("x.pdf"),
        True,
        "jax",
    )
    assert args.course == Path("course") and args.solutions is None and args.jobs == 2


def test_the_pdf_command_reports_a_build_error_in_one_line(tmp_path, capsys):
    args = argparse.Namespace(
        edition="student",
        course=tmp_path / "nowhere",
        solutions=None,
        out=None,
        backend="jax",
        jobs=1,
        fresh=False,
    )
    assert run_pdf_command(args) == 1
    error = capsys.readouterr().err
    assert error.startswith("llm-course pdf: error: No course folder at ")
    assert "Traceback" not in error


def test_a_reference_module_is_summed_up_by_its_docstrings_first_paragraph():
    from weasyprint_build.chapters import reference_module
    from weasyprint_build.render import _inline_code

    module = reference_module("llm_keras.training.budget", "05-week5.md")
    first_paragraph = (REPO / module.path).read_text().split('"""')[1].split("\n\n")[0]
    assert "\n" in first_paragraph  # the sentence runs over two lines of the file
    assert '"The compute budget"' in first_paragraph  # printed with the prose's quotes
    assert module.summary == " ".join(first_paragraph.split()).replace(
        '"The compute budget"', "\u201cThe compute budget\u201d")
    assert _inline_code("``a < b`` and ``c``") == (
        '<code><span class="nobreak">a &lt; b</span></code> and <code>c</code>')


def test_a_reference_box_curls_the_quotes_of_its_docstring_but_not_of_its_code():
    from weasyprint_build.chapters import curly_quotes

    assert curly_quotes("""The course's corpora (week 1, "Text as data"), 'a' and ('b').""") == (
        "The course\u2019s corpora (week 1, \u201cText as data\u201d), \u2018a\u2019 and "
        "(\u2018b\u2019).")
    assert curly_quotes("""``llm-keras serve --name "x"``, "MLP" and ``d['k']``""") == (
        """``llm-keras serve --name "x"``, \u201cMLP\u201d and ``d['k']``""")
    # right after code a quote closes: an apostrophe (book read 5 Dec: "minhash\u2018s")
    assert curly_quotes("""``llm_keras.data.minhash``'s ``MinHasher``, ``a`` 'b'""") == (
        "``llm_keras.data.minhash``\u2019s ``MinHasher``, ``a`` \u2018b\u2019")


def test_the_chapter_cache_is_keyed_on_the_library_and_the_notebooks(tmp_path):
    from weasyprint_build.chapters import read_chapter
    from weasyprint_build.execute import cache_key, sources_digest

    (tmp_path / "llm_keras").mkdir()
    (tmp_path / "solutions" / "week1").mkdir(parents=True)
    module = tmp_path / "llm_keras" / "windows.py"
    notebook = tmp_path / "solutions" / "week1" / "a.ipynb"
    module.write_text("STRIDE = 1\n")
    notebook.write_text("{}")
    chapter_file = tmp_path / "01-a.md"
    chapter_file.write_text("# A\n\n```{code-cell} python\nprint(1)\n```\n")
    chapter = read_chapter(chapter_file, 1)

    keys = [cache_key(chapter, "jax", sources_digest(tmp_path))]
    module.write_text("STRIDE = 2\n")
    keys.append(cache_key(chapter, "jax", sources_digest(tmp_path)))
    notebook.write_text('{"cells": []}')
    keys.append(cache_key(chapter, "jax", sources_digest(tmp_path)))
    (tmp_path / "llm_keras" / "notes.txt").write_text("not code")
    keys.append(cache_key(chapter, "jax", sources_digest(tmp_path)))
    assert len(set(keys[:3])) == 3 and keys[3] == keys[2]


def test_a_benchmark_result_or_figure_re_runs_only_the_chapters_that_read_it(tmp_path):
    """A new benchmark run (course/results/) or figure (course/figures/) re-runs the chapters
    that name the file, or build a name in its folder, and no other (before, every chapter:
    the training benchmark's new results re-ran all eight, 5 to 10 minutes)."""
    from weasyprint_build.chapters import read_chapter
    from weasyprint_build.execute import files_read_digest

    results, figures = tmp_path / "course" / "results", tmp_path / "course" / "figures"
    results.mkdir(parents=True)
    figures.mkdir(parents=True)
    for name in ("training.json", "alignment.json"):
        (results / name).write_text('{"loss": 1.9}')
    (figures / "demo.svg").write_text("<svg/>")
    codes = {
        "names": 'json.loads(Path("course/results/training.json").read_text())',
        "builds": 'for name in ("training", "alignment"):\n'
                  '    Path(f"course/results/{name}.json").read_text()',
        "figure": 'SVG(filename="course/figures/demo.svg")',
        "none": "print(1)  # the results in course/results/ are not read here",
    }  # fmt: skip
    chapters = {}
    for number, (name, code) in enumerate(codes.items()):
        path = tmp_path / f"0{number}-{name}.md"
        path.write_text(f"# {name}\n\n```{{code-cell}} python\n{code}\n```\n")
        chapters[name] = read_chapter(path, number)

    def keys():
        return {name: files_read_digest(chapter, tmp_path) for name, chapter in chapters.items()}

    def changed(before):
        return sorted(name for name, key in keys().items() if key != before[name])

    before = keys()
    (results / "training.json").write_text('{"loss": 1.8}')
    assert changed(before) == ["builds", "names"]
    before = keys()
    (results / "alignment.json").write_text('{"reward": 0.9}')
    assert changed(before) == ["builds"]
    before = keys()
    (figures / "demo.svg").write_text("<svg width='1'/>")
    assert changed(before) == ["figure"]


def test_the_cache_key_is_the_code_cells_and_not_the_prose(tmp_path):
    from weasyprint_build.chapters import read_chapter
    from weasyprint_build.execute import cache_key

    text = ("# Title\n\nSome prose.\n\n```{code-cell} python\nprint(1)\n```\n\nMore.\n\n"
            "```{code-cell} python\nprint(2)\n```\n")  # fmt: skip
    variants = {
        "as written": text,
        "prose edited": text.replace("Some prose.", "Other prose, and a new paragraph.\n\nHere."),
        "code edited": text.replace("print(2)", "print(3)"),
        "cells swapped": text.replace("print(1)", "print(0)").replace("print(2)", "print(1)")
                             .replace("print(0)", "print(2)"),
        "a cell option": text.replace("```{code-cell} python\nprint(2)",
                                      "```{code-cell} python\n:tags: [raises-exception]\nprint(2)"),
    }  # fmt: skip
    keys = {}
    for name, variant in variants.items():
        path = tmp_path / f"{len(keys)}-chapter.md"
        path.write_text(variant, encoding="utf-8")
        keys[name] = cache_key(read_chapter(path, 1), "jax")
    assert keys["prose edited"] == keys["as written"]
    assert len({keys[name] for name in variants if name != "prose edited"}) == 4


def test_a_prose_edit_runs_no_code_and_shows_the_new_text_beside_the_old_outputs(tmp_path):
    """A real kernel: the second build takes the outputs from the cache (the time the code
    printed is the first run's) and puts them beside the edited prose."""
    import weasyprint_build.execute as execute
    from weasyprint_build.chapters import read_chapter

    path = tmp_path / "01-chapter.md"
    path.write_text("# Title\n\nFirst words.\n\n```{code-cell} python\nimport time\n"
                    "print(time.time_ns())\n```\n\nLast words.\n", encoding="utf-8")  # fmt: skip
    lines = []

    def build():
        lines.clear()
        chapter = read_chapter(path, 1)
        notebook = execute.execute_chapters([chapter], repo_root=tmp_path,
                                            cache_dir=tmp_path / "cache", log=lines.append)[path]
        prose = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
        printed = [output["text"] for cell in notebook.cells for output in cell.get("outputs", [])
                   if output.get("name") == "stdout"]  # fmt: skip
        return prose, printed

    _, printed = build()
    assert any("running" in line for line in lines) and len(printed) == 1
    path.write_text(path.read_text().replace("First words.", "New first words.\n\nA new one."))
    new_prose, printed_again = build()
    assert any("outputs from the cache" in line for line in lines), lines
    assert printed_again == printed  # not run again: the same time
    assert "New first words." in "".join(new_prose) and "A new one." in "".join(new_prose)
    assert "First words." not in "".join(new_prose).replace("New first words.", "")
    path.write_text(path.read_text().replace("time.time_ns()", "time.time_ns(), 1"))
    _, printed_after_code_edit = build()
    assert any("running" in line for line in lines)
    assert printed_after_code_edit != printed


def test_a_chapter_saved_while_the_build_runs_keeps_the_key_of_the_text_that_ran(tmp_path):
    from weasyprint_build.chapters import read_chapter
    from weasyprint_build.execute import cache_key

    path = tmp_path / "01-chapter.md"
    path.write_text("# Title\n\n```{code-cell} ipython3\nprint(1)\n```\n", encoding="utf-8")
    chapter = read_chapter(path, 1)
    key = cache_key(chapter, "jax")
    path.write_text("# Title\n\n```{code-cell} ipython3\nprint(2)\n```\n", encoding="utf-8")
    # the outputs of print(1) must not be filed under the key of the file that prints 2
    assert cache_key(chapter, "jax") == key
    assert cache_key(read_chapter(path, 1), "jax") != key


def test_an_escaped_underscore_in_text_math_prints_as_an_underscore():
    """`\\text{tokens\\_per\\_character}` (week 3's notebook) printed its backslashes: TeX's
    escapes inside \\text are the characters they stand for, as wide as the plain text."""
    import re

    from weasyprint_build.math_svg import MathRenderer

    math = MathRenderer(None)

    def width(tex: str) -> float:
        return float(re.search(r"width:([\d.]+)em", math.inline(tex)).group(1))

    plain = width(r"\text{tokens_per_character}")
    assert width(r"\text{tokens\_per\_character}") == plain
    assert width(r"\text{50\% of \#ids}") == width(r"\text{50% of #ids}")
    # outside \text, \_ was already an underscore (and a bare _ is a subscript)
    assert width(r"\mathit{head\_dim}") > width(r"\mathit{headdim}")


def test_class_commands_and_bmod_are_drawn_with_their_content_and_spaces():
    """ziamath drew ``a \\mathbin{\\&} b`` as "a b" (the group inside the operator dropped)
    and ``a \\bmod b`` as "amodb". TeX puts 4mu around a binary operator, 5mu around a
    relation and around \\bmod: the spaces ziamath puts around + and =."""
    import re

    from weasyprint_build.math_svg import MathRenderer

    math = MathRenderer(None)

    def width(tex: str) -> float:
        return float(re.search(r"width:([\d.]+)em", math.inline(tex)).group(1))

    def glyphs(tex: str) -> int:
        return math.inline(tex).count("<path")

    assert glyphs(r"a \mathbin{\&} b") == 3 and glyphs(r"a \bmod b") == 5  # a, &, b; a, mod, b
    medium = width("a + b") - width("a{+}b")  # the spaces around a binary operator
    thick = width("a = b") - width("a{=}b")  # around a relation
    assert 0.3 < medium < thick
    assert width(r"a \mathbin{\&} b") - width(r"a{\&}b") == pytest.approx(medium, abs=0.002)
    assert width(r"x \mathrel{\&} y") - width(r"x{\&}y") == pytest.approx(thick, abs=0.002)
    assert width(r"a \bmod b") - width(r"a\mathrm{mod}b") == pytest.approx(thick, abs=0.002)
    assert thick / medium == pytest.approx(5 / 4, abs=0.01)  # 5mu against 4mu, as in TeX
    # nested commands, and a class that adds no space
    assert width(r"x \mathbin{\mathrm{xor}} (y \bmod 2^{64})") > width(r"x\mathrm{xor}(y)")
    assert glyphs(r"\mathord{\&}") == 1


def test_a_unary_sign_and_an_operator_name_are_spaced_as_tex_spaces_them():
    """ziamath spaced ``\\log 0 = -\\infty`` as "= − ∞" (the sign as a binary operator after a
    relation) and put a space before ``\\ln`` at the start of a formula ("vocabulary,  ln V")
    and between ``\\ln`` and its "(". TeX (TeXbook ch. 18): a sign after a relation, an opening
    bracket, a comma or at the start is unary (no space); an operator name gets a thin space
    (3mu) from an ordinary symbol beside it and none from an opening bracket."""
    import re

    from weasyprint_build.math_svg import MathRenderer

    math = MathRenderer(None)

    def width(tex: str) -> float:
        return float(re.search(r"width:([\d.]+)em", math.inline(tex)).group(1))

    thin = width(r"a\,b") - width("ab")
    medium = width("a + b") - width("a{+}b")
    assert 0.1 < thin < medium
    # unary: no space between the sign and what it negates, wherever TeX makes it unary
    for before in ("x =", "(", "x \\le", "f(a,", ""):
        assert width(f"{before} -y") == pytest.approx(width(f"{before} {{-}}y"), abs=0.002)
    assert width("a - b") - width("a{-}b") == pytest.approx(medium, abs=0.002)  # binary
    # an operator name: nothing before it at the start, a thin space after it, none before "("
    assert width(r"\ln V") == pytest.approx(width(r"\mathrm{ln}V") + thin, abs=0.002)
    assert width(r"\ln(x)") == pytest.approx(width(r"\mathrm{ln}(x)"), abs=0.002)
    assert width(r"2\ln x") == pytest.approx(width(r"2\mathrm{ln}x") + 2 * thin, abs=0.002)
    assert width(r"\log_2 n") > width(r"\mathrm{log}n")  # a name with a subscript: as before
    assert "e-mail (-1)" in math.inline(r"\text{e-mail (-1)} = -1")  # text left as it is


def test_a_sign_after_text_in_math_is_a_binary_operator():
    """Week 3's schedule printed "min_lr+½" and "step−warmup_steps" with no spaces (book read
    5 December, readI2 10): the math after a ``\\text`` group was read as the formula's start,
    where a sign is unary. TeX spaces a sign after an ordinary atom (the text) as binary."""
    import re

    from weasyprint_build.math_svg import MathRenderer

    math = MathRenderer(None)

    def width(tex: str) -> float:
        return float(re.search(r"width:([\d.]+)em", math.inline(tex)).group(1))

    medium = width("a + b") - width("a{+}b")
    for sign in "+-":
        spaced = width(rf"\text{{lr}} {sign} b") - width(rf"\text{{lr}}{{{sign}}}b")
        assert spaced == pytest.approx(medium, abs=0.002)
    formula = r"\text{min\_lr} + \tfrac{1}{2}(\text{step} - \text{warmup\_steps})"
    assert width(formula) == pytest.approx(
        width(r"\text{min\_lr}{+}\tfrac{1}{2}(\text{step}{-}\text{warmup\_steps})") + 2 * medium,
        abs=0.002)
    # still unary after a relation or a bracket that follows text, and at the start
    assert width(r"\text{a} = -b") == pytest.approx(width(r"\text{a} = {-}b"), abs=0.002)
    assert width(r"-\text{a}") == pytest.approx(width(r"{-}\text{a}"), abs=0.002)


def test_a_chapter_runs_again_when_a_file_its_code_names_changes(tmp_path, monkeypatch):
    """The introduction's schedule reads docs/benchmarks.md: editing it must re-run the chapter
    (its key covered only llm_keras/, solutions/, course/results/ and course/figures/)."""
    import weasyprint_build.execute as execute
    from weasyprint_build.chapters import read_chapter

    runs = []

    def fake_run(chapter, **kwargs):  # the cache's decision, without starting a kernel
        runs.append(chapter.path.name)
        return chapter.notebook

    monkeypatch.setattr(execute, "execute_notebook", fake_run)
    (tmp_path / "docs").mkdir()
    benchmarks = tmp_path / "docs" / "benchmarks.md"
    benchmarks.write_text("| jax | 1,000 tokens/s |\n")
    chapter_file = tmp_path / "00-introduction.md"
    code = 'from pathlib import Path\nprint(Path("docs/benchmarks.md").read_text())'
    chapter_file.write_text(f"# Intro\n\n```{{code-cell}} python\n{code}\n```\n")
    other_file = tmp_path / "01-other.md"
    other_file.write_text("# Other\n\n```{code-cell} python\nprint(1)\n```\n")

    def build() -> list[str]:
        runs.clear()
        chapters = [read_chapter(chapter_file, 0), read_chapter(other_file, 1)]
        execute.execute_chapters(chapters, repo_root=tmp_path, cache_dir=tmp_path / "cache",
                                 log=lambda line: None)  # fmt: skip
        return sorted(runs)

    assert build() == ["00-introduction.md", "01-other.md"]
    assert build() == []  # nothing changed: both from the cache
    benchmarks.write_text("| jax | 2,000 tokens/s |\n")
    assert build() == ["00-introduction.md"]  # only the chapter that reads it
    (tmp_path / "docs" / "other.md").write_text("not named by any chapter")
    assert build() == []
    # a folder it globs with literal strings (the introduction lists the week chapters)
    chapter_file.write_text(chapter_file.read_text().replace(
        "print(", 'print(sorted(Path("docs").glob("week*.md")), '))
    assert build() == ["00-introduction.md"]  # its text changed
    (tmp_path / "docs" / "week8.md").write_text("a new week")
    assert build() == ["00-introduction.md"]
    (tmp_path / "docs" / "notes.txt").write_text("not globbed")
    assert build() == []
    # a module of the repository it imports (the chapters' sentence on a benchmark's run,
    # weasyprint_build.benchmark_runs: its edit left the old sentence in the cached outputs)
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "runs.py").write_text("SAID = 'on 2026-12-05'\n")
    other_file.write_text(other_file.read_text().replace("print(1)", "from tools.runs import SAID"))
    assert build() == ["01-other.md"]  # its code changed
    assert build() == []
    (tmp_path / "tools" / "runs.py").write_text("SAID = 'at 01:22 UTC the same day'\n")
    assert build() == ["01-other.md"]
    (tmp_path / "tools" / "other.py").write_text("not imported")
    assert build() == []
    # the real introduction names docs/benchmarks.md (its schedule's measured times)
    real = read_chapter(REPO / "course" / "00-introduction.md", 0)
    assert execute.files_read_digest(real, REPO) != ""
    assert "docs/benchmarks.md" in execute._PATH_LITERAL.findall(
        "\n".join(cell.source for cell in real.notebook.cells if cell.cell_type == "code")
    )


def test_rows_of_an_earlier_run_of_the_same_day_are_given_their_date_and_time():
    """The alignment chapter said "an earlier run of the same settings, on 2026-12-05" of rows
    made at 01:22 the day of the run shown (09:11): a date alone reads as another day. Then it
    said "at 01:22 UTC the same day" right after a sentence on 2026-12-04's run, which read as
    4 December, and said "(the benchmark reran the others)" after each run (book read 5 December,
    readI4 9, readS2 8): now one sentence names each run's rows and its date."""
    from weasyprint_build.benchmark_runs import describe_run

    run = {"date": "2026-12-05T09:11:00+00:00", "backend": "jax", "device": "cpu",
           "machine": "AMD EPYC, 2 cores", "load_average_start": [2.6], "load_average_end": [9.1],
           "keras_version": "3.15.1",
           "stages": [{"stage": "sft"}, {"stage": "reward", "run_date": "2026-12-05T01:22:38+00:00"},
                      {"stage": "dpo", "run_date": "2026-12-04T08:11:59+00:00"},
                      {"stage": "rlp", "run_date": "2026-12-05T01:22:38+00:00"}]}  # fmt: skip
    text = describe_run(run)
    assert text.endswith(
        " Some rows come from earlier runs of the same settings: `dpo` from one on 2026-12-04; "
        "`reward` and `rlp` from one at 01:22 UTC on 2026-12-05. The benchmark reran the others."
    ), text
    assert "same day" not in text and text.count("reran the others") == 1
    # the day is the UTC day: 23:30 at UTC-2 is the next day in UTC, the run shown's day
    late = {**run, "stages": [{"stage": "sft", "run_date": "2026-12-04T23:30:00-02:00"}]}
    assert describe_run(late).endswith("settings, at 01:30 UTC on 2026-12-05 (the benchmark "
                                       "reran the others).")
