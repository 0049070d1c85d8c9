"""How the course says a list in prose: "a", "a and b", "a, b and c" (no serial comma).

Shared by the autograder's feedback and scoring and by the book's build (teaching notes,
plumbing notes, benchmark runs), so that every list reads the same way."""

from __future__ import annotations


def series(words: list[str]) -> str:
    """``["a"]`` -> ``"a"``; ``["a", "b"]`` -> ``"a and b"``; ``["a", "b", "c"]`` ->
    ``"a, b and c"``. ``words`` must not be empty."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
