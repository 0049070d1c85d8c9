"""Pre-tokenisation: cutting text into words before BPE (week 1, "GPT-2's byte-level BPE").

BPE never merges across the pieces made here. GPT-2 cuts text with one regular expression
(``GPT2_SPLIT_PATTERN``): contractions ('s, 't, 're, 've, 'm, 'll, 'd), runs of letters, of
digits or of other symbols (each with at most one leading space), and runs of whitespace. So
" the" is one piece and BPE can learn " the" as a single token, but never "the." or "e t".

Special tokens such as ``<|endoftext|>`` are cut out *before* this: they are never split by the
regex and never take part in a merge.

This module also finds places where a long text can be cut into pieces that pre-tokenise
exactly as the whole would (``safe_pieces``): that is what lets a file larger than memory be
counted or encoded piece by piece with the same result as in one go.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

import regex

# GPT-2's pattern (openai/gpt-2 src/encoder.py), in the form tiktoken's "gpt2" encoding uses.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# A cut is safe where the whole text has a piece boundary that neither side can move:
#  - before a single space that sits between two non-space characters ("to| be"): the left piece
#    ends at a non-space and the right one is " be" either way;
#  - after a newline that sits between two non-space characters ("be.\n|To"): the newline is a
#    piece of its own either way.
_SAFE_CUT = regex.compile(r"(?<=\S)(?= \S)|(?<=\S\n)(?=\S)")


def special_tokens_pattern(special_tokens: Iterable[str]) -> regex.Pattern | None:
    """A regex matching any of ``special_tokens``, longest first (so that of two overlapping
    specials such as "<|a|>" and "<|a|><|a|>" the longer wins); None when there are none."""
    tokens = sorted(set(special_tokens), key=lambda t: (-len(t), t))
    if not tokens:
        return None
    return regex.compile("|".join(regex.escape(t) for t in tokens))


def count_pretokens(
    texts: Iterable[str],
    special_tokens: Iterable[str] = (),
    pattern: str = GPT2_SPLIT_PATTERN,
) -> Counter:
    """Count the pre-tokens of ``texts`` (each text cut on the special tokens first, which are
    dropped: they are never merged). Returns a Counter of pre-token strings."""
    splitter = regex.compile(pattern)
    specials = special_tokens_pattern(special_tokens)
    counts: Counter = Counter()
    for text in texts:
        parts = specials.split(text) if specials is not None else (text,)
        for part in parts:
            counts.update(splitter.findall(part))
    return counts


def safe_pieces(
    texts: Iterable[str],
    min_chars: int = 1 << 16,
    special_tokens: Iterable[str] = (),
) -> Iterator[str]:
    """Re-cut a stream of strings (e.g. the lines of a file, or one long text) into pieces of at
    least ``min_chars`` characters, cut only where pre-tokenising the pieces one by one gives
    the same pre-tokens as the whole text. ``"".join(pieces)`` is the whole text.

    Memory stays bounded by a piece plus the longest stretch without a safe cut. A cut never
    falls inside an occurrence of a special token.
    """
    specials = special_tokens_pattern(special_tokens)
    pending: list[str] = []
    size = 0
    for text in texts:
        pending.append(text)
        size += len(text)
        if size < min_chars:
            continue
        buffer = "".join(pending)
        start = 0
        while len(buffer) - start >= min_chars:
            cut = _first_safe_cut(buffer, start + min_chars, specials)
            if cut is None:
                break
            yield buffer[start:cut]
            start = cut
        pending, size = [buffer[start:]], len(buffer) - start
    rest = "".join(pending)
    if rest:
        yield rest


def _first_safe_cut(text: str, start: int, specials: regex.Pattern | None) -> int | None:
    """The first safe cut at or after ``start`` that is not inside a special token, or None."""
    for match in _SAFE_CUT.finditer(text, start):
        cut = match.start()
        if specials is None or not any(
            m.start() < cut < m.end() for m in specials.finditer(text, max(0, cut - 256), cut + 256)
        ):
            return cut
    return None
