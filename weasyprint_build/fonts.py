"""The fonts the PDF uses, found through fontconfig, and a check that they are installed.

The book is set in TeX Gyre Pagella (a Palatino), its math in TeX Gyre Pagella Math (so that
letters in formulas match the text), code in DejaVu Sans Mono, and matplotlib's figures use
DejaVu Sans. All come from Debian packages that ``scripts/install`` installs; WeasyPrint embeds
the subsets it uses in the PDF. A missing font would otherwise be replaced silently by another,
so the build checks for them first.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from weasyprint_build.errors import BuildError

# family -> the Debian package that installs it
REQUIRED_FONTS = {
    "TeX Gyre Pagella": "fonts-texgyre",
    "TeX Gyre Pagella Math": "fonts-texgyre-math",
    "DejaVu Sans Mono": "fonts-dejavu-core",
    "DejaVu Sans": "fonts-dejavu-core",
}
# Styles used by the CSS (italic text, bold headings) and by Pygments (oblique comments).
REQUIRED_STYLES = {
    "TeX Gyre Pagella": {"Regular", "Italic", "Bold", "Bold Italic"},
    "DejaVu Sans Mono": {"Book", "Bold", "Oblique"},  # Oblique: fonts-dejavu-extra
}
APT_PACKAGES = ("fonts-texgyre", "fonts-texgyre-math", "fonts-dejavu-core", "fonts-dejavu-extra")
MATH_FONT_FAMILY = "TeX Gyre Pagella Math"


@functools.cache
def font_files(family: str) -> dict[str, str]:
    """``{style: file}`` of the installed fonts of ``family`` (empty when none is installed)."""
    if shutil.which("fc-list") is None:
        raise BuildError(
            "fc-list (fontconfig) is not installed, so the build cannot find its fonts: "
            "run scripts/install (it installs fontconfig and the fonts)."
        )
    listing = subprocess.run(
        ["fc-list", "--format", "%{style[0]}|%{file}\n", f":family={family}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = {}
    for line in listing.splitlines():
        style, _, path = line.partition("|")
        files.setdefault(style, path)
    return files


def check_fonts() -> None:
    """Raise a BuildError naming the apt packages to install when a font or style is missing."""
    missing = []
    for family, package in REQUIRED_FONTS.items():
        styles = font_files(family)
        if not styles:
            missing.append(f"{family} ({package})")
            continue
        for style in sorted(REQUIRED_STYLES.get(family, set()) - set(styles)):
            where = "fonts-dejavu-extra" if family.startswith("DejaVu") else package
            missing.append(f"{family} {style} ({where})")
    if missing:
        raise BuildError(
            "These fonts are not installed: " + ", ".join(missing) + ". Install them with "
            f"`apt-get install {' '.join(APT_PACKAGES)}` (scripts/install does this)."
        )


def math_font_file() -> str:
    """The OpenType math font file ziamath draws formulas with."""
    files = font_files(MATH_FONT_FAMILY)
    if not files:
        check_fonts()  # raises with the install hint
    return next(iter(files.values()))
