"""TeX -> SVG at build time, because WeasyPrint renders no MathML and runs no JavaScript.

ziamath (pure Python) lays the formula out with an OpenType math font and writes it as SVG paths,
so the PDF needs no math font and no Node.js. Each result is cached on disk under a hash of the
TeX, the display mode, the font and ziamath's version: an unchanged formula is never laid out
twice, across builds.

Sizes are written in ``em`` (the SVG is drawn at ``DRAW_SIZE`` px and its width, height and
baseline offset divided by that), so a formula takes the size of the text around it: body
text, a caption or a table.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import latex2mathml.converter
import ziamath

from weasyprint_build.errors import BuildError
from weasyprint_build.fonts import math_font_file

DRAW_SIZE = 20.0  # px; any value works, the result is scaled in em
CACHE_VERSION = "1"  # bump when the HTML written below changes

# A control word that latex2mathml did not know comes out as text such as "<mi>\foo</mi>".
_UNKNOWN_COMMAND = re.compile(r">(\\[A-Za-z]+)<")
_SIZE = re.compile(r'^<svg ([^>]*?)width="([\d.]+)" height="([\d.]+)"')
# Text inside math (\text{tokens\_per\_character}): TeX prints \_ as _, latex2mathml (which
# ziamath reads the TeX with) keeps the backslash; ``_text_escapes`` undoes TeX's escapes there.
_TEXT_COMMAND = re.compile(r"\\(?:text(?:rm|it|bf|sf|tt)?|mbox)\s*\{")
_TEXT_ESCAPE = re.compile(r"\\([_%#$])")
# ziamath drops what \mathbin{...} and the other class commands hold (latex2mathml puts a group
# inside an <mo>), and sets \bmod without its spaces. ``_math_classes`` writes them as their
# content between TeX's spaces for the class: \: (4mu, \medmuskip) around a binary operator,
# \; (5mu, \thickmuskip) around a relation and \bmod, \, (3mu) around an operator and after
# punctuation, none for the others.
_CLASS_COMMAND = re.compile(r"\\math(bin|rel|op|punct|ord|open|close|inner)\s*\{")
_CLASS_SPACES = {"bin": ("\\:", "\\:"), "rel": ("\\;", "\\;"), "op": ("\\,", "\\,"),
                 "punct": ("", "\\,")}
_BMOD = re.compile(r"\\bmod(?![A-Za-z])\s*")
# ziamath spaces a sign as a binary operator wherever it stands, and puts a space before a
# function name such as \ln even where TeX puts none (at the start, after an opening bracket)
# and between it and its "(". TeX makes a sign after a relation, an opening bracket, a comma or
# at the start unary (no space: "= -\infty"), and spaces an operator name by its neighbours:
# ``_signs_and_names`` writes such a sign as the ordinary symbol {-} and such a name as
# \mathrm{ln} with TeX's thin spaces where TeX puts them.
_UNARY_SIGN = re.compile(
    r"(^|[=<>(\[,]|\\(?:le|ge|leq|geq|ne|neq|approx|sim|equiv|propto|to|in|mapsto|left\(|left\[)"
    r"(?![A-Za-z]))(\s*)([-+])(?![}])"
)
_NAME = re.compile(r"\\(ln|log|exp|sin|cos|tan|tanh)(?![A-Za-z])(?!\s*[_^])")


class MathRenderer:
    """Turns TeX into inline or display SVG, with an on-disk cache.

    Args:
        cache_dir: folder for the cache (created when needed), or None for no disk cache.
    """

    def __init__(self, cache_dir: Path | None):
        self.cache_dir = cache_dir
        self.rendered = 0  # formulas laid out by ziamath in this build (the others were cached)
        self.cached = 0
        self._memory: dict[str, str] = {}
        ziamath.config.svg2 = False  # no <symbol id=...>: ids would clash between formulas
        font = math_font_file()
        ziamath.config.math.mathfont = font
        self._key_prefix = f"{CACHE_VERSION}|{ziamath.__version__}|{Path(font).name}|"

    def inline(self, tex: str) -> str:
        """``<span class="math inline">`` holding the formula, on the text's baseline."""
        return self._get(tex, display=False)

    def display(self, tex: str) -> str:
        """``<span class="math display">`` holding the formula, to be placed in its own block."""
        return self._get(tex, display=True)

    def _get(self, tex: str, display: bool) -> str:
        tex = _math_classes(_text_escapes(tex.strip()))
        key = hashlib.sha256(f"{self._key_prefix}{int(display)}|{tex}".encode()).hexdigest()
        if key in self._memory:
            return self._memory[key]
        path = self.cache_dir / f"{key[:2]}/{key}.json" if self.cache_dir else None
        if path is not None and path.is_file():
            fragment = json.loads(path.read_text(encoding="utf-8"))["html"]
            self.cached += 1
        else:
            fragment = _render(tex, display)
            self.rendered += 1
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"tex": tex, "html": fragment}), encoding="utf-8")
        self._memory[key] = fragment
        return fragment


def _text_escapes(tex: str) -> str:
    """``tex`` with ``\\_``, ``\\%``, ``\\#`` and ``\\$`` written as the characters they print,
    inside the arguments of ``\\text``-like commands (outside them latex2mathml reads them
    right)."""
    out, position = [], 0
    for match in _TEXT_COMMAND.finditer(tex):
        if match.start() < position:  # a \text inside a \text already handled
            continue
        end = _group_end(tex, match.end())
        out.append(tex[position : match.end()])
        out.append(_TEXT_ESCAPE.sub(r"\1", tex[match.end() : end]))
        position = end
    out.append(tex[position:])
    return "".join(out)


def _math_classes(tex: str) -> str:
    """``tex`` with ``\\mathbin{\\&}`` written ``\\:{\\&}\\:`` (each class command as its
    content between the spaces TeX puts around that class) and ``\\bmod`` as
    ``\\;\\mathrm{mod}\\;``, which ziamath draws."""
    tex = _BMOD.sub(lambda _: "\\;\\mathrm{mod}\\;", tex)
    tex = _signs_and_names(tex)
    while match := _CLASS_COMMAND.search(tex):  # the first one, then those inside it
        end = _group_end(tex, match.end())
        before, after = _CLASS_SPACES.get(match.group(1), ("", ""))
        group = tex[match.end() - 1 : end]  # {...}, braces included
        tex = f"{tex[: match.start()]}{before}{group}{after}{tex[end:]}"
    return tex


def _signs_and_names(tex: str) -> str:
    """``tex`` with a unary sign written ``{-}`` and ``\\ln`` (and the other operator names
    without limits) written ``\\mathrm{ln}`` with TeX's thin space before it after an ordinary
    symbol and after it before anything but an opening bracket (TeXbook, chapter 18, the table of
    spacing between classes). Text inside ``\\text{...}`` is left as it is; it stands as an
    ordinary symbol for what follows it: the sign of ``\\text{min\\_lr} + 1`` is binary."""
    out, position = [], 0
    for match in _TEXT_COMMAND.finditer(tex):
        if match.start() < position:
            continue
        end = _group_end(tex, match.end())
        out.append(_math_signs_and_names(tex[position : match.start()], after_text=position > 0))
        out.append(tex[match.start() : end])
        position = end
    out.append(_math_signs_and_names(tex[position:], after_text=position > 0))
    return "".join(out)


def _math_signs_and_names(tex: str, after_text: bool = False) -> str:
    """One stretch of math between ``\\text`` groups; ``after_text``: a group ends just before
    it, so that its start is not the formula's start (a sign there is binary)."""
    if after_text:  # the text as the ordinary symbol "T" while the rules read what is before
        return _math_signs_and_names("T" + tex)[1:]
    tex = _UNARY_SIGN.sub(lambda m: f"{m[1]}{m[2]}{{{m[3]}}}", tex)

    def name(match: re.Match) -> str:
        before = tex[: match.start()].rstrip()
        after = tex[match.end() :].lstrip()
        left = "\\," if re.search(r"[A-Za-z0-9)\]}|!']$", before) and not re.search(
            r"\\[A-Za-z]+$", before) else ""  # fmt: skip
        right = "" if re.match(r"\(|\\left|\\bigl|\\Bigl|\\,|\\;|\\!|$", after) else "\\,"
        return f"{left}\\mathrm{{{match[1]}}}{right}"

    return _NAME.sub(name, tex)


def _group_end(tex: str, start: int) -> int:
    """The index just after the ``}`` that closes the group opened before ``start``."""
    depth, end = 1, start
    while end < len(tex) and depth:
        if tex[end] == "\\":
            end += 2
            continue
        depth += {"{": 1, "}": -1}.get(tex[end], 0)
        end += 1
    return end


def _render(tex: str, display: bool) -> str:
    if not tex:
        raise BuildError("An empty formula ($$ or $ $): write the TeX between the dollars.")
    try:
        mathml = latex2mathml.converter.convert(tex)
    except Exception as error:  # latex2mathml raises many kinds for bad TeX
        raise BuildError(
            f"Cannot read the TeX `{tex}`: {type(error).__name__} {error}".strip()
        ) from None
    unknown = _UNKNOWN_COMMAND.search(mathml)
    if unknown:
        raise BuildError(
            f"The TeX `{tex}` uses {unknown.group(1)}, which the math renderer (ziamath) does not "
            "know: use a standard LaTeX math command (\\operatorname{...} for a named function)."
        )
    try:
        math = ziamath.Latex(tex, size=DRAW_SIZE, inline=not display, title=tex)
        svg = math.svg()
        baseline = math.getyofst()  # negative: from the baseline down to the bottom of the box
    except Exception as error:
        raise BuildError(
            f"ziamath could not draw the TeX `{tex}`: {type(error).__name__} {error}"
        ) from None
    match = _SIZE.match(svg)
    if match is None:
        raise BuildError(f"Unexpected SVG from ziamath for `{tex}` (no width/height): {svg[:80]}")
    width, height = float(match.group(2)) / DRAW_SIZE, float(match.group(3)) / DRAW_SIZE
    svg = _SIZE.sub(
        lambda m: f'<svg {m.group(1)}style="width:{width:.3f}em;height:{height:.3f}em"',
        svg,
        count=1,
    )
    kind = "display" if display else "inline"
    style = "" if display else f' style="vertical-align:{baseline / DRAW_SIZE:.3f}em"'
    label = html.escape(tex, quote=True)
    return f'<span class="math {kind}" data-tex="{label}"{style}>{svg}</span>'
