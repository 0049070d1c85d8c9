"""``llm-course pdf``: the command line of the PDF build.

    llm-course pdf [--edition student|instructor|both] [--out PATH] [--backend jax] [--fresh]

Wire it into an argparse CLI with ``add_pdf_command(subparsers)``; the sub-command's handler is
``run_pdf_command(args)``, which returns the exit status (0 built, 1 the build failed with a
message on stderr). ``python -m weasyprint_build`` runs the same command on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weasyprint_build.errors import BuildError

BACKENDS = ("jax", "tensorflow", "torch")


def add_pdf_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``pdf`` sub-command to an ``argparse`` sub-parsers object and return its parser."""
    parser = subparsers.add_parser(
        "pdf",
        help="build the course PDF (student or instructor edition)",
        description="Build the course PDF from course/ (chapters) and solutions/ (exercises). "
        "The chapters' code runs during the build; unchanged chapters are cached.",
    )
    add_pdf_arguments(parser)
    parser.set_defaults(handler=run_pdf_command)
    return parser


def add_pdf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--edition",
        choices=("student", "instructor", "both"),
        default="student",
        help="student: exercises as handed out (default); instructor: with "
        "the reference solutions; both: the two PDFs",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the PDF to write (default build/llm-keras-course.pdf, or "
        "build/llm-keras-course-instructor.pdf)",
    )
    parser.add_argument(
        "--course", type=Path, default=Path("course"), help="the chapters' folder (default: course)"
    )
    parser.add_argument(
        "--solutions",
        type=Path,
        default=None,
        help="the exercises' source notebooks (default: solutions beside course)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="jax",
        help="KERAS_BACKEND for the chapters' code (default: jax)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="chapters run in parallel (default: 2)")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="ignore the caches: run every chapter and draw every formula again",
    )


def run_pdf_command(args: argparse.Namespace) -> int:
    """Build what ``args`` asks for; print a BuildError's message rather than a traceback."""
    from weasyprint_build.build import build_pdf

    editions = ["student", "instructor"] if args.edition == "both" else [args.edition]
    try:
        build_pdf(
            editions,
            course_dir=args.course,
            solutions_dir=args.solutions,
            out=args.out,
            backend=args.backend,
            jobs=args.jobs,
            fresh=args.fresh,
        )
    except BuildError as error:
        print(f"llm-course pdf: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llm-course pdf: interrupted; the chapters whose code had finished are cached, so "
              "the same command goes on from there.", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m weasyprint_build", description="Build the course PDF."
    )
    add_pdf_arguments(parser)
    return run_pdf_command(parser.parse_args(argv))
