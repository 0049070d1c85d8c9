"""The week chapters in the PDF: their exercises as each edition must show them, their
computed numbers and figures."""

from __future__ import annotations

import json
import re

import pytest

from tests.course.pdf.conftest import REPO, normalize, pdftotext

WEEKS = {
    "week1/tokens-and-windows.ipynb": "Tokenizers and training windows",
    "week1-data/data-curation.ipynb": "Data curation: near-duplicates, token shards and a quality rule",
    "week2/transformer-decoder.ipynb": "Attention and the transformer block",
    "week3/pretraining-a-gpt.ipynb": "Pretraining a GPT: loss, optimizer, model and training loop",
    "week4/generating-text.ipynb": "Generating text: samplers and the KV cache",
    "week6/fine-tuning.ipynb": "Fine-tuning: classification features, a masked loss, LoRA and exact match",
    "week7/alignment.ipynb": "Alignment: the Bradley-Terry loss, DPO and GRPO",
}


def solution_lines(notebook: str) -> list[str]:
    """Lines of the reference answers (between the solution markers), 30 characters or more,
    less those that the handed-out notebook shows anyway (a check cell may call the same
    ``optimizer.apply(grads, model.trainable_variables)`` as the answer)."""
    cells = json.loads((REPO / "solutions" / notebook).read_text())["cells"]
    released = "\n".join("".join(c["source"]) for c in
                         json.loads((REPO / "exercises" / notebook).read_text())["cells"])
    lines, inside = [], False
    for line in "".join("".join(c["source"]) + "\n" for c in cells).splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and line.strip() not in released:
            # (a trailing comment is set apart in the PDF, and pdftotext extracts it after the
            # block: compare the code before it)
            code = line.split("  # ")[0].strip()
            if len(code) >= 30:
                lines.append(code)
    return lines


@pytest.mark.parametrize("notebook", sorted(WEEKS))
def test_the_week_exercises_are_in_both_editions_answers_only_in_the_instructors(
    course_build, notebook
):
    student = normalize(pdftotext(course_build.pdf("student")))
    instructor = normalize(pdftotext(course_build.pdf("instructor")))
    title = f"Exercise: {WEEKS[notebook]}"
    assert title in student and title in instructor
    assert f"Notebook exercises/{notebook}" in student
    lines = [normalize(line) for line in solution_lines(notebook)]
    assert len(lines) >= 10
    assert [line for line in lines if line in student] == []
    assert [line for line in lines if line not in instructor] == []


def test_the_week_chapters_print_numbers_their_code_computed(course_build):
    text = normalize(pdftotext(course_build.pdf("student")))
    # TinyShakespeare's size and alphabet, and nanoGPT's split, glued into the prose.
    assert "The text has 1,115,394 characters on 40,000 lines" in text
    # (a code name may break after its underscore at a line's end: "train_ text")
    assert re.search(r"for training, train_ ?text \(1,003,854 characters\), and the last 10% for "
                     r"validation, val_ ?text \(111,540\)", text)
    # GPT-2 small's parameter count, from the formulas the chapter checks against GPT.
    assert "GPT-2 small has 124,439,808 parameters" in text
    for caption in ("Sinusoidal vectors", "Attention weights of the four heads",
                    "Training loss of two character GPTs"):
        assert caption.lower() in text.lower()
