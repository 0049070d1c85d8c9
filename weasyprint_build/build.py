"""The build: course/ chapters -> executed notebooks -> one HTML document -> PDF, per edition.

    build_pdf(["student", "instructor"])  # build/llm-keras-course.pdf, ...-instructor.pdf

Steps, each reported on a progress line:

1. check that the fonts are installed (``fonts``);
2. read the chapters ``course/NN-*.md`` in file-name order (``chapters``);
3. run their code, one kernel per chapter, or take the outputs from the cache (``execute``);
4. per edition: render the chapters to HTML, numbering headings, figures, tables and equations
   and drawing formulas as SVG (``render``), resolve cross-references (``references``), add the
   title page and the table of contents (``document``), and lay out the PDF (``pdf``).

The code runs once for both editions; they differ only in the exercises' solution cells.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from weasyprint_build.bibliography import load_bibliography
from weasyprint_build.chapters import find_chapter_files, read_chapter
from weasyprint_build.document import assemble
from weasyprint_build.errors import BuildError
from weasyprint_build.execute import execute_chapters
from weasyprint_build.exercises import EDITIONS
from weasyprint_build.fonts import check_fonts
from weasyprint_build.math_svg import MathRenderer
from weasyprint_build.pdf import PdfResult, write_pdf
from weasyprint_build.render import Book

# Editions whose HTML adds up to more than this (about 50 pages each) are laid out in parallel.
PARALLEL_LAYOUT_MIN_CHARS = 1_000_000
PDF_NAMES = {"student": "llm-keras-course.pdf", "instructor": "llm-keras-course-instructor.pdf"}


@dataclass
class ChapterPage:
    number: int
    title: str
    anchor: str
    page: int  # 1-based page where the chapter's title is


@dataclass
class BuildResult:
    """What one edition's build produced."""

    edition: str
    pdf: Path
    html: Path
    pages: int
    chapters: list[ChapterPage]
    seconds: float  # the page layout (WeasyPrint) of the editions built together
    warnings: list[str] = field(default_factory=list)  # from the course sources
    weasyprint_errors: list[str] = field(default_factory=list)
    weasyprint_warnings: list[str] = field(default_factory=list)
    exercises: list[Path] = field(default_factory=list)


class Progress:
    """Progress lines with the time since the build started: ``[  4.2 s] message``."""

    def __init__(self, stream=None) -> None:
        self.start = time.perf_counter()
        self.stream = stream or sys.stdout

    def __call__(self, message: str) -> None:
        print(
            f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=self.stream, flush=True
        )


def build_pdf(
    editions: Iterable[str] = ("student",),
    *,
    course_dir: Path = Path("course"),
    solutions_dir: Path | None = None,
    repo_root: Path | None = None,
    out: Path | None = None,
    build_dir: Path = Path("build"),
    backend: str = "jax",
    jobs: int = 2,
    fresh: bool = False,
    strict: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[BuildResult]:
    """Build the PDF of each edition; returns one BuildResult per edition.

    Args:
        editions: "student" (exercises as handed out) and/or "instructor" (with solutions).
        course_dir: the chapters' folder; ``repo_root`` defaults to its parent (the chapters'
            code runs there, and ``llm_keras_modules`` are looked up there).
        solutions_dir: the nbgrader source notebooks (default ``<repo_root>/solutions``).
        out: the PDF's path, for a single edition (default ``build/llm-keras-course*.pdf``).
        build_dir: where the PDFs, their HTML and the caches (``build/.cache``) go.
        backend: KERAS_BACKEND for the chapters' code.
        jobs: chapters run at the same time.
        fresh: ignore the caches (run every chapter, draw every formula again).
        strict: raise a BuildError when WeasyPrint reported errors (the PDF is written first).
        log: where progress lines go (default: stdout with timings).
    """
    log = log or Progress()
    editions = list(editions)
    unknown = [e for e in editions if e not in EDITIONS]
    if unknown or not editions:
        raise BuildError(f"Unknown edition(s) {unknown}: choose from {', '.join(EDITIONS)}.")
    if out is not None and len(editions) != 1:
        raise BuildError("--out names one PDF: build one edition at a time with it.")
    course_dir = Path(course_dir).resolve()
    repo_root = Path(repo_root).resolve() if repo_root else course_dir.parent
    solutions_dir = Path(solutions_dir).resolve() if solutions_dir else repo_root / "solutions"
    build_dir = Path(build_dir).resolve()
    cache_dir = build_dir / ".cache"
    if fresh and cache_dir.exists():
        shutil.rmtree(cache_dir)

    check_fonts()
    chapters = [
        read_chapter(path, number)
        for number, path in enumerate(find_chapter_files(course_dir), start=1)
    ]
    log(f"{len(chapters)} chapters in {course_dir}: " + ", ".join(c.path.name for c in chapters))
    code_seconds: dict[Path, float] = {}
    started = time.perf_counter()
    notebooks = execute_chapters(
        chapters, repo_root=repo_root, cache_dir=cache_dir, backend=backend, jobs=jobs, log=log,
        seconds=code_seconds,
    )  # fmt: skip
    code_wall = time.perf_counter() - started
    math = MathRenderer(cache_dir / "math")

    rendered = []
    render_seconds: dict[Path, float] = {}  # both editions together
    for edition in editions:
        pdf_path = Path(out).resolve() if out is not None else build_dir / PDF_NAMES[edition]
        book = Book(
            edition=edition,
            math=math,
            solutions_dir=solutions_dir,
            repo_root=repo_root,
            bibliography=load_bibliography(course_dir),
        )
        parts = []
        for chapter in chapters:
            started = time.perf_counter()
            parts.append(book.render_chapter(chapter, notebooks[chapter.path]))
            render_seconds[chapter.path] = (
                render_seconds.get(chapter.path, 0.0) + time.perf_counter() - started
            )
        document = book.references.resolve(assemble(parts, book, backend))
        html_path = pdf_path.with_suffix(".html")
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(document, encoding="utf-8")  # rewritten with the moves after layout
        rendered.append((edition, book, document, pdf_path, html_path))
    log(
        f"rendered {len(chapters)} chapters to HTML ({', '.join(editions)}): formulas drawn "
        f"{math.rendered}, from the cache {math.cached}"
    )

    log(f"laying out the pages with WeasyPrint ({', '.join(editions)})")
    started = time.perf_counter()
    pdfs = _write_pdfs(
        [(d, p) for _, _, d, p, _ in rendered], base_url=course_dir, jobs=jobs,
        floats_cache=cache_dir / "floats",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    for line in time_table(chapters, code_seconds, code_wall, render_seconds, seconds, editions):
        log(line)

    results = []
    for (edition, book, _, pdf_path, html_path), pdf in zip(rendered, pdfs, strict=True):
        html_path.write_text(pdf.html, encoding="utf-8")  # with the figures where the PDF has them
        chapter_pages = [
            ChapterPage(c.number, c.title, entry.anchor, pdf.anchors[entry.anchor] + 1)
            for c, entry in zip(chapters, [e for e in book.toc if e.level == 1], strict=True)
        ]
        results.append(
            BuildResult(
                edition=edition,
                pdf=pdf_path,
                html=html_path,
                pages=pdf.pages,
                chapters=chapter_pages,
                seconds=seconds,
                warnings=book.warnings,
                weasyprint_errors=pdf.errors,
                weasyprint_warnings=pdf.warnings,
                exercises=book.exercises,
            )
        )
        size = pdf_path.stat().st_size / 1e6
        log(f"{edition} edition: wrote {_relative(pdf_path)} ({pdf.pages} pages, {size:.1f} MB)")
        log(f"{edition} edition: {pdf.placement.summary()}")
        for warning in book.warnings:
            log(f"warning: {warning}")
        for message in pdf.warnings:
            log(f"WeasyPrint warning: {message}")
        for message in pdf.errors:
            log(f"WeasyPrint ERROR: {message}")
    errors = [(r.pdf.name, message) for r in results for message in r.weasyprint_errors]
    if strict and errors:
        raise BuildError(
            f"WeasyPrint reported {len(errors)} error(s) while laying out the pages (first, in "
            f"{errors[0][0]}: {errors[0][1]}). The PDF was written, but fix the source."
        )
    return results


def time_table(chapters, code_seconds, code_wall, render_seconds, layout_seconds, editions):
    """The lines of the build's time table: per chapter, its code's time (or "cache") and its
    rendering to HTML; then the code's wall time (chapters run ``jobs`` at a time) and the
    layout's. Where a build's time goes, so that a slow chapter is found by reading one table."""
    name_width = max(len(c.path.name) for c in chapters)
    header = f"{'chapter':<{name_width}}  {'code (s)':>10}  {'to HTML (s)':>11}"
    lines = ["time per chapter:", header, "-" * len(header)]
    for chapter in chapters:
        ran = code_seconds.get(chapter.path)
        code = "cache" if ran is None else f"{ran:.1f}"
        html = render_seconds.get(chapter.path, 0.0)
        lines.append(f"{chapter.path.name:<{name_width}}  {code:>10}  {html:>11.1f}")
    lines.append(
        f"{'all chapters':<{name_width}}  {sum(code_seconds.values()):>10.1f}  "
        f"{sum(render_seconds.values()):>11.1f}"
    )
    lines.append(
        f"code: {code_wall:.1f} s of wall time ({len(code_seconds)} of {len(chapters)} chapters "
        f"ran, the rest from the cache); page layout ({', '.join(editions)}): "
        f"{layout_seconds:.1f} s"
    )
    return lines


def _write_pdfs(
    documents: list[tuple[str, Path]], base_url: Path, jobs: int, floats_cache: Path
) -> list[PdfResult]:
    """Lay out each (HTML, PDF path); several editions in parallel processes when jobs > 1.

    WeasyPrint is single-threaded, so two large editions on two cores take the time of one.
    A new process costs about a second to start, so small books are laid out one by one.
    """
    small = sum(len(document) for document, _ in documents) < PARALLEL_LAYOUT_MIN_CHARS
    if len(documents) == 1 or jobs <= 1 or small:
        return [write_pdf(document, path, base_url, floats_cache) for document, path in documents]
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no kernel sockets
    with ProcessPoolExecutor(max_workers=min(jobs, len(documents)), mp_context=context) as pool:
        futures = [
            pool.submit(write_pdf, document, path, base_url, floats_cache)
            for document, path in documents
        ]
        return [future.result() for future in futures]


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
