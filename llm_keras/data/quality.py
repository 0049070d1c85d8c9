"""Quality heuristics of Gopher and C4: rules that drop text no one would want to learn from (week 1, "Data: from the web to token shards").

Web pages hold menus, lists of links, code, boilerplate, spam that repeats itself. Before
classifiers scored text quality, the corpora that trained Gopher (MassiveWeb) and T5 (C4) were
filtered with a few rules a reader can check by hand. Each rule here is named as its drop reason,
gives its source and the threshold its paper gives, and is switched off by setting its threshold to
``None`` (or its flag to ``False``) in ``QualitySettings``.

Gopher's quality filter (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights
from Training Gopher", appendix A.1.1): keep a document only if

- ``gopher_word_count``: it has 50 to 100,000 words;
- ``gopher_mean_word_length``: its mean word length is 3 to 10 characters;
- ``gopher_symbol_ratio``: it has at most 0.1 hash symbols ``#`` per word, and at most 0.1
  ellipses (``...`` or ``…``) per word;
- ``gopher_bullet_lines``: at most 90 % of its lines start with a bullet point;
- ``gopher_ellipsis_lines``: at most 30 % of its lines end with an ellipsis;
- ``gopher_alphabetic_words``: at least 80 % of its words hold an alphabetic character;
- ``gopher_stop_words``: it holds at least two of the English words *the, be, to, of, and,
  that, have, with* (two different ones, as the paper words it; datatrove counts occurrences).

Gopher's repetition filter (same appendix, table A1): drop a document when

- ``gopher_duplicate_lines``: more than 30 % of its lines repeat an earlier line, or the
  repeated lines hold more than 20 % of its characters;
- ``gopher_duplicate_paragraphs``: the same for paragraphs (30 %, 20 %);
- ``gopher_top_ngrams``: its most frequent word 2-gram (3-gram, 4-gram) that occurs more than
  once covers more than 20 % (18 %, 16 %) of its word characters, counting every occurrence;
- ``gopher_repeated_ngrams``: the words inside word 5-grams (6, ..., 10-grams) that occur more
  than once hold more than 15 % (14 %, ..., 10 %) of its word characters; a word covered by
  several repeated n-grams counts once, as the paper asks ("taking care not to count characters
  that occur in overlapping n-grams more than once").

C4's rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", section 2.2): C4 keeps only the lines of a page that end in a
terminal punctuation mark (``. ! ? "``, not an ellipsis), hold at least 3 words and do not
mention "javascript"; then it drops

- ``c4_too_few_sentences``: a page with fewer than 5 sentences in those lines;
- ``c4_lorem_ipsum``: a page where "lorem ipsum" appears (placeholder text);
- ``c4_curly_bracket``: a page with a curly bracket ``{`` (code, which C4 wanted out).

The 3 words and 5 sentences are the paper's numbers, which datatrove's ``C4QualityFilter`` (and
so FineWeb) uses too; the code that built the released C4 (``tensorflow_datasets``'
``c4_utils``) asks for 5 words a line and 3 sentences a page instead (``_MIN_WORDS_PER_LINE``,
``_MIN_NUM_SENTENCES``); ``c4_min_words_per_line=5, c4_min_sentences=3`` sets those numbers.

C4's list of bad words is not applied (it is a download, and it drops medical and LGBTQ+ pages
well beyond its aim: Dodge et al. 2021). This module decides only which documents to drop, it
never rewrites one: ``c4_lines`` returns the lines C4 would keep, for a pipeline that wants them.

Words are the whitespace-separated tokens with the punctuation and symbols at their ends
stripped (``PUNCTUATION``; a token that is only punctuation, such as ``-`` or ``...``, is not a
word); lines are the non-blank lines;
paragraphs are separated by blank lines. The rules are checked in the order above and a
document is dropped for the first rule it fails (``quality_drop_reason``); ``failed_rules``
lists them all.

Example:
    >>> quality_drop_reason("Buy now! Buy now! Buy now!")
    'gopher_word_count'
    >>> settings = QualitySettings(min_words=None, c4_min_sentences=None)
    >>> quality_drop_reason("Buy now! Buy now! Buy now!", settings)  # "the", "be"... missing
    'gopher_stop_words'
    >>> failed_rules("Buy now! Buy now! Buy now!")
    ['gopher_word_count', 'gopher_stop_words', 'gopher_top_ngrams', 'c4_too_few_sentences']
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections import Counter
from collections.abc import Callable
from functools import cached_property, lru_cache

from llm_keras.config_dict import ConfigDict

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
BULLETS = ("•", "●", "◦", "‣", "▪", "-", "*")
ELLIPSES = ("...", "…")
C4_TERMINAL_PUNCTUATION = (".", "!", "?", '"', "”")
# ASCII punctuation and symbols, and the common Unicode punctuation: stripped from words' ends.
PUNCTUATION = (
    string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00ab\u00bb\u00a1\u00bf\u00b7"
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


@dataclasses.dataclass
class QualitySettings(ConfigDict):
    """The thresholds of Gopher's and C4's rules (by default the ones their papers give).

    A rule is off when its threshold is ``None`` (its flag ``False``, for C4's phrase rules).

    Args:
        min_words, max_words: ``gopher_word_count`` (50, 100,000).
        min_mean_word_length, max_mean_word_length: ``gopher_mean_word_length`` (3, 10).
        max_symbol_word_ratio: ``gopher_symbol_ratio``: hashes per word and ellipses per
            word, each at most this (0.1).
        max_bullet_lines_ratio: ``gopher_bullet_lines``: share of lines starting with a
            bullet (0.9).
        max_ellipsis_lines_ratio: ``gopher_ellipsis_lines``: share of lines ending with an
            ellipsis (0.3).
        min_alphabetic_words_ratio: ``gopher_alphabetic_words``: share of words with an
            alphabetic character (0.8).
        min_stop_words: ``gopher_stop_words``: different ``stop_words`` a document must hold (2).
        stop_words: Gopher's eight English stop words.
        max_duplicate_lines_ratio, max_duplicate_line_chars_ratio: ``gopher_duplicate_lines``
            (0.3 of the lines, 0.2 of the characters).
        max_duplicate_paragraphs_ratio, max_duplicate_paragraph_chars_ratio:
            ``gopher_duplicate_paragraphs`` (0.3, 0.2).
        top_ngram_chars_ratios: ``gopher_top_ngrams``: ``(n, most)`` pairs, the share of word
            characters the most frequent repeated n-gram may cover.
        repeated_ngram_chars_ratios: ``gopher_repeated_ngrams``: ``(n, most)`` pairs, the share
            of word characters inside repeated n-grams.
        c4_min_sentences: ``c4_too_few_sentences`` (5, as in the paper; the TFDS code that
            built the released C4 uses 3), counted in the lines C4 keeps.
        c4_min_words_per_line: the words a line needs for C4 to keep it (3, as in the paper;
            the TFDS code uses 5).
        c4_lorem_ipsum: ``c4_lorem_ipsum`` on or off.
        c4_curly_bracket: ``c4_curly_bracket`` on or off.

    Raises:
        ValueError: a threshold out of range, or a minimum above its maximum (named).
    """

    min_words: int | None = 50
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alphabetic_words_ratio: float | None = 0.8
    min_stop_words: int | None = 2
    stop_words: tuple[str, ...] = GOPHER_STOP_WORDS
    max_duplicate_lines_ratio: float | None = 0.3
    max_duplicate_line_chars_ratio: float | None = 0.2
    max_duplicate_paragraphs_ratio: float | None = 0.3
    max_duplicate_paragraph_chars_ratio: float | None = 0.2
    top_ngram_chars_ratios: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    repeated_ngram_chars_ratios: tuple[tuple[int, float], ...] = (
        (5, 0.15),
        (6, 0.14),
        (7, 0.13),
        (8, 0.12),
        (9, 0.11),
        (10, 0.10),
    )
    c4_min_sentences: int | None = 5
    c4_min_words_per_line: int = 3
    c4_lorem_ipsum: bool = True
    c4_curly_bracket: bool = True

    def __post_init__(self):
        # Lists when read back from JSON.
        self.stop_words = tuple(self.stop_words)
        self.top_ngram_chars_ratios = tuple(map(tuple, self.top_ngram_chars_ratios))
        self.repeated_ngram_chars_ratios = tuple(map(tuple, self.repeated_ngram_chars_ratios))
        for name in ("min_words", "max_words", "min_stop_words", "c4_min_sentences"):
            _check_number(name, getattr(self, name), whole=True)
        _check_number(
            "c4_min_words_per_line", self.c4_min_words_per_line, whole=True, optional=False
        )
        for name in ("min_mean_word_length", "max_mean_word_length", "max_symbol_word_ratio"):
            _check_number(name, getattr(self, name))
        for name in _SHARES:
            _check_number(name, getattr(self, name), most=1.0)
        for low, high in (
            ("min_words", "max_words"),
            ("min_mean_word_length", "max_mean_word_length"),
        ):
            if None not in (getattr(self, low), getattr(self, high)) and (
                getattr(self, low) > getattr(self, high)
            ):
                raise ValueError(
                    f"{low}={getattr(self, low)} is above {high}={getattr(self, high)}: every "
                    f"document would be dropped. Lower {low} or raise {high}."
                )
        for name in ("top_ngram_chars_ratios", "repeated_ngram_chars_ratios"):
            for pair in getattr(self, name):
                if not (
                    len(pair) == 2
                    and _is_whole(pair[0])
                    and pair[0] >= 1
                    and _is_number(pair[1])
                    and 0 <= pair[1] <= 1
                ):
                    raise ValueError(
                        f"{name} holds {pair!r}: each item is a pair (n, most) with n a whole "
                        f"number >= 1 and most a share between 0 and 1, e.g. (2, 0.2)."
                    )


_SHARES = tuple(
    field.name
    for field in dataclasses.fields(QualitySettings)
    if field.name.endswith("_ratio") and field.name != "max_symbol_word_ratio"
)


class _Document:
    """A text and the pieces the rules measure, each computed once when first asked for."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return [word for token in self.text.split() if (word := token.strip(PUNCTUATION))]

    @cached_property
    def word_chars(self) -> int:
        return sum(map(len, self.words))

    @cached_property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in _PARAGRAPH_BREAK.split(self.text) if p.strip()]


# Each rule: does the document fail it? Checked in this order; off when its setting says so.


def _word_count(doc: _Document, s: QualitySettings) -> bool:
    n = len(doc.words)
    return (s.min_words is not None and n < s.min_words) or (
        s.max_words is not None and n > s.max_words
    )


def _mean_word_length(doc: _Document, s: QualitySettings) -> bool:
    if not doc.words:
        return s.min_mean_word_length is not None
    mean = doc.word_chars / len(doc.words)
    return (s.min_mean_word_length is not None and mean < s.min_mean_word_length) or (
        s.max_mean_word_length is not None and mean > s.max_mean_word_length
    )


def _symbol_ratio(doc: _Document, s: QualitySettings) -> bool:
    if s.max_symbol_word_ratio is None:
        return False
    words = max(len(doc.words), 1)
    hashes = doc.text.count("#")
    ellipses = doc.text.count("...") + doc.text.count("…")
    return max(hashes, ellipses) / words > s.max_symbol_word_ratio


def _bullet_lines(doc: _Document, s: QualitySettings) -> bool:
    return _share(doc.lines, lambda line: line.startswith(BULLETS), s.max_bullet_lines_ratio)


def _ellipsis_lines(doc: _Document, s: QualitySettings) -> bool:
    return _share(doc.lines, lambda line: line.endswith(ELLIPSES), s.max_ellipsis_lines_ratio)


def _alphabetic_words(doc: _Document, s: QualitySettings) -> bool:
    if s.min_alphabetic_words_ratio is None or not doc.words:
        return False
    alphabetic = sum(any(c.isalpha() for c in word) for word in doc.words)
    return alphabetic / len(doc.words) < s.min_alphabetic_words_ratio


def _stop_words(doc: _Document, s: QualitySettings) -> bool:
    if s.min_stop_words is None:
        return False
    found = set(s.stop_words).intersection(word.lower() for word in doc.words)
    return len(found) < s.min_stop_words


def _duplicate_lines(doc: _Document, s: QualitySettings) -> bool:
    return _duplicates(doc.lines, s.max_duplicate_lines_ratio, s.max_duplicate_line_chars_ratio)


def _duplicate_paragraphs(doc: _Document, s: QualitySettings) -> bool:
    return _duplicates(
        doc.paragraphs, s.max_duplicate_paragraphs_ratio, s.max_duplicate_paragraph_chars_ratio
    )


def _top_ngrams(doc: _Document, s: QualitySettings) -> bool:
    return _ngram_rule(doc.words, s.top_ngram_chars_ratios, top_ngram_chars_ratio)


def _repeated_ngrams(doc: _Document, s: QualitySettings) -> bool:
    return _ngram_rule(doc.words, s.repeated_ngram_chars_ratios, repeated_ngram_chars_ratio)


def _ngram_rule(words: list[str], limits, ratio) -> bool:
    """Any ``(n, most)`` of ``limits`` with ``ratio(words, n) > most``, smallest n first.

    An n-gram that occurs twice holds an (n-1)-gram that occurs twice: once a ratio is 0 (no
    n-gram repeats), the larger n are 0 too and are not computed (most paragraphs stop at once).
    """
    for n, most in sorted(limits):
        value = ratio(words, n)
        if value > most:
            return True
        if value == 0:
            return False
    return False


def _c4_too_few_sentences(doc: _Document, s: QualitySettings) -> bool:
    if s.c4_min_sentences is None:
        return False
    sentences = sum(len(_SENTENCE_END.findall(line)) for line in c4_lines(doc.text, s))
    return sentences < s.c4_min_sentences


def _c4_lorem_ipsum(doc: _Document, s: QualitySettings) -> bool:
    return s.c4_lorem_ipsum and "lorem ipsum" in doc.text.lower()


def _c4_curly_bracket(doc: _Document, s: QualitySettings) -> bool:
    return s.c4_curly_bracket and "{" in doc.text


RULES: dict[str, Callable[[_Document, QualitySettings], bool]] = {
    "gopher_word_count": _word_count,
    "gopher_mean_word_length": _mean_word_length,
    "gopher_symbol_ratio": _symbol_ratio,
    "gopher_bullet_lines": _bullet_lines,
    "gopher_ellipsis_lines": _ellipsis_lines,
    "gopher_alphabetic_words": _alphabetic_words,
    "gopher_stop_words": _stop_words,
    "gopher_duplicate_lines": _duplicate_lines,
    "gopher_duplicate_paragraphs": _duplicate_paragraphs,
    "gopher_top_ngrams": _top_ngrams,
    "gopher_repeated_ngrams": _repeated_ngrams,
    "c4_too_few_sentences": _c4_too_few_sentences,
    "c4_lorem_ipsum": _c4_lorem_ipsum,
    "c4_curly_bracket": _c4_curly_bracket,
}
QUALITY_REASONS = tuple(RULES)


def quality_drop_reason(text: str, settings: QualitySettings | None = None) -> str | None:
    """The first rule that ``text`` fails (its drop reason), or ``None`` to keep it.

    Args:
        text: one document.
        settings: the thresholds; ``None``: the published ones (``QualitySettings()``).

    Returns:
        One of ``QUALITY_REASONS``, or ``None``.
    """
    settings = _published() if settings is None else settings
    doc = _Document(text)
    return next((reason for reason, fails in RULES.items() if fails(doc, settings)), None)


def failed_rules(text: str, settings: QualitySettings | None = None) -> list[str]:
    """Every rule ``text`` fails, in ``QUALITY_REASONS`` order (empty: it is kept).

    ``quality_drop_reason`` stops at the first; this shows how the rules overlap.
    """
    settings = _published() if settings is None else settings
    doc = _Document(text)
    return [reason for reason, fails in RULES.items() if fails(doc, settings)]


def c4_lines(text: str, settings: QualitySettings | None = None) -> list[str]:
    """The lines of ``text`` that C4 keeps, stripped.

    A line is kept when it ends in a terminal punctuation mark (``C4_TERMINAL_PUNCTUATION``)
    but not in an ellipsis, holds at least ``c4_min_words_per_line`` whitespace-separated words,
    and does not mention "javascript" (any case).

    Example:
        >>> c4_lines("Home | About\\nPlease enable JavaScript to view this page.\\nIt rained all day.")
        ['It rained all day.']
    """
    settings = _published() if settings is None else settings
    return [
        line
        for line in map(str.strip, text.splitlines())
        if line.endswith(C4_TERMINAL_PUNCTUATION)
        and not line.endswith(ELLIPSES)
        and len(line.split()) >= settings.c4_min_words_per_line
        and "javascript" not in line.lower()
    ]


@lru_cache(maxsize=1)
def _published() -> QualitySettings:
    return QualitySettings()


def top_ngram_chars_ratio(words: list[str], n: int) -> float:
    """The share of the words' characters covered by the most frequent repeated word n-gram.

    ``count * chars / total``: its occurrences times its characters (its words' lengths, without
    spaces) over the characters of all words. 0 when no n-gram occurs twice.

    Example:
        >>> top_ngram_chars_ratio("to be or not to be".split(), 2)  # "to be" twice: 8 / 13
        0.6153846153846154
    """
    counts = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    total = sum(map(len, words))
    if not counts or total == 0:
        return 0.0
    ngram, count = counts.most_common(1)[0]
    return 0.0 if count < 2 else count * sum(map(len, ngram)) / total


def repeated_ngram_chars_ratio(words: list[str], n: int) -> float:
    """The share of the words' characters that lie inside a word n-gram occurring twice or more.

    Every occurrence of a repeated n-gram marks its words; each marked word counts once.

    Example:
        >>> words = "a b c d e x a b c d e".split()  # the 5-gram "a b c d e" twice
        >>> repeated_ngram_chars_ratio(words, 5)  # 10 of the 11 characters
        0.9090909090909091
    """
    total = sum(map(len, words))
    if total == 0:
        return 0.0
    starts: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(words) - n + 1):
        starts.setdefault(tuple(words[i : i + n]), []).append(i)
    marked = [False] * len(words)
    for positions in starts.values():
        if len(positions) > 1:
            for i in positions:
                marked[i : i + n] = [True] * n
    return sum(len(word) for word, mark in zip(words, marked) if mark) / total


def _duplicates(items: list[str], most_items: float | None, most_chars: float | None) -> bool:
    """More than ``most_items`` of ``items`` repeat an earlier one, or hold ``most_chars``."""
    if not items:
        return False
    seen: set[str] = set()
    repeated = repeated_chars = 0
    for item in items:
        if item in seen:
            repeated += 1
            repeated_chars += len(item)
        seen.add(item)
    return (most_items is not None and repeated / len(items) > most_items) or (
        most_chars is not None and repeated_chars / sum(map(len, items)) > most_chars
    )


def _share(lines: list[str], predicate, most: float | None) -> bool:
    """More than ``most`` of the lines satisfy ``predicate``."""
    if most is None or not lines:
        return False
    return sum(map(predicate, lines)) / len(lines) > most


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_number(
    name: str, value, *, whole: bool = False, most: float | None = None, optional: bool = True
) -> None:
    if value is None and optional:
        return
    if (
        not (_is_whole(value) if whole else _is_number(value))
        or value < 0
        or (most is not None and value > most)
    ):
        kind = "a whole number >= 0" if whole else "a number >= 0"
        bound = f" and <= {most}" if most is not None else ""
        off = " (None switches it off)" if optional else ""
        raise ValueError(f"{name}={value!r} must be {kind}{bound}{off}.")
