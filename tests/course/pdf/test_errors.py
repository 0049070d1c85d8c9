"""An author's mistakes stop the build with a message that says where and what to do."""

from __future__ import annotations

import textwrap

import pytest

from tests.course.pdf.conftest import REPO, SAMPLE, myst_header
from weasyprint_build.build import build_pdf
from weasyprint_build.errors import BuildError


def build_chapter(tmp_path, body: str, extra: str = "", name: str = "01-chapter.md"):
    course = tmp_path / "course"
    course.mkdir(exist_ok=True)
    (course / name).write_text(myst_header(extra) + textwrap.dedent(body))
    return build_pdf(
        ["student"],
        course_dir=course,
        repo_root=REPO,
        solutions_dir=SAMPLE / "solutions",
        build_dir=tmp_path / "build",
        log=lambda line: None,
    )


def error_of(tmp_path, body: str, extra: str = "") -> str:
    with pytest.raises(BuildError) as caught:
        build_chapter(tmp_path, body, extra)
    return str(caught.value)


def test_a_reference_to_an_unknown_label_names_the_file_line_and_close_labels(tmp_path):
    message = error_of(
        tmp_path,
        """
        # Title

        (sec-attention)=
        ## Attention

        See {numref}`sec-atention`.
        """,
    )
    assert "course/01-chapter.md, line 17" in message
    assert "{numref}`sec-atention` points at no label" in message
    assert "Did you mean sec-attention?" in message


def test_a_label_used_twice_is_refused(tmp_path):
    message = error_of(
        tmp_path,
        """
        # Title

        (sec-a)=
        ## One

        (sec-a)=
        ## Two
        """,
    )
    assert "the label 'sec-a' is already used by section 1.1" in message


def test_a_code_cell_that_fails_stops_the_build_with_its_error_and_line(tmp_path):
    message = error_of(
        tmp_path,
        """
        # Title

        ```{code-cell} ipython3
        x = 1
        ```

        ```{code-cell} ipython3
        y = 1 / 0
        ```
        """,
    )
    assert (
        "course/01-chapter.md, line 19: a code cell raised ZeroDivisionError: division by zero"
        in message
    )
    assert "raises-exception" in message


def test_an_error_tagged_raises_exception_is_shown(tmp_path):
    result = build_chapter(
        tmp_path,
        """
        # Title

        ```{code-cell} ipython3
        :tags: [raises-exception]
        int("seven")
        ```
        """,
    )[0]
    html = result.html.read_text()
    assert html.count('<pre class="output error">') == 1
    assert "ValueError: invalid literal for int() with base 10: &#x27;seven&#x27;" in html


def test_unknown_tex_is_refused_with_the_command_named(tmp_path):
    message = error_of(
        tmp_path,
        """
        # Title

        Text.

        $$ \\softmaxx(z) $$
        """,
    )
    assert "course/01-chapter.md, line 16" in message
    assert "uses \\softmaxx, which the math renderer (ziamath) does not know" in message


def test_a_missing_exercise_notebook_lists_the_notebooks_there_are(tmp_path):
    message = error_of(
        tmp_path,
        """
        # Title

        ```{exercise} week1/02-missing.ipynb
        ```
        """,
    )
    assert "{exercise} 'week1/02-missing.ipynb': no such notebook" in message
    assert "Notebooks there: week1/01-count-tokens.ipynb." in message


def test_a_module_that_does_not_exist_is_refused(tmp_path):
    message = error_of(tmp_path, "# Title\n", extra="llm_keras_modules: [llm_keras.tokenizerz]\n")
    assert "the module llm_keras.tokenizerz named in llm_keras_modules does not exist" in message


def test_a_chapter_needs_exactly_one_title(tmp_path):
    assert "starts with its title as a level-1 heading" in error_of(tmp_path, "## Section\n")
    message = error_of(tmp_path, "# One\n\n# Two\n")
    assert "a chapter has one level-1 heading (its title), found 2" in message


def test_an_unknown_directive_or_role_is_refused(tmp_path):
    message = error_of(tmp_path, "# Title\n\n```{figure} plot.png\n```\n")
    assert "unknown directive {figure}" in message
    message = error_of(tmp_path, "# Title\n\nSee {abbr}`LLM (large language model)`.\n")
    assert "unknown role {abbr}" in message  # ({cite} is known: test_apparatus.py)


def test_a_glue_name_that_no_cell_glued_is_refused(tmp_path):
    message = error_of(tmp_path, "# Title\n\nWe have {glue}`n_params` parameters.\n")
    assert "no value glued as 'n_params'" in message


def test_an_equation_wider_than_the_page_is_reported(tmp_path):
    terms = " + ".join(f"x_{{{i}}}^2" for i in range(40))
    result = build_chapter(tmp_path, f"# Title\n\n$$ y = {terms} $$ (eq-wide)\n")[0]
    assert len(result.warnings) == 1
    assert "course/01-chapter.md, line 13: this equation is" in result.warnings[0]
    assert "shrunk to fit; split it over lines with aligned" in result.warnings[0]
