"""The book's apparatus: citations and bibliography, index, list of figures, listings, and the
answers only the instructor edition shows.

A small course of its own (two chapters, a few pages of text each, one figure) is built once for
this module in both editions; the real course's citation keys are checked against
``course/references.yaml`` without a build.
"""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml
from pypdf import PdfReader

from tests.course.pdf.conftest import REPO, SAMPLE, myst_header, normalize, pdftotext
from weasyprint_build.bibliography import FIELDS, load_bibliography
from weasyprint_build.build import build_pdf
from weasyprint_build.errors import BuildError

REFERENCES = {
    "xiong2020layernorm": {
        "authors": ["Ruibin Xiong", "Yunchang Yang", "Di He", "Kai Zheng"],
        "title": "On Layer Normalization in the Transformer Architecture",
        "year": 2020,
        "venue": "ICML 2020",
        "url": "https://arxiv.org/abs/2002.04745",
    },
    "kingma2015adam": {
        "authors": ["Diederik P. Kingma", "Jimmy Ba"],
        "title": "Adam: A Method for Stochastic Optimization",
        "year": 2015,
        "venue": "ICLR 2015",
        "url": "https://arxiv.org/abs/1412.6980",
    },
    "never2000cited": {
        "authors": ["Nobody Atall"],
        "title": "A Work Nobody Cites",
        "year": 2000,
        "venue": "Nowhere",
        "url": "https://example.org/never",
    },
}
FILLER = " ".join(["The residual stream carries every layer's output to the next one."] * 40)
CHAPTER_ONE = f"""
# Normalisation

## Where the norm goes

Pre-LN trains without warm-up, as {{cite:t}}`xiong2020layernorm` showed; Adam keeps two
running means {{cite:p}}`kingma2015adam`. The {{index}}`residual stream` adds each block.

{FILLER}

{FILLER}

## Optimisers

Adam again {{cite:p}}`kingma2015adam,xiong2020layernorm`. The {{index}}`learning rate
<optimiser; learning rate>` matters; so does {{index}}`perplexity`.

```{{code-block}} python
:caption: The training loop, in its simplest form.
:name: lst-loop

for step in range(steps):
    optimizer.apply(grads)
```

{FILLER}

## Exercises

1. Why does the pre-LN block train without warm-up?

   :::{{only}} instructor
   Answer sentinel 4b1d: the gradients of the last layers are not larger than the first's.
   :::

2. Which listing trains? {{numref}}`lst-loop`.
"""
CHAPTER_TWO = f"""
# Sampling

## Temperature

Sampling (as in {{cite:t}}`xiong2020layernorm`, or see {{cite:p}}`kingma2015adam`) is random.

{FILLER}

{FILLER}

Dividing the logits changes the {{index}}`perplexity` of the samples.

```{{code-cell}} ipython3
---
tags: [remove-input]
mystnb:
  figure:
    name: fig-line
    caption: A straight line. It rises from left to right.
---
import matplotlib.pyplot as plt

plt.figure(figsize=(4, 2))
plt.plot([0, 1], [0, 1])
plt.show()
```

```{{code-cell}} ipython3
---
tags: [remove-input]
mystnb:
  listing:
    name: lst-printed
    caption: A function that the code prints.
---
print("def double(x):\\n    return 2 * x")
```

{FILLER}

```{{table}} The temperatures tried. Each drew eight samples.
:name: tab-temperatures

| temperature | samples |
|---|---:|
| 0.5 | 8 |
| 1.0 | 8 |
```

{FILLER}

The {{index}}`residual stream` again, in another chapter; {{numref}}`lst-printed` doubles.
"""
ANSWER_SENTINEL = "Answer sentinel 4b1d"


def write_course(root, chapters: dict[str, str], references: dict | None = None):
    course = root / "course"
    course.mkdir(parents=True, exist_ok=True)
    for name, body in chapters.items():
        (course / name).write_text(myst_header() + textwrap.dedent(body), encoding="utf-8")
    if references is not None:
        (course / "references.yaml").write_text(yaml.safe_dump(references), encoding="utf-8")
    return course


def build(root, editions=("student", "instructor")):
    return {
        r.edition: r
        for r in build_pdf(
            list(editions),
            course_dir=root / "course",
            repo_root=REPO,
            solutions_dir=SAMPLE / "solutions",
            build_dir=root / "build",
            log=lambda line: None,
        )
    }


@pytest.fixture(scope="module")
def small_book(tmp_path_factory):
    root = tmp_path_factory.mktemp("apparatus")
    write_course(
        root, {"01-norm.md": CHAPTER_ONE, "02-sampling.md": CHAPTER_TWO}, REFERENCES
    )
    return build(root)


def pages_text(pdf) -> list[str]:
    """Normalised text of each page, 1-based (index 0 unused)."""
    return ["", *(normalize(page) for page in pdftotext(pdf).split("\f"))]


def page_of_heading(pages: list[str], heading: str) -> int:
    found = [n for n, text in enumerate(pages) if text.strip().startswith(heading)]
    assert found, f"no page starts with {heading!r}"
    return found[-1]  # the table of contents names it too, earlier


# --- citations and bibliography ------------------------------------------------------------


def test_every_citation_key_of_the_course_is_in_references_yaml():
    bibliography = load_bibliography(REPO / "course")
    keys = [
        (path.name, key.strip())
        for path in sorted((REPO / "course").glob("[0-9][0-9]-*.md"))
        for match in re.finditer(r"\{cite(?::[pt])?\}`([^`]+)`", path.read_text())
        for key in match.group(1).split(",")
    ]
    assert len(keys) >= 20  # the course cites its papers through the role
    assert [k for k in keys if k[1] not in bibliography.works] == []
    for work in bibliography.works.values():
        assert work.url.startswith(("https://", "http://")), work.key
        assert all(getattr(work, f) for f in FIELDS), work.key


def test_the_course_names_cited_authors_through_the_role_not_by_hand():
    """"Hu and colleagues set ..." (chapter 7) named a work with no year and no entry."""
    by_hand = re.compile(r"\b[A-Z][a-z]+ (?:and colleagues|and co-?authors|et al\.)")
    found = [
        (path.name, match.group())
        for path in sorted((REPO / "course").glob("[0-9][0-9]-*.md"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith(("#", "print(", "glue("))
        for match in by_hand.finditer(line)
    ]
    assert found == []


def test_no_equation_number_is_put_in_parentheses_twice():
    """{eq} prints "(2.2)": written inside parentheses it read "((2.2))" (chapter 2's answers)."""
    found = [
        (path.name, number)
        for path in sorted((REPO / "course").glob("[0-9][0-9]-*.md"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\(\s*\{eq\}`[^`]+`\s*\)", line)
    ]
    assert found == []


def test_citations_link_to_one_bibliography_entry_per_cited_work(small_book, edition):
    result = small_book[edition]
    pages = pages_text(result.pdf)
    start = page_of_heading(pages, "Bibliography")
    text = " ".join(pages[start:page_of_heading(pages, "Index")])
    for key, work in REFERENCES.items():
        expected = 0 if key == "never2000cited" else 1
        assert text.count(work["title"].split(":")[0]) == expected, key
    assert text.index("Kingma") < text.index("Xiong")  # sorted by author
    chapter = " ".join(pages[: start])
    assert "as Xiong et al. (2020) showed" in chapter
    assert "(Kingma and Ba, 2015)" in chapter
    assert "(Kingma and Ba, 2015; Xiong et al., 2020)" in chapter
    # inside parentheses the text opened, a citation brings none of its own
    assert "Sampling (as in Xiong et al., 2020, or see Kingma and Ba, 2015) is random." in chapter
    assert "((" not in chapter and "(2020)," not in chapter

    reader = PdfReader(result.pdf)
    uris = [
        annotation.get_object()["/A"].get("/URI")
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if "/A" in annotation.get_object()
    ]
    # a URL broken over two lines is two link rectangles with one target
    assert {u for u in uris if u} == {
        REFERENCES["kingma2015adam"]["url"],
        REFERENCES["xiong2020layernorm"]["url"],
    }
    html = result.html.read_text()
    citations = re.findall(r'<a class="cite" href="#(bib-[^"]+)"', html)
    assert len(citations) == 6 and set(citations) <= set(re.findall(r'<li id="(bib-[^"]+)"', html))


# --- index ---------------------------------------------------------------------------------


def index_entries(pages: list[str], terms: list[str]) -> dict[str, list[int]]:
    """term -> pages, from the printed index (the last pages)."""
    text = " ".join(pages[page_of_heading(pages, "Index") :])
    entries = {}
    for term in terms:
        found = re.findall(rf"\b{term}((?:,\s*\d+)+)", text)
        assert len(found) == 1, (term, found)
        entries[term] = [int(n) for n in found[0].strip(", ").split(",")]
    return entries


def test_the_index_gives_the_pages_where_its_terms_are(small_book, edition):
    pages = pages_text(small_book[edition].pdf)
    entries = index_entries(pages, ["residual stream", "learning rate", "perplexity"])
    index_text = " ".join(pages[page_of_heading(pages, "Index") :])
    assert "optimiser learning rate" in index_text  # the subentry under its main entry
    assert len(re.findall(r",\s*\d+", index_text)) == 5  # the five pages above, nothing else
    assert len(entries["residual stream"]) == 2  # two chapters
    assert len(entries["perplexity"]) == 2
    for term, numbers in entries.items():
        assert numbers == sorted(numbers)
        for number in numbers:
            assert term in pages[number].lower(), (term, number)
    chapter_two = small_book[edition].chapters[1].page
    assert entries["residual stream"][1] > chapter_two + 1  # past pages of filler


# --- list of figures, listings ----------------------------------------------------------------


def test_the_list_of_figures_names_each_figure_with_its_page(small_book, edition):
    result = small_book[edition]
    pages = pages_text(result.pdf)
    start = page_of_heading(pages, "List of figures")
    assert "Figure 2.1 A straight line. " in pages[start]
    assert "It rises" not in pages[start]  # the first sentence only
    layout = pdftotext(result.pdf, start, start, layout=True)  # the number on its entry's line
    page = int(re.search(r"Figure 2\.1\s+A straight line\.[ .]*?(\d+)\s*$", layout, re.M).group(1))
    assert "Figure 2.1. A straight line. It rises from left to right." in pages[page]
    html = result.html.read_text()
    assert html.count('<span class="caption-number">Figure') == 1
    assert len(re.findall(r'<nav class="front-matter list-of-figures".*?</nav>', html, re.S)) == 1


def test_a_captioned_code_block_is_a_numbered_listing_that_references_name(small_book):
    pages = pages_text(small_book["student"].pdf)
    text = " ".join(pages)
    assert "Listing 1.1. The training loop, in its simplest form." in text
    assert "Which listing trains? Listing 1.1." in text
    # a code cell with mystnb.listing: here the code it prints (remove-input), numbered in its
    # chapter
    assert "Listing 2.1. A function that the code prints. def double(x): return 2 * x" in text
    assert "Listing 2.1 doubles." in text
    # a reference's word and number never part at a line break (a no-break space)
    html = small_book["student"].html.read_text()
    assert ">Listing\u00a01.1</a>" in html and ">Listing\u00a02.1</a>" in html
    assert ">Listing 1.1</a>" not in html


def test_the_list_of_listings_names_each_listing_with_its_page(small_book, edition):
    result = small_book[edition]
    pages = pages_text(result.pdf)
    start = page_of_heading(pages, "List of listings")
    assert start > page_of_heading(pages, "List of figures")  # after the figures, in the front
    layout = pdftotext(result.pdf, start, start, layout=True)
    found = dict(re.findall(r"^\s*Listing (\d\.\d)\s+.*?[ .](\d+)\s*$", layout, re.M))
    assert sorted(found) == ["1.1", "2.1"], layout
    assert "Listing 1.1. The training loop" in pages[int(found["1.1"])]
    assert "Listing 2.1. A function that the code prints." in pages[int(found["2.1"])]
    assert any("List of listings" in page for page in pages[1:start])  # in the contents too


def test_the_list_of_tables_names_each_table_with_its_page(small_book, edition):
    """The list of tables (front matter, between the figures and the listings; the book read of
    5 December found none): the table's number, the caption's first sentence, its page."""
    result = small_book[edition]
    pages = pages_text(result.pdf)
    start = page_of_heading(pages, "List of tables")
    assert page_of_heading(pages, "List of figures") < start < page_of_heading(
        pages, "List of listings")
    assert "Table 2.1 The temperatures tried. " in pages[start]
    assert "Each drew" not in pages[start]  # the first sentence only
    layout = pdftotext(result.pdf, start, start, layout=True)
    page = int(re.search(r"Table 2\.1\s+The temperatures tried\.[ .]*?(\d+)\s*$", layout,
                         re.M).group(1))  # fmt: skip
    assert "Table 2.1. The temperatures tried. Each drew eight samples." in pages[page]
    assert re.search(rf"List of tables [. ]+{start}\b", pages[2])  # in the contents


# --- answers only in the instructor edition ---------------------------------------------------


def test_the_exercises_answers_are_in_the_instructor_edition_only(small_book):
    student = normalize(pdftotext(small_book["student"].pdf))
    instructor = normalize(pdftotext(small_book["instructor"].pdf))
    for text in (student, instructor):
        assert "Why does the pre-LN block train without warm-up?" in text
    assert ANSWER_SENTINEL not in student
    assert ANSWER_SENTINEL in instructor
    assert "instructor edition" in instructor


# --- an author's mistakes stop the build ------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "# T\n\nAs {cite:t}`xiong2020layrnorm` showed.\n",
            [
                "course/01-a.md, line 13",
                "the key 'xiong2020layrnorm' is not in course/references.yaml",
                "Did you mean xiong2020layernorm?",
                "Add the work there",
            ],
        ),
        (
            "# T\n\nSome text.\n\nA {index}`term <main; sub; subsub>` here.\n",
            ["course/01-a.md, line 15", "{index}`term <main; sub; subsub>`", "{index}`term`"],
        ),
        (
            "# T\n\nA {index}`see: other` here.\n",
            ["course/01-a.md, line 13", "the entry type 'see' is not supported"],
        ),
        (
            "# T\n\n:::{only} teacher\nHidden.\n:::\n",
            ["course/01-a.md, line 13", "{only} 'teacher'", "{only} instructor"],
        ),
    ],
)
def test_a_bad_citation_index_entry_or_edition_stops_the_build(tmp_path, body, expected):
    write_course(tmp_path, {"01-a.md": body}, REFERENCES)
    with pytest.raises(BuildError) as caught:
        build(tmp_path, ["student"])
    for part in expected:
        assert part in str(caught.value)


def test_a_work_without_a_url_stops_the_build(tmp_path):
    references = {"kingma2015adam": dict(REFERENCES["kingma2015adam"], url="")}
    write_course(tmp_path, {"01-a.md": "# T\n"}, references)
    with pytest.raises(BuildError, match=r"course/references.yaml, entry 'kingma2015adam': "
                       r"missing url"):
        build(tmp_path, ["student"])


def test_the_front_and_back_matter_are_in_the_contents_and_the_bookmarks(small_book, edition):
    result = small_book[edition]
    pages = pages_text(result.pdf)
    reader = PdfReader(result.pdf)
    top = {
        item.title: reader.get_destination_page_number(item) + 1
        for item in reader.outline
        if not isinstance(item, list)
    }
    contents = pages[2]
    for title in ("List of figures", "List of tables", "Bibliography", "Index"):
        page = page_of_heading(pages, title)
        assert top[title] == page, title
        assert re.search(rf"{title} [. ]+{page}\b", contents), (title, contents)


def _index_pages(count: int) -> list[int]:
    """Entries of an index of ``count`` terms on each page, laid out with the book's CSS."""
    from weasyprint import HTML

    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET
    from weasyprint_build.index import Index

    index = Index()
    for number in range(count):
        index.mark(f"term{number:03d}", "test", (1, number))
    css = STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")
    page_html = f"<html><head><style>{css}</style></head><body>{index.html()}</body></html>"
    document = HTML(string=page_html).render()
    reader = PdfReader(__import__("io").BytesIO(document.write_pdf()))
    return [len(re.findall(r"term\d{3}", page.extract_text())) for page in reader.pages]


def test_the_index_never_ends_on_a_page_with_a_line_or_two():
    full = _index_pages(400)
    assert len(full) >= 2 and sum(full) == 400
    first_page = full[0]  # entries one page holds
    for count in (first_page + 1, first_page + 2, first_page + 5):
        pages = _index_pages(count)
        assert sum(pages) == count
        assert len(pages) == 1 or pages[-1] >= 5, (count, pages)  # not a near-blank page


def test_an_index_entry_gives_a_page_once_when_two_sections_share_it(tmp_path):
    """Sections 1 and 2 on page 1, 3 and 4 on page 2 (and a wrapped entry whose repeats fall at
    its line breaks): each number once, with one comma between numbers and one link each."""
    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET
    from weasyprint_build.index import Index
    from weasyprint_build.pdf import write_pdf

    index, body = Index(), ""
    long_term = "a term long enough that its numbers wrap over several lines of the column"
    for section in range(1, 31):
        new_page = "break-before: page" if section % 2 == 1 else ""
        terms = index.mark("attention", "t", (1, section)), index.mark(long_term, "t", (1, section))
        body += f'<h2 style="{new_page}">S{section}</h2><p>{terms[0]} {terms[1]}</p>'
    css = STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")
    document = f"<html><head><style>{css}</style></head><body>{body}{index.html()}</body></html>"
    result = write_pdf(document, tmp_path / "index.pdf", tmp_path)
    text = normalize(pdftotext(result.path).split("\f")[result.pages - 1])
    expected = ", ".join(str(n) for n in range(1, 16))
    assert f"attention, {expected}" in text, text
    assert f"{long_term}, {expected}" in text, text  # no ", ," nor a line that starts with ","
    reader = PdfReader(result.path)
    annotations = [a.get_object() for a in reader.pages[-1].get("/Annots", [])]
    rectangles = {tuple(round(float(v)) for v in a["/Rect"]) for a in annotations}
    # one link area per number kept (WeasyPrint writes two, <a> and its ::after, on one place):
    # the dropped numbers' links went with them
    assert len(rectangles) == 30


def _list_of_figures_words(captions: list[str], tmp_path) -> list[list[tuple[str, float, float]]]:
    """The list of figures of ``captions`` (figure i on page i + 2), laid out with the book's
    CSS: the words of its page's lines, each with its left and right edges in points
    (pdftotext -bbox)."""
    import subprocess

    from weasyprint_build.document import APPARATUS_STYLESHEET, STYLESHEET
    from weasyprint_build.list_of_figures import Captioned, list_html
    from weasyprint_build.pdf import write_pdf

    items = [Captioned("figure", f"f{i}", f"1.{i + 1}", c) for i, c in enumerate(captions)]
    pages = "".join(
        f'<section style="break-before: page"><p id="f{i}">figure</p></section>'
        for i in range(len(captions))
    )
    css = STYLESHEET.read_text(encoding="utf-8") + APPARATUS_STYLESHEET.read_text(encoding="utf-8")
    document = (
        f"<html><head><style>{css}</style></head><body>"
        f"{list_html('figure', items, lambda text: text)}{pages}</body></html>"
    )
    result = write_pdf(document, tmp_path / "lof.pdf", tmp_path)
    boxes = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(result.path), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines: dict[float, list[tuple[str, float, float]]] = {}
    word = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    for x_min, _, x_max, y_max, text in re.findall(word, boxes):
        line = next((y for y in lines if abs(y - float(y_max)) < 3), float(y_max))
        lines.setdefault(line, []).append((text, float(x_min), float(x_max)))
    return [sorted(lines[y], key=lambda word: word[1]) for y in sorted(lines)]


def test_each_entry_of_the_list_of_figures_ends_with_a_leader_and_its_page(tmp_path):
    """Captions whose last line ends ever closer to the margin: each entry's last line holds the
    caption's last word, a dotted leader and the figure's page at the right; the number is
    never alone on a line of dots, nor drawn into the caption, and no more than 4 mm of the
    line is left blank (the course's list had "batches).          71": no leader within 10 mm
    of the number, and a line of dots alone under its caption). A caption that fills its last
    line sends its last word down with the leader and the number."""
    captions = [
        "Word " * 15 + "abcdefghijklmnopqrstuvwxyz"[:n] + " end." for n in range(0, 26, 2)
    ] + [
        # fills its last line: "end." ends 7 pt from the margin, no room for a dot and the
        # number (Figures 4.3 and 6.2 of the course: the leader and the number went down alone,
        # WeasyPrint breaking before a leader whatever the no-break space before it)
        "Word " * 15 + "a end.",
    ] + [
        (
            "Left, the standard deviation of <code>q · k</code> for random vectors of many "
            "features, against the root end."
        ),
        "A short one end.",
    ]
    lines = _list_of_figures_words(captions, tmp_path)
    entries = [line for line in lines if line[0][0] == "Figure"]
    assert len(entries) == len(captions)
    last_lines = [line for line in lines if any(word[0] == "end." for word in line)]
    assert len(last_lines) == len(captions), lines
    right_edges = []
    for page, line in enumerate(last_lines, start=2):
        words = [word for word, _, _ in line]
        end = words.index("end.")
        assert words[-1] == str(page), line  # the figure's page, last on the line
        assert all(set(word) <= {"."} for word in words[end + 1 : -1]), line  # leader dots
        blanks = [right[1] - left[2] for left, right in zip(line[end:], line[end + 1 :])]
        assert max(blanks) < 4 * 72 / 25.4, line  # the leader fills the line (a dot and two spaces)
        right_edges.append(line[-1][2])
    assert max(right_edges) - min(right_edges) < 1.0  # the numbers end at the right margin
    assert not [line for line in lines if all(set(w[0]) <= set(".0123456789") for w in line)]


def test_a_url_in_the_bibliography_breaks_in_its_path_not_in_its_host_or_a_number():
    """The book read of 5 December: "https://arxiv." / "org/abs/1606.08415" and
    "https://arxiv.org/abs/2204." / "05862". A URL may break after a slash, a dash or a dot of
    its path, not inside its host name nor between the digits of a number."""
    from weasyprint_build.bibliography import _breakable

    def breaks(url):
        return _breakable(url).replace("\u200b", "|")

    assert breaks("https://arxiv.org/abs/2204.05862") == "https://arxiv.org/|abs/|2204.05862"
    assert breaks("https://github.com/karpathy/build-nanogpt/blob/main/train_gpt2.py") == (
        "https://github.com/|karpathy/|build-|nanogpt/|blob/|main/|train_|gpt2.|py")
    assert breaks("https://www.example-site.org") == "https://www.example-|site.org"
