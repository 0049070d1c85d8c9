"""Labels and cross-references: numbered targets, and links to them that become PDF links.

Chapters are rendered one after the other, so a reference may point at a label that is defined
later (in a later chapter). A reference is therefore written as a placeholder first; when every
chapter has been rendered, ``resolve`` replaces each placeholder by a link whose text carries the
target's number ("Figure 2.1", "Section 3.2", "(2.4)"). A label that does not exist stops the
build with the closest labels that do.

In the PDF, an internal link ``<a href="#label">`` becomes a link to a named destination.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass

from weasyprint_build.errors import BuildError

LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")
KIND_NAMES = {
    "chapter": "Chapter",
    "section": "Section",
    "exercise": "Exercise",
    "figure": "Figure",
    "table": "Table",
    "listing": "Listing",
    "equation": "Equation",
}
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


@dataclass(frozen=True)
class Target:
    """Something a reference can point at."""

    label: str  # also its id in the HTML
    kind: str  # a key of KIND_NAMES
    number: str  # "2", "2.3", "2.1"
    title: str  # plain text: the heading, or the caption
    where: str  # file (and line) that defines it, for error messages


@dataclass(frozen=True)
class _Reference:
    role: str  # numref, ref, eq, or anchor (the href of a Markdown link [text](#label))
    label: str
    text: str | None  # the author's own link text, if any
    where: str


class References:
    """All targets of the book, and the references waiting for them."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}
        self._references: list[_Reference] = []

    def define(self, target: Target) -> None:
        check_label(target.label, target.where)
        if target.label in self.targets:
            first = self.targets[target.label]
            raise BuildError(
                f"{target.where}: the label {target.label!r} is already used by "
                f"{KIND_NAMES[first.kind].lower()} {first.number} ({first.where}); labels are "
                "unique across the whole book."
            )
        self.targets[target.label] = target

    def placeholder(self, role: str, label: str, text: str | None, where: str) -> str:
        """A marker to put in the HTML now; ``resolve`` turns it into the link."""
        self._references.append(_Reference(role, label.strip(), text, where))
        return f"\ue000{len(self._references) - 1}\ue001"

    def resolve(self, document: str) -> str:
        """Replace every placeholder in ``document`` by its link."""
        return _PLACEHOLDER.sub(lambda m: self._link(self._references[int(m.group(1))]), document)

    def _link(self, ref: _Reference) -> str:
        target = self.targets.get(ref.label)
        if target is None:
            close = difflib.get_close_matches(ref.label, list(self.targets), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            written = f"(#{ref.label})" if ref.role == "anchor" else f"{{{ref.role}}}`{ref.label}`"
            raise BuildError(
                f"{ref.where}: the reference {written} points at no label.{hint} "
                "Labels are defined by (label)= before a heading, name: of a figure or table, "
                "(label) after a $$ equation $$ and :name: of an exercise."
            )
        if ref.role == "anchor":  # [text](#label): the author wrote the link text
            return f"#{target.label}"
        if ref.role == "eq" and target.kind != "equation":
            raise BuildError(
                f"{ref.where}: {{eq}}`{ref.label}` points at a {target.kind}; "
                "use {numref} or {ref} for it."
            )
        return (
            f'<a class="xref xref-{target.kind}" href="#{target.label}">'
            f"{html.escape(_link_text(ref, target))}</a>"
        )


def _link_text(ref: _Reference, target: Target) -> str:
    number = f"({target.number})" if target.kind == "equation" else target.number
    if ref.text:  # "Fig. %s": the space before the number does not break either
        text = re.sub(r" (%s|\{number\})", "\u00a0\\1", ref.text)
        return text.replace("%s", number).replace("{number}", number)
    if ref.role == "eq":
        return number
    if ref.role == "numref":  # a no-break space: never "Table" at a line's end, "1.2" below
        return f"{KIND_NAMES[target.kind]}\u00a0{number}"
    return target.title  # ref: the target's title, as MyST's {ref} does


def check_label(label: str, where: str) -> None:
    if not LABEL.match(label):
        raise BuildError(
            f"{where}: {label!r} is not a valid label: start with a letter, then letters, digits, "
            "and - _ . : (for example fig-attention-heatmap)."
        )
