"""Normalisation, filters, deduplication and the report, on a small corpus with known counts."""

import itertools
import re
import unicodedata

import pytest

from llm_keras.data import DROP_REASONS, CleaningReport, clean_documents, normalize_text

COMPOSED, DECOMPOSED = "caf\u00e9", "cafe\u0301"  # both print as "café"

# Each document's fate with OPTIONS (and NFC):
CORPUS = [
    "To be, or not to be",      # kept
    "",                         # empty
    "   \t ",                   # empty: whitespace only
    " .",                       # near_empty: 1 non-whitespace character < 2
    COMPOSED,                   # kept: 4 characters, exactly min_chars
    DECOMPOSED,                 # duplicate: NFC makes it COMPOSED (normalised)
    "abc",                      # too_short: 3 < 4
    "x" * 40,                   # kept: exactly max_chars
    "x" * 41,                   # too_long
    "To be, or not to be",      # duplicate
    "line one\r\nline two",     # kept as "line one\nline two" (normalised)
    "line one\nline two",       # duplicate
    "\ufb01ne day",             # kept: NFC keeps the ligature "ﬁ"
]
OPTIONS = {"min_nonspace_chars": 2, "min_chars": 4, "max_chars": 40}


def _clean(documents, **options):
    report = CleaningReport()
    return list(clean_documents(documents, report=report, **options)), report


def test_normalize_text_unicode_forms():
    assert len(COMPOSED) == 4 and len(DECOMPOSED) == 5 and COMPOSED != DECOMPOSED
    assert normalize_text(DECOMPOSED) == COMPOSED
    assert normalize_text(COMPOSED) == COMPOSED
    assert normalize_text(DECOMPOSED, None) == DECOMPOSED
    assert normalize_text("\ufb01ne \uff21\u00b2") == "\ufb01ne \uff21\u00b2"  # NFC: unchanged
    assert normalize_text("\ufb01ne \uff21\u00b2", "NFKC") == "fine A2"


def test_normalize_text_line_ends():
    assert normalize_text("a\r\nb\rc\nd\r\n") == "a\nb\nc\nd\n"
    assert normalize_text("\r\r\n\n", None) == "\n\n\n"  # a lone "\r", then "\r\n", then "\n"


def test_exact_counts_on_a_small_corpus():
    kept, report = _clean(CORPUS, **OPTIONS)
    assert kept == ["To be, or not to be", COMPOSED, "x" * 40, "line one\nline two",
                    "\ufb01ne day"]
    assert report.dropped == {"empty": 2, "near_empty": 1, "too_short": 1, "too_long": 1,
                              "duplicate": 3}
    assert (report.documents_seen, report.documents_kept, report.documents_dropped) == (13, 5, 8)
    assert report.documents_normalized == 2
    assert (report.characters_in, report.characters_out) == (180, 87)
    assert str(report) == (
        "kept 5 of 13 documents (38.5%), 87 of 180 characters (48.3%)\n"
        "normalisation changed 2 documents\n"
        "dropped 8 documents:\n"
        "  empty               2\n"
        "  near_empty          1\n"
        "  too_short           1\n"
        "  too_long            1\n"
        "  duplicate           3"
    )


def test_unicode_form_decides_what_counts_as_a_duplicate():
    kept, report = _clean(CORPUS, unicode_form=None, **OPTIONS)
    assert DECOMPOSED in kept and COMPOSED in kept  # two spellings of "café" both kept
    assert report.dropped["duplicate"] == 2 and report.documents_normalized == 1  # only "\r\n"

    kept, report = _clean(CORPUS, unicode_form="NFKC", **OPTIONS)
    assert kept[-1] == "fine day" and report.documents_normalized == 3
    assert report.characters_out == 88


def test_defaults_drop_only_empty_documents_and_duplicates():
    kept, report = _clean(CORPUS)
    assert len(kept) == 8 and "x" * 41 in kept and " ." in kept and "abc" in kept
    assert report.dropped == {"empty": 2, "near_empty": 0, "too_short": 0, "too_long": 0,
                              "duplicate": 3}


def test_switching_filters_off_keeps_everything():
    kept, report = _clean(CORPUS, min_nonspace_chars=0, deduplicate=False)
    assert kept == [unicodedata.normalize("NFC", d.replace("\r\n", "\n")) for d in CORPUS]
    assert report.documents_dropped == 0 and report.documents_kept == 13


def test_near_empty_counts_non_whitespace_characters():
    kept, report = _clean(["a b", "a\u3000b", " a ", "\u00a0\u2003"], min_nonspace_chars=2)
    assert kept == ["a b", "a\u3000b"]  # U+3000 ideographic space is whitespace too
    assert report.dropped["near_empty"] == 1 and report.dropped["empty"] == 1  # U+00A0, U+2003


def test_cleaning_is_lazy():
    endless = (f"document {i % 3}" for i in itertools.count())
    report = CleaningReport()
    first = list(itertools.islice(clean_documents(endless, report=report), 3))
    assert first == ["document 0", "document 1", "document 2"]
    assert report.documents_seen == 3


def test_an_empty_report_reads_well():
    assert str(CleaningReport()).startswith("kept 0 of 0 documents (-), 0 of 0 characters (-)")
    assert list(CleaningReport().dropped) == list(DROP_REASONS)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_chars": -1}, "min_chars=-1 must be a whole number >= 0."),
        ({"min_nonspace_chars": 1.5}, "min_nonspace_chars=1.5 must be a whole number >= 0."),
        ({"max_chars": True}, "max_chars=True must be a whole number >= 0."),
        ({"min_chars": 10, "max_chars": 5}, "max_chars=5 is smaller than min_chars=10"),
        ({"unicode_form": "NFD"}, "unicode_form='NFD' is not one of ('NFC', 'NFKC', None)"),
    ],
)
def test_bad_options_are_named_at_once(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        clean_documents([], **options)  # raised by the call, before any document is read


def test_bad_form_and_a_single_string():
    with pytest.raises(ValueError, match="unicode_form='nfc'"):
        normalize_text("x", "nfc")
    with pytest.raises(TypeError, match="not one str: pass \\[text\\]"):
        clean_documents("To be, or not to be")
