"""Gopher's and C4's quality rules: each on texts built to just pass and just fail it, the numbers
computed here from the published definitions; the rules' drops on the Gutenberg Shakespeare."""

import collections
import dataclasses
import doctest
import itertools
import re
import string

import pytest

from llm_keras.data import quality
from llm_keras.data.corpora import corpus_path
from llm_keras.data.quality import (
    QUALITY_REASONS,
    QualitySettings,
    c4_lines,
    failed_rules,
    quality_drop_reason,
    repeated_ngram_chars_ratio,
    top_ngram_chars_ratio,
)
from llm_keras.data.streaming import read_documents

# Every rule off: a test switches on the one it checks.
OFF = {
    "min_words": None,
    "max_words": None,
    "min_mean_word_length": None,
    "max_mean_word_length": None,
    "max_symbol_word_ratio": None,
    "max_bullet_lines_ratio": None,
    "max_ellipsis_lines_ratio": None,
    "min_alphabetic_words_ratio": None,
    "min_stop_words": None,
    "max_duplicate_lines_ratio": None,
    "max_duplicate_line_chars_ratio": None,
    "max_duplicate_paragraphs_ratio": None,
    "max_duplicate_paragraph_chars_ratio": None,
    "top_ngram_chars_ratios": (),
    "repeated_ngram_chars_ratios": (),
    "c4_min_sentences": None,
    "c4_lorem_ipsum": False,
    "c4_curly_bracket": False,
}

# A web page a filter should keep: 86 words, 7 sentences on 6 lines.
GOOD_PAGE = """\
The river flooded the lower town twice this spring, and the council has now agreed to build a wall.
Engineers from the county surveyed both banks in March.
Their report, published on Tuesday, puts the cost at four million pounds.
Residents who lost furniture and cars say that help came too slowly. Many are still waiting.
The work should begin in the autumn, once the water is low enough to dig safely.
A public meeting with the engineers will be held at the library next week."""


def only(**settings) -> QualitySettings:
    """Every rule off except those ``settings`` set."""
    return QualitySettings(**{**OFF, **settings})


def distinct_words(count: int, length: int = 5) -> list[str]:
    """``count`` different lowercase words of ``length`` letters, none of them a stop word."""
    letters = "bcdfghjklmnpqrstvwxz"  # no vowels: no English word by chance
    return ["".join(w) for w in itertools.islice(itertools.product(letters, repeat=length), count)]


def reference_words(text: str) -> list[str]:
    """Gopher's words as this module defines them, written out again: whitespace tokens, the
    punctuation at their ends removed, tokens that were only punctuation left out."""
    ends = string.punctuation + "‘’“”–—…«»¡¿·"
    return [token.strip(ends) for token in text.split() if token.strip(ends)]


def test_the_rules_and_their_published_thresholds():
    assert QUALITY_REASONS == (
        "gopher_word_count",
        "gopher_mean_word_length",
        "gopher_symbol_ratio",
        "gopher_bullet_lines",
        "gopher_ellipsis_lines",
        "gopher_alphabetic_words",
        "gopher_stop_words",
        "gopher_duplicate_lines",
        "gopher_duplicate_paragraphs",
        "gopher_top_ngrams",
        "gopher_repeated_ngrams",
        "c4_too_few_sentences",
        "c4_lorem_ipsum",
        "c4_curly_bracket",
    )
    s = QualitySettings()
    # Rae et al. 2021, appendix A.1.1 and table A1; Raffel et al. 2020, section 2.2.
    assert (s.min_words, s.max_words, s.min_mean_word_length, s.max_mean_word_length) == (
        50,
        100_000,
        3,
        10,
    )
    assert (
        s.max_symbol_word_ratio,
        s.max_bullet_lines_ratio,
        s.max_ellipsis_lines_ratio,
        s.min_alphabetic_words_ratio,
        s.min_stop_words,
    ) == (0.1, 0.9, 0.3, 0.8, 2)
    assert s.stop_words == ("the", "be", "to", "of", "and", "that", "have", "with")
    assert (
        s.max_duplicate_lines_ratio,
        s.max_duplicate_paragraphs_ratio,
        s.max_duplicate_line_chars_ratio,
        s.max_duplicate_paragraph_chars_ratio,
    ) == (0.3, 0.3, 0.2, 0.2)
    assert s.top_ngram_chars_ratios == ((2, 0.2), (3, 0.18), (4, 0.16))
    assert s.repeated_ngram_chars_ratios == tuple((n, (20 - n) / 100) for n in range(5, 11))
    assert (s.c4_min_sentences, s.c4_min_words_per_line) == (5, 3)


def test_a_good_page_passes_every_rule_and_each_rule_can_be_switched_off():
    assert len(reference_words(GOOD_PAGE)) == 86
    assert failed_rules(GOOD_PAGE) == [] and quality_drop_reason(GOOD_PAGE) is None
    assert failed_rules("", only()) == [] and failed_rules("{ lorem ipsum }", only()) == []


@pytest.mark.parametrize("count, reason", [(49, "gopher_word_count"), (50, None)])
def test_word_count_minimum(count, reason):
    text = " ".join(["the", "of"] + distinct_words(count - 2)) + " - ... !"  # 3 non-words
    assert len(reference_words(text)) == count
    assert quality_drop_reason(text, only(min_words=50)) == reason


def test_word_count_maximum():
    settings = only(min_words=50, max_words=60)
    assert quality_drop_reason(" ".join(distinct_words(60)), settings) is None
    assert quality_drop_reason(" ".join(distinct_words(61)), settings) == "gopher_word_count"


@pytest.mark.parametrize(
    "lengths, reason",
    [
        ([3] * 10, None),  # mean 3.0: kept (the rule is "< 3")
        ([3] * 9 + [2], "gopher_mean_word_length"),  # mean 2.9
        ([10] * 10, None),  # mean 10.0
        ([10] * 9 + [11], "gopher_mean_word_length"),  # mean 10.1
    ],
)
def test_mean_word_length(lengths, reason):
    words = [word[:n] for word, n in zip(distinct_words(len(lengths), 11), lengths)]
    text = "“" + ", ".join(words) + ".”"  # the quotes and commas are not counted
    measured = reference_words(text)
    assert sum(map(len, measured)) / len(measured) == sum(lengths) / len(lengths)
    assert quality_drop_reason(text, only(min_mean_word_length=3, max_mean_word_length=10)) == (
        reason
    )


@pytest.mark.parametrize(
    "symbol, count, reason",
    [
        ("#", 6, None),
        ("#", 7, "gopher_symbol_ratio"),
        ("...", 6, None),
        ("…", 7, "gopher_symbol_ratio"),
        ("#...", 6, None),
    ],  # hashes and ellipses apart
)
def test_symbol_to_word_ratio(symbol, count, reason):
    words = distinct_words(60)
    for i in range(count):
        words[i * 8] += " " + symbol
    text = " ".join(words)
    assert len(reference_words(text)) == 60  # the symbols are not words
    ratio = max(text.count("#"), text.count("...") + text.count("…")) / 60  # each per word
    assert (ratio > 0.1) == (reason is not None)
    assert quality_drop_reason(text, only(max_symbol_word_ratio=0.1)) == reason


def lines_of(count: int, words: int = 4) -> list[str]:
    pool = iter(distinct_words(count * words))
    return [" ".join(next(pool) for _ in range(words)) + "." for _ in range(count)]


@pytest.mark.parametrize("bullets, reason", [(9, None), (10, "gopher_bullet_lines")])
def test_bullet_lines(bullets, reason):
    lines = [
        f"{'•-*'[i % 3]} {line}" if i < bullets else line for i, line in enumerate(lines_of(10))
    ]
    text = "\n".join(lines) + "\n\n"  # blank lines are not lines
    assert quality_drop_reason(text, only(max_bullet_lines_ratio=0.9)) == reason


@pytest.mark.parametrize("ellipses, reason", [(3, None), (4, "gopher_ellipsis_lines")])
def test_ellipsis_lines(ellipses, reason):
    lines = [
        line[:-1] + ("..." if i % 2 else "…") if i < ellipses else line
        for i, line in enumerate(lines_of(10))
    ]
    assert quality_drop_reason("\n".join(lines), only(max_ellipsis_lines_ratio=0.3)) == reason


@pytest.mark.parametrize("numbers, reason", [(10, None), (11, "gopher_alphabetic_words")])
def test_alphabetic_words(numbers, reason):
    words = distinct_words(50 - numbers) + [f"{1990 + i}," for i in range(numbers)] + ["a1"]
    measured = reference_words(" ".join(words))
    share = sum(any(c.isalpha() for c in w) for w in measured) / len(measured)
    assert (share >= 0.8) == (reason is None)  # 41/51 = 0.804; 40/51 = 0.784
    assert quality_drop_reason(" ".join(words), only(min_alphabetic_words_ratio=0.8)) == reason


@pytest.mark.parametrize(
    "text, reason",
    [
        ("The cat sat ON THE mat, of course.", None),  # "the" and "of"
        ("The cat sat on the mat: the end.", "gopher_stop_words"),  # "the" three times: one word
        ("Thee, theory, tooth.", "gopher_stop_words"),  # not a stop word inside another
        ("To be.", None),
    ],
)
def test_stop_words_counts_different_words(text, reason):
    assert quality_drop_reason(text, only(min_stop_words=2)) == reason


@pytest.mark.parametrize(
    "repeats, short, reason",
    [
        (3, True, None),  # 3/10 lines repeat: 0.3 is not above 0.3
        (4, True, "gopher_duplicate_lines"),  # 4/10
        (2, False, None),  # 2/10 long lines: 72/360 characters, 0.2
        (3, False, "gopher_duplicate_lines"),  # 3/10 lines, but 108/360 characters
    ],
)
def test_duplicate_lines(repeats, short, reason):
    lines = lines_of(10 - repeats, words=6)
    if short:
        lines[-1] = "Home."
    lines += [lines[-1]] * repeats  # 10 lines, ``repeats`` of them a copy of an earlier one
    text = "\n".join(lines)
    chars = sum(len(line) for line in lines)
    repeated_chars = sum(len(line) for i, line in enumerate(lines) if line in lines[:i])
    assert sum(line in lines[:i] for i, line in enumerate(lines)) == repeats
    assert repeated_chars / chars == (repeats * 5 if short else repeats * 36) / chars
    settings = only(max_duplicate_lines_ratio=0.3, max_duplicate_line_chars_ratio=0.2)
    assert quality_drop_reason(text, settings) == reason


def test_duplicate_paragraphs():
    paragraphs = [" ".join(lines_of(3))] + lines_of(6, words=8)
    settings = only(max_duplicate_paragraphs_ratio=0.3, max_duplicate_paragraph_chars_ratio=0.2)

    def check(copies, separator, repeated, characters, reason):
        items = paragraphs + copies
        again = [p for i, p in enumerate(items) if p in items[:i]]
        assert (len(again), len(items)) == repeated  # share: 0.3 at most
        assert (sum(map(len, again)), sum(map(len, items))) == characters  # 0.2 at most
        assert quality_drop_reason(separator.join(items), settings) == reason

    check(["Share this page."] * 3, "\n\n", (2, 10), (32, 410), None)
    check(["Share this page."] * 4, "\n\n", (3, 11), (48, 426), None)
    check(["Share this page."] * 5, "\n  \n", (4, 12), (64, 442), "gopher_duplicate_paragraphs")
    check([paragraphs[0]] * 2, "\n\n", (2, 9), (148, 510), "gopher_duplicate_paragraphs")


def reference_top_ratio(words, n):
    """Gopher's top n-gram character fraction, from table A1's definition."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    gram, count = collections.Counter(grams).most_common(1)[0]
    return count * sum(map(len, gram)) / sum(map(len, words)) if count > 1 else 0.0


@pytest.mark.parametrize("occurrences, reason", [(10, None), (11, "gopher_top_ngrams")])
def test_top_2gram(occurrences, reason):
    words = distinct_words(100 - 2 * occurrences, length=4)  # 100 words of 4 letters
    for i in range(occurrences):
        words[i * 7 : i * 7] = ["buyy", "noww"]
    ratio = reference_top_ratio(words, 2)
    assert ratio == occurrences * 8 / 400  # 0.2 then 0.22
    assert top_ngram_chars_ratio(words, 2) == ratio
    assert quality_drop_reason(" ".join(words), only(top_ngram_chars_ratios=((2, 0.2),))) == (
        reason
    )


def test_top_ngram_ignores_ngrams_seen_once():
    words = distinct_words(10)
    assert top_ngram_chars_ratio(words, 2) == reference_top_ratio(words, 2) == 0.0
    assert top_ngram_chars_ratio([], 2) == 0.0


def reference_repeated_ratio(words, n):
    """Gopher's duplicate n-gram character fraction: the characters of every word inside some
    occurrence of an n-gram that occurs more than once, each word counted once."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = collections.Counter(grams)
    inside = {i + k for i, g in enumerate(grams) if counts[g] > 1 for k in range(n)}
    return sum(len(words[i]) for i in inside) / sum(map(len, words))


@pytest.mark.parametrize("occurrences, reason", [(3, None), (4, "gopher_repeated_ngrams")])
def test_repeated_5grams(occurrences, reason):
    words = distinct_words(100 - 5 * occurrences, length=4)
    for i in range(occurrences):
        words[i * 9 : i * 9] = ["aaaa", "bbbb", "cccc", "dddd", "eeee"]
    ratio = reference_repeated_ratio(words, 5)
    assert ratio == occurrences * 20 / 400  # 0.15, then 0.2
    assert repeated_ngram_chars_ratio(words, 5) == ratio
    settings = only(repeated_ngram_chars_ratios=((5, 0.15),))
    assert quality_drop_reason(" ".join(words), settings) == reason


def test_overlapping_repeated_ngrams_count_each_word_once():
    words = ["ab"] * 7 + ["xyz"]  # the 5-gram "ab ab ab ab ab" at 0, 1 and 2
    assert repeated_ngram_chars_ratio(words, 5) == reference_repeated_ratio(words, 5) == 14 / 17
    words = distinct_words(30) + distinct_words(7) + distinct_words(40)[30:]  # a 7-word echo
    for n in range(5, 11):
        assert repeated_ngram_chars_ratio(words, n) == pytest.approx(
            reference_repeated_ratio(words, n)
        )


@pytest.mark.parametrize(
    "extra, reason",
    [
        ("It closed at noon.", None),  # the 5th sentence
        ("Please enable JavaScript to see the map.", "c4_too_few_sentences"),
        ("Closed at noon", "c4_too_few_sentences"),  # no terminal punctuation
        ("It closed...", "c4_too_few_sentences"),  # an ellipsis
        ("Closed!", "c4_too_few_sentences"),  # fewer than 3 words
        ('He said "it closed at noon."', None),
    ],
)
def test_c4_sentences_in_the_lines_c4_keeps(extra, reason):
    text = "Menu | Home | Shop\nThe shop opened at nine. It was busy.\nWe sold ten books today!\n"
    text += "Was it a good day?\n" + extra
    assert quality_drop_reason(text, only(c4_min_sentences=5)) == reason
    assert len(c4_lines(text)) == 4 - (reason is not None)  # the menu line is never kept


def test_c4_page_rules():
    settings = only(c4_lorem_ipsum=True, c4_curly_bracket=True)
    assert quality_drop_reason("Lorem Ipsum dolor sit amet.", settings) == "c4_lorem_ipsum"
    assert quality_drop_reason("lorem, ipsum.", settings) is None
    assert quality_drop_reason("function f() { return 1; }", settings) == "c4_curly_bracket"
    assert quality_drop_reason("a set} closed", settings) is None  # only "{" counts


def test_the_first_failing_rule_is_the_reason():
    text = "Lorem ipsum { #"
    assert failed_rules(text) == [
        "gopher_word_count",
        "gopher_symbol_ratio",
        "gopher_stop_words",
        "c4_too_few_sentences",
        "c4_lorem_ipsum",
        "c4_curly_bracket",
    ]
    assert quality_drop_reason(text) == "gopher_word_count"
    assert quality_drop_reason(text, dataclasses.replace(QualitySettings(), min_words=None)) == (
        "gopher_symbol_ratio"
    )


def test_settings_round_trip_through_json_and_name_bad_values():
    import json

    settings = QualitySettings(min_words=20, top_ngram_chars_ratios=((2, 0.3),))
    again = QualitySettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings
    for kwargs, message in [
        ({"min_words": -1}, "min_words=-1 must be a whole number >= 0"),
        ({"min_words": 2.5}, "min_words=2.5 must be a whole number >= 0"),
        (
            {"max_bullet_lines_ratio": 1.5},
            "max_bullet_lines_ratio=1.5 must be a number >= 0 and <= 1.0 (None switches it off)",
        ),
        ({"min_words": 60, "max_words": 50}, "min_words=60 is above max_words=50"),
        (
            {"repeated_ngram_chars_ratios": ((0, 0.1),)},
            "repeated_ngram_chars_ratios holds (0, 0.1)",
        ),
        ({"c4_min_words_per_line": None}, "c4_min_words_per_line=None must be a whole number"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            QualitySettings(**kwargs)
    with pytest.raises(ValueError, match="Unknown QualitySettings field"):
        QualitySettings.from_dict({"min_word": 3})


def test_doctests():
    assert doctest.testmod(quality).failed == 0


@pytest.fixture(scope="module")
def paragraphs(data_dir):
    """A quarter of the Gutenberg Shakespeare's paragraphs (every 4th: 9,726 of 38,901)."""
    path = corpus_path("shakespeare_gutenberg", data_dir)
    return list(itertools.islice(read_documents(path, "paragraph"), 0, None, 4))


def test_drops_on_the_gutenberg_shakespeare_are_consistent(paragraphs):
    """Each paragraph is dropped for its first failing rule; a rule switched off keeps exactly
    the paragraphs that failed it alone; the word count rule agrees with a count made here."""
    first = collections.Counter(quality_drop_reason(p) for p in paragraphs)
    failing = [failed_rules(p) for p in paragraphs]
    assert first == collections.Counter(rules[0] if rules else None for rules in failing)
    assert sum(first.values()) == len(paragraphs) == 9_726
    alone = collections.Counter(rule for rules in failing for rule in rules)
    assert all(first[rule] <= alone[rule] for rule in QUALITY_REASONS)

    # Shakespeare is verse and dialogue, not web pages: most speeches are under 50 words and
    # their lines end in commas, so C4's 5 sentences and Gopher's 50 words drop almost all.
    short = sum(len(reference_words(p)) < 50 for p in paragraphs)
    assert first["gopher_word_count"] == alone["gopher_word_count"] == short
    assert short / len(paragraphs) > 0.8 and first[None] / len(paragraphs) < 0.05

    for rule, setting in [
        ("c4_too_few_sentences", {"c4_min_sentences": None}),
        ("gopher_stop_words", {"min_stop_words": None}),
    ]:
        relaxed = QualitySettings(**setting)
        kept = sum(quality_drop_reason(p, relaxed) is None for p in paragraphs)
        assert kept - first[None] == sum(rules == [rule] for rules in failing)
