"""One build of both editions for the whole test session, and helpers to read the PDFs.

The book built here is the real course (every chapter of ``course/``, with the week notebooks
of ``solutions/`` that they include) plus the tests' own chapter
``sample_course/95-exercise-sample.md``, which includes the sample nbgrader notebook
``sample_course/solutions/week1/01-count-tokens.ipynb``: its answer cell holds the name
``solution_sentinel_7f3a`` and its check cell a hidden test with ``hidden_test_sentinel_9c2e``,
which the student edition must not contain. The build starts from empty caches, so the
chapters' code really runs and the measured time is that of a fresh build.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from weasyprint_build.build import BuildResult, build_pdf
from weasyprint_build.chapters import find_chapter_files, read_chapter

REPO = Path(__file__).resolve().parents[3]
SAMPLE = Path(__file__).resolve().parent / "sample_course"
SOLUTION_SENTINEL = "solution_sentinel_7f3a"
HIDDEN_TEST_SENTINEL = "hidden_test_sentinel_9c2e"


def myst_header(extra: str = "") -> str:
    """The front matter jupytext gives a MyST chapter; ``extra``: more YAML lines, each ending
    with a newline."""
    return ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
            "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n"
            f"{extra}---\n")


@dataclass
class CourseBuild:
    course_dir: Path
    solutions_dir: Path
    build_dir: Path
    results: dict[str, BuildResult]
    log: list[str]
    seconds: float  # wall time of the whole build: both editions, code run from scratch
    cpu_seconds: float  # CPU time of this process and its children (kernels, WeasyPrint) in it
    titles: list[str]  # chapter titles from the sources, in order

    def pdf(self, edition: str) -> Path:
        return self.results[edition].pdf


def copy_course(target: Path) -> Path:
    """course/ chapters plus the tests' exercise chapter, in ``target/course``, with the works
    the chapters cite (``references.yaml``)."""
    course = target / "course"
    course.mkdir(parents=True)
    for path in [*find_chapter_files(REPO / "course"), *find_chapter_files(SAMPLE)]:
        shutil.copy(path, course / path.name)
    shutil.copy(REPO / "course" / "references.yaml", course / "references.yaml")
    return course


def copy_solutions(target: Path) -> Path:
    """solutions/ (the notebooks the chapters include) plus the sample's, in
    ``target/solutions``."""
    solutions = target / "solutions"
    shutil.copytree(REPO / "solutions", solutions)
    shutil.copytree(SAMPLE / "solutions", solutions, dirs_exist_ok=True)
    return solutions


@pytest.fixture(scope="session")
def course_build(tmp_path_factory) -> CourseBuild:
    root = tmp_path_factory.mktemp("course_pdf")
    course = copy_course(root)
    solutions = copy_solutions(root)
    log: list[str] = []
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    results = build_pdf(
        ["student", "instructor"],
        course_dir=course,
        repo_root=REPO,
        solutions_dir=solutions,
        build_dir=root / "build",
        log=log.append,
    )
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu_started
    titles = [read_chapter(p, i).title for i, p in enumerate(find_chapter_files(course), 1)]
    return CourseBuild(
        course,
        solutions,
        root / "build",
        {r.edition: r for r in results},
        log,
        seconds,
        cpu_seconds,
        titles,
    )


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.fixture(scope="session", params=["student", "instructor"])
def edition(request) -> str:
    return request.param


def pdftotext(
    pdf: Path, first: int | None = None, last: int | None = None, layout: bool = False
) -> str:
    """Text of the PDF (or of pages first..last, 1-based) with poppler's pdftotext."""
    command = ["pdftotext", "-enc", "UTF-8"]
    if layout:
        command.append("-layout")
    if first is not None:
        command += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run(
        [*command, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def normalize(text: str) -> str:
    """Whitespace collapsed and line-end hyphenation undone, for searching prose."""
    text = re.sub(r"[\u2010\u00ad-]\s*\n\s*", "", text)
    return re.sub(r"\s+", " ", text)
