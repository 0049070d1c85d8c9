"""A code cell's outputs -> HTML: printed text, figures, tables, errors, and glued values.

- Printed text (``stream``) is cleaned the way a terminal would show it: a carriage return
  rewrites its line and a backspace deletes a character, so progress bars end as their last
  state; ANSI colour codes are removed. stdout and stderr come out in separate blocks.
- Rich outputs take the best format WeasyPrint can show: SVG (figures: vector), PNG, JPEG,
  Markdown, HTML, then plain text. Images go into ``<img>`` with a data: URL, so the ids inside
  one SVG never clash with another's or the page's.
- ``glue(name, value)`` (``weasyprint_build.glue``, same format as MyST-NB's) displays nothing:
  its value is collected for the ``{glue}`` roles.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

from weasyprint_build.glue import GLUE_MIME, glue_name

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RICH_ORDER = (
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/html",
    "text/plain",
)


@dataclass
class CellOutputs:
    """One cell's outputs sorted into what goes where."""

    stdout: str = ""
    stderr: str = ""
    error: str = ""
    rich: list[tuple[str, str]] = field(default_factory=list)  # (mime type, data)


def terminal_text(text: str) -> str:
    """Text as a terminal shows it: ``\\r`` rewrites the line, ``\\b`` deletes, no ANSI codes."""
    lines = []
    for line in _ANSI.sub("", text).split("\n"):
        shown: list[str] = []
        cursor = 0
        for char in line:
            if char == "\r":
                cursor = 0
            elif char == "\b":
                cursor = max(0, cursor - 1)
            elif cursor < len(shown):
                shown[cursor] = char
                cursor += 1
            else:
                shown.append(char)
                cursor += 1
        lines.append("".join(shown).rstrip())
    return "\n".join(lines)


def sort_outputs(outputs: list, glued: dict[str, dict]) -> CellOutputs:
    """Split a cell's outputs; glued values are added to ``glued`` (name -> mime bundle)."""
    result = CellOutputs()
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = output.get("text", "")
            if output.get("name") == "stderr":
                result.stderr += text
            else:
                result.stdout += text
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            name = glue_name(output)
            if name is not None:
                glued[name] = {mime.removeprefix(GLUE_MIME): value for mime, value in data.items()}
                if all(mime.startswith(GLUE_MIME) for mime in data):
                    continue  # glued without display=True: nothing to show in the cell
                data = glued[name]
            mime = next((m for m in RICH_ORDER if m in data), None)
            if mime is not None:
                value = data[mime]
                result.rich.append((mime, "".join(value) if isinstance(value, list) else value))
        elif kind == "error":
            result.error += (
                "\n".join(output.get("traceback", []))
                or f"{output.get('ename')}: {output.get('evalue')}"
            )
    result.stdout = terminal_text(result.stdout).strip("\n")
    result.stderr = terminal_text(result.stderr).strip("\n")
    result.error = terminal_text(result.error).strip("\n")
    return result


def rich_html(mime: str, data: str, render_markdown) -> str:
    """One rich output as HTML (``render_markdown`` renders text/markdown with the book's rules)."""
    if mime == "image/svg+xml":
        encoded = base64.b64encode(data.encode("utf-8")).decode("ascii")
        return f'<img class="output-image" src="data:image/svg+xml;base64,{encoded}" alt="">'
    if mime in ("image/png", "image/jpeg"):
        return f'<img class="output-image raster" src="data:{mime};base64,{data.strip()}" alt="">'
    if mime == "text/markdown":
        return f'<div class="output-markdown">{render_markdown(data)}</div>'
    if mime == "text/html":
        return f'<div class="output-html">{data}</div>'
    return text_block(terminal_text(data), "output")


def text_block(text: str, css_class: str) -> str:
    return f'<pre class="{css_class}">{html.escape(text)}</pre>'
