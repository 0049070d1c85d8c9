"""MyST Markdown -> HTML for print: markdown-it-py with the MyST plugins and our own render rules.

What the rules do with the MyST syntax a chapter uses (``course/README.md`` lists it):

- ``$x$`` and ``$$ ... $$ (label)``: TeX drawn as SVG (``math_svg``), labelled equations numbered;
- ``(label)=`` before a heading: the heading's label; headings are numbered by the chapter context;
- ``{numref}`label```, ``{ref}`label```, ``{eq}`label``` and ``[text](#label)``: cross-references
  (``references``); ``{glue}`name``` and ``{glue:text}`name:format```: values the chapter's code
  computed; ``{math}`tex```: inline math; ``{cite:t}`key``` and ``{cite:p}`key```: citations
  (``bibliography``), as is a link ``[Author et al. 2020](url)`` to a work's URL (notebooks
  cite so); ``{index}`term```: an index entry (``index``);
- fenced directives ``{note}``, ``{tip}``, ``{warning}``, ``{important}``, ``{table}``,
  ``{exercise}``, ``{code-block}`` (with ``:caption:`` a numbered listing), ``{only}``
  (``instructor`` or ``student``: shown in that edition only); any other ``{directive}`` stops
  the build;
- fenced code without braces: highlighted, not run.

The rules call a context object (``env["ctx"]``, a ``render.ChapterContext``) for everything that
depends on the place in the book: numbers, labels, glued values, exercises.
"""

from __future__ import annotations

import html
import re

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

from weasyprint_build.bibliography import CITE_ROLES
from weasyprint_build.errors import BuildError
from weasyprint_build.highlight import inline_code

ADMONITIONS = ("note", "tip", "warning", "important")
DIRECTIVES = (*ADMONITIONS, "table", "exercise", "code-block", "code", "only")
ROLES = ("numref", "ref", "eq", "glue", "glue:text", "math", "code", *CITE_ROLES, "index")
EDITION_TAGS = ("instructor", "student")
_DIRECTIVE_INFO = re.compile(r"^\{([a-z][a-z0-9:-]*)\}\s*(.*)$")
_ROLE_WITH_TEXT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)


def make_parser() -> MarkdownIt:
    """A markdown-it parser with the rules of this module."""
    md = (
        MarkdownIt("commonmark", {"html": True, "typographer": True})
        .enable(["table", "replacements", "smartquotes"])
        .use(
            dollarmath_plugin,
            allow_labels=True,
            allow_space=True,
            allow_digits=True,
            double_inline=True,
        )
        .use(amsmath_plugin)
        .use(colon_fence_plugin)
        .use(myst_role_plugin)
        .use(myst_block_plugin)
    )
    rules = md.add_render_rule
    rules("math_inline", _inline_math)
    rules("math_inline_double", _inline_math)  # $$x$$ inside a paragraph stays in the line
    rules("math_block", _display_math)
    rules("math_block_label", _display_math)
    rules("amsmath", _display_math)
    rules("myst_role", _role)
    rules("myst_target", _target)
    rules("myst_line_comment", lambda *args: "")
    rules("myst_block_break", lambda *args: "")
    rules("heading_open", _heading_open)
    rules("heading_close", _heading_close)
    rules("fence", _fence)
    rules("colon_fence", _fence)
    rules("link_open", _link_open)
    rules("code_inline", lambda self, tokens, i, options, env: inline_code(tokens[i].content))
    return md


def _inline_math(self, tokens, i, options, env) -> str:
    ctx, tex = env["ctx"], tokens[i].content
    try:
        return ctx.math.inline(tex)
    except BuildError as error:
        raise BuildError(f"{ctx.where(snippet=f'${tex}$')}: {error}") from None


def _display_math(self, tokens, i, options, env) -> str:
    token = tokens[i]
    ctx = env["ctx"]
    label = token.info.strip() if token.type == "math_block_label" else ""
    tex = token.content
    if token.type == "amsmath":  # \begin{align}...\end{align}: ziamath understands aligned
        tex = re.sub(
            r"\\(begin|end)\{(align|equation|gather)\*?\}",
            lambda m: "" if m.group(2) == "equation" else f"\\{m.group(1)}{{{m.group(2)}ed}}",
            tex,
        )
    try:
        svg = ctx.math.display(tex)
    except BuildError as error:
        raise BuildError(f"{ctx.where(token)}: {error}") from None
    return ctx.equation(svg, label, token)


def _role(self, tokens, i, options, env) -> str:
    token = tokens[i]
    ctx = env["ctx"]
    name, content = token.meta["name"], token.content
    where = ctx.where(snippet=f"{{{name}}}`{content}`")
    if name == "math":
        try:
            return ctx.math.inline(content)
        except BuildError as error:
            raise BuildError(f"{where}: {error}") from None
    if name == "code":
        return inline_code(content)
    if name in ("glue", "glue:text"):
        return html.escape(ctx.glue_text(name, content, where))
    if name in CITE_ROLES:  # inside parentheses the text opened: none of its own
        before = "".join(t.content for t in tokens[:i] if t.type == "text")
        opened = before.count("(") > before.count(")")
        return ctx.book.bibliography.cite(name, content, where, in_parentheses=opened)
    if name == "index":
        return ctx.book.index.mark(content, where, (ctx.number, ctx.section))
    if name in ("numref", "ref", "eq"):
        match = _ROLE_WITH_TEXT.match(content)
        text, label = (match.group(1), match.group(2)) if match else (None, content)
        return ctx.references.placeholder(name, label, text, where)
    raise BuildError(f"{where}: unknown role {{{name}}}; the PDF build knows {', '.join(ROLES)}.")


def _target(self, tokens, i, options, env) -> str:
    ctx = env["ctx"]
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    if following is None or following.type != "heading_open":
        raise BuildError(
            f"{ctx.where(tokens[i])}: the target ({tokens[i].content})= must stand on the line "
            "right before a heading (figures, tables and equations take their label otherwise)."
        )
    env["pending_label"] = tokens[i].content.strip()
    return ""


def _heading_open(self, tokens, i, options, env) -> str:
    token = tokens[i]
    text = "".join(
        c.content for c in tokens[i + 1].children or [] if c.type in ("text", "code_inline")
    )
    label = env.pop("pending_label", None)
    return env["ctx"].heading_open(int(token.tag[1]), text.strip(), label, token)


def _heading_close(self, tokens, i, options, env) -> str:
    return env["ctx"].heading_close(int(tokens[i].tag[1]))


def _link_open(self, tokens, i, options, env) -> str:
    token = tokens[i]
    href = token.attrGet("href") or ""
    ctx = env["ctx"]
    if href.startswith("#"):
        anchor = ctx.references.placeholder(
            "anchor", href[1:], None, ctx.where(snippet=f"]({href})")
        )
        return f'<a class="xref" href="{anchor}">'
    # [Kaplan et al. 2020](url of a work in references.yaml): a citation (notebooks cite so)
    text = ""
    for following in tokens[i + 1 :]:
        if following.type == "link_close":
            break
        text += following.content
    work = ctx.book.bibliography.cite_link(href, text, ctx.where(snippet=f"]({href})"))
    if work is not None:
        return f'<a class="cite" href="#{work.anchor}">'
    return f'<a href="{html.escape(href)}">'


def _fence(self, tokens, i, options, env) -> str:
    token = tokens[i]
    ctx = env["ctx"]
    info = token.info.strip()
    match = _DIRECTIVE_INFO.match(info)
    if match is None:  # ```python: code shown, not run
        language = info.split()[0] if info else "text"
        return ctx.static_code(token.content, language, token)
    name, argument = match.group(1), match.group(2).strip()
    if name not in DIRECTIVES:
        hint = (
            " Code that runs is a {code-cell} (see course/README.md)."
            if name == "code-cell"
            else ""
        )
        raise BuildError(
            f"{ctx.where(token)}: unknown directive {{{name}}}; the PDF build knows "
            f"{', '.join(DIRECTIVES)}.{hint}"
        )
    options, body = split_directive(token.content, ctx.where(token))
    if name in ("code-block", "code"):
        return ctx.static_code(body, argument or "python", token, options)
    if name == "only":
        return _only(self, argument, body, env, ctx, token)
    if name in ADMONITIONS:
        title = argument or name.capitalize()
        inner = self.md_render(body, env)
        return (
            f'<aside class="admonition {name}"><p class="admonition-title">'
            f"{html.escape(title)}</p>{inner}</aside>"
        )
    if name == "table":
        return ctx.table(argument, options, self.md_render(body, env), token)
    return ctx.exercise(argument, options, token)


def _only(renderer, argument: str, body: str, env, ctx, token) -> str:
    """``{only} instructor``: Sphinx's directive, with the edition as its tag."""
    if argument not in EDITION_TAGS:
        raise BuildError(
            f"{ctx.where(token)}: {{only}} {argument!r}: the PDF build knows the editions "
            f"{' and '.join(EDITION_TAGS)}; write {{only}} instructor for what only the "
            "instructor edition shows (answers, teaching notes)."
        )
    if ctx.book.edition != argument:
        return ""
    return (
        f'<div class="only only-{argument}"><p class="only-label">{argument} edition</p>'
        f"{renderer.md_render(body, env)}</div>"
    )


def split_directive(content: str, where: str) -> tuple[dict, str]:
    """A directive's options (``:key: value`` lines or a ``---`` YAML block) and its body."""
    lines = content.splitlines()
    if lines and lines[0].strip() == "---":
        try:
            end = lines.index("---", 1)
        except ValueError:
            raise BuildError(
                f"{where}: the directive's options block (---) is not closed."
            ) from None
        options = yaml.safe_load("\n".join(lines[1:end])) or {}
        return options, "\n".join(lines[end + 1 :])
    options = {}
    while lines and re.match(r"^:[\w-]+:", lines[0]):
        key, _, value = lines.pop(0)[1:].partition(":")
        options[key.strip()] = value.strip()
    return options, "\n".join(lines)


class Renderer:
    """Renders markdown with a context; ``render(markdown, ctx)`` gives HTML."""

    def __init__(self) -> None:
        self.md = make_parser()
        # Directive bodies (admonitions, tables) are markdown too: render them with the same env.
        self.md.renderer.md_render = lambda text, env: self.md.render(text, env)

    def render(self, markdown: str, ctx) -> str:
        return self.md.render(markdown, {"ctx": ctx})

    def render_inline(self, markdown: str, ctx) -> str:
        """Markdown of one paragraph (a caption) without the ``<p>``."""
        return self.md.renderInline(markdown, {"ctx": ctx})
