"""Citations in the exercise notebooks: a Markdown link to a work's URL, readable in Jupyter,
printed in the book as a citation of the work's bibliography entry (``bibliography.cite_link``);
and the bibliography entries' form.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
import yaml

from tests.course.pdf.conftest import REPO
from tests.course.pdf.test_apparatus import REFERENCES, write_course
from weasyprint_build.bibliography import (
    AUTHOR_YEAR,
    OTHERS,
    Bibliography,
    Work,
    load_bibliography,
)
from weasyprint_build.build import build_pdf
from weasyprint_build.errors import BuildError

KINGMA = REFERENCES["kingma2015adam"]
CHAPTER = """
# Optimisers

## The exercise

```{exercise} week1/adam.ipynb
```
"""


def write_notebook(root, text: str):
    """``root/solutions/week1/adam.ipynb``: a title and one markdown cell of ``text``."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Adam by hand"),
        nbformat.v4.new_markdown_cell(text),
    ]
    path = root / "solutions" / "week1" / "adam.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def build_student(root):
    write_course(root, {"01-opt.md": CHAPTER}, REFERENCES)
    (result,) = build_pdf(
        ["student"],
        course_dir=root / "course",
        repo_root=REPO,
        solutions_dir=root / "solutions",
        build_dir=root / "build",
        log=lambda line: None,
    )
    return result


def test_a_notebook_link_to_a_works_url_is_a_citation_of_its_entry(tmp_path):
    write_notebook(
        tmp_path,
        f"Adam keeps two running means ([Kingma and Ba, 2015]({KINGMA['url']})); see also "
        "[the Keras docs](https://keras.io/api/optimizers/adam/).",
    )
    html = build_student(tmp_path).html.read_text(encoding="utf-8")
    assert '<a class="cite" href="#bib-kingma2015adam">Kingma and Ba, 2015</a>' in html
    assert re.findall(r'<li id="(bib-[^"]+)"', html) == ["bib-kingma2015adam"]
    # a link that names no author and year, to no entry's URL, stays a plain link
    assert '<a href="https://keras.io/api/optimizers/adam/">the Keras docs</a>' in html


@pytest.mark.parametrize(
    "link, expected",
    [
        (
            "[Fan et al., 2018](https://arxiv.org/abs/1805.04833)",
            ["adam.ipynb, cell 2", "[Fan et al., 2018](https://arxiv.org/abs/1805.04833)",
             "is not in course/references.yaml", "url: https://arxiv.org/abs/1805.04833"],
        ),
        (
            f"[Kingma and Ba 2014]({KINGMA['url']})",
            ["adam.ipynb, cell 2", "names 2014", "kingma2015adam", "is from 2015"],
        ),
    ],
)
def test_a_notebook_citation_of_an_unknown_work_stops_the_build(tmp_path, link, expected):
    write_notebook(tmp_path, f"Top-k sampling ({link}) keeps the k likeliest tokens.")
    with pytest.raises(BuildError) as caught:
        build_student(tmp_path)
    for part in expected:
        assert part in str(caught.value)


def _work(venue: str) -> Work:
    return Work("k", ("Ann Author",), "nanoGPT: a title", 2020, venue, "https://example.org/x")


def test_a_venue_starts_its_sentence_with_a_capital_and_a_title_keeps_its_spelling():
    bibliography = Bibliography({"k": _work("blog post, Stanford NLP")}, "references.yaml")
    bibliography.cite("cite:p", "k", "here")
    entry = bibliography.html()
    assert "(2020).</span>" in entry
    assert '<span class="bib-venue">Blog post, Stanford NLP.</span>' in entry
    assert '<span class="bib-title">nanoGPT: a title.</span>' in entry
    named = Bibliography({"k": _work("arXiv 2001.08361")}, "references.yaml")
    named.cite("cite:p", "k", "here")
    assert '<span class="bib-venue">arXiv 2001.08361.</span>' in named.html()


def test_a_link_by_http_or_with_a_final_slash_cites_the_same_work():
    bibliography = Bibliography({"k": _work("Venue")}, "references.yaml")
    assert bibliography.cite_link("http://example.org/x/", "Author (2020)", "here").key == "k"
    assert bibliography.cite_link("https://example.org/y", "a page", "here") is None
    assert list(bibliography.cited) == ["k"]


# --- the course's notebooks ----------------------------------------------------------------

_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def _markdown_cells():
    for path in sorted((REPO / "solutions").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for number, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"], 1):
            if cell["cell_type"] == "markdown":
                yield f"{path.relative_to(REPO)}, cell {number}", "".join(cell["source"])


def test_the_notebooks_cite_through_links_to_works_of_the_bibliography():
    """Week 5's notebook named "Kaplan et al. 2020" in plain text: no link in Jupyter, no
    entry in the book. Every author and year is now a link's text, to a work's URL."""
    works = load_bibliography(REPO / "course").works
    urls = {work.url for work in works.values()}
    linked, plain = [], []
    for where, text in _markdown_cells():
        for match in _LINK.finditer(text):
            if AUTHOR_YEAR.search(match.group(1)):
                linked.append((where, match.group(1), match.group(2) in urls))
        for match in AUTHOR_YEAR.finditer(_LINK.sub("", text)):
            plain.append((where, match.group()))
    assert plain == []
    assert len(linked) >= 15
    assert [link for link in linked if not link[2]] == []


def test_a_surname_keeps_its_particle():
    work = Work("k", ("Leandro von Werra", "Ann Author", OTHERS), "TRL", 2020, "GitHub", "https://x.org")
    assert work.short_authors() == "von Werra et al."


def test_two_works_that_read_the_same_get_a_letter_after_the_year(tmp_path):
    """LLaMA and Llama 2 are both "Touvron et al., 2023": 2023a and 2023b, by title."""
    entry = {"authors": ["Hugo Touvron", "Louis Martin", "others"], "year": 2023,
             "venue": "arXiv", "url": "https://example.org/"}
    references = {
        "llama": dict(entry, title="LLaMA: Open and Efficient Foundation Language Models",
                      url="https://example.org/1"),
        "llama2": dict(entry, title="Llama 2: Open Foundation and Fine-Tuned Chat Models",
                       url="https://example.org/2"),
        "kingma2015adam": KINGMA,
    }
    (tmp_path / "references.yaml").write_text(yaml.safe_dump(references), encoding="utf-8")
    bibliography = load_bibliography(tmp_path)
    text = bibliography.cite("cite:t", "llama2", "here") + bibliography.cite("cite:p", "llama", "here")
    assert "Touvron et al. (<a" in text and ">2023a</a>)" in text and ">Touvron et al., 2023b</a>" in text
    assert bibliography.cite("cite:p", "kingma2015adam", "here").endswith(">Kingma and Ba, 2015</a>)")
    entries = bibliography.html()
    assert entries.index("(2023a)") < entries.index("(2023b)")
