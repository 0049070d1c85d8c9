"""A page break inside a code box falls between two statements, never inside one
(highlight.statement_lines; style/book.css ``pre .statement``)."""

from __future__ import annotations

import ast
import subprocess

from tests.course.pdf.test_layout import _split_code_tails
from weasyprint_build.highlight import highlight, statement_lines

# Twelve calls of two lines, each followed by a print: a page break may fall after a print or
# after a call's second line, never after a call's first line.
CALLS = "import numpy as np\n\n" + "".join(
    f"value_{i} = compute(\n    {i}, 'an argument')\nprint(value_{i})\n" for i in range(12))
LOOP = "def gelu(z):\n    return 0.5 * z\n\n" + "for step in range(3):\n" + "".join(
    f"    loss_{i} = train(\n        step)\n" for i in range(8)) + "    print(step)\n"


def test_the_groups_are_the_statements_of_several_lines():
    """Each group is a statement of the code, as Python's own parser gives its lines; a comment
    right above goes with it; a loop too long for a group keeps its header with its first
    statement; IPython's magics do not stop the rest."""
    groups = statement_lines("# the sum\ntotal = add(\n    1, 2)\nprint(total)\n%time x = 1\n")
    assert groups == [(0, 2)]
    assert statement_lines(CALLS) == [(2 + 3 * i, 3 + 3 * i) for i in range(12)]
    tree = ast.parse(LOOP)
    gelu, loop = tree.body
    assert statement_lines(LOOP) == [
        (gelu.lineno - 1, gelu.end_lineno - 1),
        (loop.lineno - 1, loop.body[0].end_lineno - 1),  # the header and its first statement
        *((s.lineno - 1, s.end_lineno - 1) for s in loop.body[1:-1]),
    ]
    assert statement_lines("this is not Python (\n") == []


def test_the_statements_are_marked_in_the_highlighted_code_and_nothing_else_changes():
    marked = highlight(CALLS, "ipython3", "code input")
    assert marked.count('<span class="statement">') == 12
    assert marked.replace('<span class="statement">', "<span>") != marked
    plain = highlight(CALLS, "text", "code input")  # not Python: no groups
    assert "statement" not in plain


def _last_line_of_first_page(code: str, top_pt: float, tmp_path) -> str:
    from weasyprint import HTML

    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET
    from weasyprint_build.pdf import weasyprint_fixed

    css = STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")
    document = (f"<html><head><style>{css}</style></head><body>"
                f"<div style='height: {top_pt}pt'></div><div class='cell'>"
                f"{highlight(code, 'ipython3', 'code input')}<pre class='output'>out</pre>"
                "</div></body></html>")  # fmt: skip
    pdf = tmp_path / f"cell-{top_pt}.pdf"
    with weasyprint_fixed():
        HTML(string=document).write_pdf(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    return text.split("\f")[0].rstrip().splitlines()[-1].strip()


def test_a_page_break_never_cuts_a_statement(tmp_path):
    """The cell starts ever lower on its page: the first page ends after a print or a call's
    last line, never after an opening line (without the groups, the first page ended after
    "value_2 = compute(" to "value_5 = compute(" at four of the twelve places)."""
    ends = {_last_line_of_first_page(CALLS, top, tmp_path) for top in range(480, 600, 10)}
    assert len(ends) >= 5  # the cell did split, at several places
    assert not [end for end in ends if end.endswith("compute(")], ends


def test_a_code_box_split_at_a_blank_line_ends_after_its_last_statement():
    """Statements in pairs with a blank line between: a page break falls at a blank line, and
    the first fragment ended with that empty line of background, 15.6 pt of box under its last
    statement (pages 42 and 111 of the student edition, 5 December); it ends after the
    statement now, its padding below it (1.6 mm, 4.5 pt)."""
    code = "\n\n".join(f"first_{i} = compute(x, {i})\nsecond_{i} = compute(x, {i})"
                       for i in range(14))  # fmt: skip
    cell = f"<div class='cell'>{highlight(code, 'ipython3', 'code input')}</div>"
    tails = [tail for top in range(500, 640, 4)
             for tail in _split_code_tails(top, cell, shown_only=True)]  # fmt: skip
    assert len(tails) >= 20  # the box did split
    assert max(tails) < 5, [round(tail, 1) for tail in tails]
