"""``glue``: hand a value computed by a chapter's code to its text (``{glue}`name```).

In a chapter::

    ```{code-cell} ipython3
    :tags: [remove-cell]
    from weasyprint_build.glue import glue
    glue("n_merges", len(tokenizer.merges))
    ```

    The tokenizer learned {glue}`n_merges` merges.

The value is written as a cell output in MyST-NB's format (``application/papermill.record/``
mime types with ``scrapbook`` metadata), so ``from myst_nb import glue`` works with this build
too, and this ``glue`` with MyST-NB. ``{glue}`name``` shows the value's plain text (its
``repr``, strings without quotes); ``{glue:text}`name:,.2f``` formats a number with a
format specification.
"""

from __future__ import annotations

GLUE_MIME = "application/papermill.record/"


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the text; show it in the cell too if ``display``."""
    from IPython.display import display as show

    text = value if isinstance(value, str) else repr(value)
    prefix = "" if display else GLUE_MIME
    show(
        {f"{prefix}text/plain": text},
        raw=True,
        metadata={"scrapbook": {"name": name, "mime_prefix": prefix}},
    )


def glue_name(output) -> str | None:
    """The glue name of a notebook output, or None when the output is not a glued value."""
    scrapbook = (output.get("metadata") or {}).get("scrapbook") or {}
    return scrapbook.get("name")
