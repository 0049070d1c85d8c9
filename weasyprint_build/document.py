"""The whole book as one HTML document: title page, table of contents, list of figures,
chapters, bibliography, index, print CSS.

WeasyPrint needs the whole document at once (page numbers in the table of contents and in
cross-references are computed over all of it). Everything is inline: the CSS in ``<style>``,
figures and formulas as SVG, so the document loads nothing from anywhere.
"""

from __future__ import annotations

import html
from importlib import metadata
from pathlib import Path

from weasyprint_build.list_of_figures import list_html
from weasyprint_build.render import Book, TocEntry, keep_last_words

TITLE = "Build a Large Language Model from Scratch"
SUBTITLE = "in Keras 3, on JAX, TensorFlow and PyTorch"
AUTHOR = "The llm-keras authors"
STYLESHEET = Path(__file__).parent / "style" / "book.css"
APPARATUS_STYLESHEET = Path(__file__).parent / "style" / "apparatus.css"
EDITION_LINES = {
    "student": "Student edition: chapters and exercises",
    "instructor": "Instructor edition: chapters, exercises with their reference solutions, "
    "and teaching notes",
}


def package_version() -> str:
    try:
        return metadata.version("llm-keras")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def assemble(chapters: list[str], book: Book, backend: str) -> str:
    """The complete HTML document of one edition (``book``: its rendered chapters' state)."""
    edition = book.edition
    figures, tables, listings = (list_html(kind, book.captioned, book.references.resolve)
                                 for kind in ("figure", "table", "listing"))  # fmt: skip
    back_matter = [  # (anchor, title, HTML): the sections' own id and heading
        ("bibliography", "Bibliography", book.bibliography.html()),
        ("index", "Index", book.index.html()),
    ]
    toc = [
        *([TocEntry(1, "list-of-figures", "", "List of figures")] if figures else []),
        *([TocEntry(1, "list-of-tables", "", "List of tables")] if tables else []),
        *([TocEntry(1, "list-of-listings", "", "List of listings")] if listings else []),
        *book.toc,
        *(TocEntry(1, anchor, "", title) for anchor, title, section in back_matter if section),
    ]
    title = TITLE if edition == "student" else f"{TITLE} (instructor edition)"
    description = html.escape(f"{SUBTITLE}. {EDITION_LINES[edition]}")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f'<meta name="author" content="{AUTHOR}">',
            f'<meta name="description" content="{description}">',
            '<meta name="keywords" content="large language model, transformer, GPT, Keras, JAX">',
            f'<meta name="generator" content="llm-keras weasyprint_build {package_version()}">',
            f"<style>{STYLESHEET.read_text(encoding='utf-8')}</style>",
            f"<style>{APPARATUS_STYLESHEET.read_text(encoding='utf-8')}</style>",
            f'</head><body class="edition-{edition}">',
            _cover(edition, backend),
            _table_of_contents(toc),
            figures,
            tables,
            listings,
            "<main>",
            *chapters,
            "</main>",
            *(section for _, _, section in back_matter),
            "</body></html>",
        ]
    )


def _cover(edition: str, backend: str) -> str:
    return f"""<section class="cover">
<p class="cover-series">The llm-keras course</p>
<p class="cover-title">{keep_last_words(html.escape(TITLE))}</p>
<p class="cover-subtitle">{keep_last_words(html.escape(SUBTITLE))}</p>
<p class="cover-edition">{keep_last_words(html.escape(EDITION_LINES[edition]))}</p>
<p class="cover-meta">llm-keras {html.escape(package_version())}. Every output, number and figure
in this book comes from code that ran: the chapters&rsquo; code when the book was built, on a
CPU with <code>KERAS_BACKEND={html.escape(backend)}</code> unless the text names another
backend, and the benchmark runs that a caption or the text names, with their machine and
date.</p>
</section>"""


def _table_of_contents(toc: list[TocEntry]) -> str:
    items = "\n".join(
        f'<li class="toc-{entry.level}"><a href="#{entry.anchor}">'
        f'<span class="toc-number">{html.escape(entry.number)}</span>'
        f'<span class="toc-text">{html.escape(entry.title)}</span></a></li>'
        for entry in toc
    )
    return f'<nav id="toc"><p class="toc-title">Contents</p><ul>\n{items}\n</ul></nav>'
