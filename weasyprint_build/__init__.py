"""The course PDF: ``course/`` chapters and ``solutions/`` exercises -> HTML -> PDF (WeasyPrint).

    from weasyprint_build import build_pdf
    build_pdf(["student", "instructor"])   # build/llm-keras-course.pdf, ...-instructor.pdf

or ``llm-course pdf [--edition student|instructor|both]`` (``add_pdf_command`` wires it into an
argparse CLI). The chapter format is described in ``course/README.md``; how the build works and
why it is made this way, in ``weasyprint_build/README.md``.

This module imports nothing heavy, so that a CLI can import ``add_pdf_command`` cheaply.
"""

from weasyprint_build.cli import add_pdf_command, run_pdf_command
from weasyprint_build.errors import BuildError


def build_pdf(*args, **kwargs):
    """See ``weasyprint_build.build.build_pdf`` (imported on first use: it loads WeasyPrint)."""
    from weasyprint_build.build import build_pdf as build

    return build(*args, **kwargs)


__all__ = ["BuildError", "add_pdf_command", "build_pdf", "run_pdf_command"]
