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
        "  reason      documents   characters\n"
        "  empty               2            5\n"
        "  near_empty          1            2\n"
        "  too_short           1            3\n"
        "  too_long            1           41\n"
        "  duplicate           3           41"
    )
    # As read: "" and "   \t " (0 + 5); " ."; "abc"; 41 x's; DECOMPOSED, "To be, or not to be"
    # and "line one\nline two" (5 + 19 + 17).
    assert report.characters_dropped == {"empty": 5, "near_empty": 2, "too_short": 3,
                                         "too_long": 41, "duplicate": 41}
    assert report.characters_in - sum(report.characters_dropped.values()) == 19 + 4 + 40 + 18 + 7


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


# --- The quality, language and PII steps (week 1, "Data: from the web to token shards") ------

PAGE = (  # 86 words, 7 sentences: passes every Gopher and C4 rule
    "The river flooded the lower town twice this spring, and the council has now agreed to "
    "build a wall.\nEngineers from the county surveyed both banks in March.\nTheir report, "
    "published on Tuesday, puts the cost at four million pounds.\nResidents who lost furniture "
    "and cars say that help came too slowly. Many are still waiting.\nThe work should begin in "
    "the autumn, once the water is low enough to dig safely.\nA public meeting with the "
    "engineers will be held at the library next week."
)
FRENCH_PAGE = (  # the same page in French
    "La rivière a inondé deux fois la ville basse ce printemps, et le conseil a enfin accepté "
    "de construire un mur.\nLes ingénieurs du département ont examiné les deux rives en mars.\n"
    "Leur rapport, publié mardi, estime le coût à quatre millions de livres.\nLes habitants "
    "qui ont perdu leurs meubles et leurs voitures disent que l'aide est arrivée trop tard. "
    "Beaucoup attendent encore.\nLes travaux devraient commencer à l'automne, quand l'eau sera "
    "assez basse pour creuser.\nUne réunion publique avec les ingénieurs aura lieu à la "
    "bibliothèque la semaine prochaine."
)


def test_quality_language_and_pii_steps():
    from llm_keras.data.language import LanguageSettings
    from llm_keras.data.quality import QUALITY_REASONS, QualitySettings, quality_drop_reason

    contact = PAGE + "\nWrite to the clerk at clerk@example.org or call (212) 555-0123 today."
    documents = [PAGE, "Buy now!", FRENCH_PAGE, "Buy now!", PAGE, contact, "", "Lorem ipsum {"]
    # Gopher's stop words are English: that rule alone would drop the French page, before the
    # language filter sees it; it is off here, so that the language filter has work to do.
    assert quality_drop_reason(FRENCH_PAGE) == "gopher_stop_words"
    report = CleaningReport()
    quality = QualitySettings(min_stop_words=None)
    kept = list(clean_documents(documents, quality=quality, language=LanguageSettings(),
                                scrub_pii=True, report=report))
    scrubbed = PAGE + "\nWrite to the clerk at <EMAIL> or call <PHONE> today."
    assert kept == [PAGE, scrubbed]
    # The reasons: the length filters and dedup, then every quality rule, then language.
    assert list(report.dropped) == [*DROP_REASONS, *QUALITY_REASONS, "language"]
    assert {r: n for r, n in report.dropped.items() if n} == {
        "empty": 1,
        "duplicate": 2,  # the second "Buy now!" (dedup comes before quality) and PAGE again
        "gopher_word_count": 2,  # "Buy now!" (2 words) and "Lorem ipsum {" (2 words)
        "language": 1,
    }
    assert {r: n for r, n in report.characters_dropped.items() if n} == {
        "duplicate": 8 + len(PAGE), "gopher_word_count": 8 + 13, "language": len(FRENCH_PAGE),
    }
    assert report.pii_replaced == {"<EMAIL>": 1, "<PHONE>": 1}
    assert report.documents_scrubbed == 1
    assert report.characters_out == len(PAGE) + len(scrubbed)
    assert report.characters_in == sum(map(len, documents))
    assert str(report).splitlines()[-1] == "PII replaced in 1 documents: 1 <EMAIL>, 1 <PHONE>"
    assert re.search(r"^  gopher_word_count +2 +21$", str(report), re.MULTILINE)


def test_each_new_step_alone_and_its_settings():
    from llm_keras.data.language import LanguageSettings
    from llm_keras.data.quality import QualitySettings

    documents = [PAGE, FRENCH_PAGE, "Lorem ipsum dolor sit amet."]
    kept, report = _clean(documents, language=LanguageSettings(keep_languages=("fr",)))
    assert kept == [FRENCH_PAGE] and report.dropped["language"] == 2
    kept, report = _clean(documents, quality=QualitySettings(min_words=3, c4_min_sentences=1,
                                                             min_stop_words=0))
    assert kept == [PAGE, FRENCH_PAGE] and report.dropped["c4_lorem_ipsum"] == 1
    kept, report = _clean(["call +44 20 7946 0958, or +44 20 7946 0959"], scrub_pii=True)
    assert kept == ["call <PHONE>, or <PHONE>"] and report.pii_replaced == {"<PHONE>": 2}
    with pytest.raises(TypeError, match="quality=True must be a QualitySettings"):
        clean_documents([], quality=True)
    with pytest.raises(TypeError, match="language='en' must be a LanguageSettings"):
        clean_documents([], language="en")


def test_clean_file_takes_the_new_steps(tmp_path):
    from llm_keras.data import clean_file
    from llm_keras.data.quality import QualitySettings

    raw = tmp_path / "raw.txt"
    raw.write_text("\n\n".join([PAGE, "Menu", PAGE.replace("March", "May")]), encoding="utf-8")
    report = clean_file(raw, tmp_path / "clean.txt", unit="paragraph", progress=False,
                        quality=QualitySettings())
    assert report.dropped["gopher_word_count"] == 1 and report.documents_kept == 2
    assert (tmp_path / "clean.txt").read_text(encoding="utf-8") == (
        PAGE + "\n\n" + PAGE.replace("March", "May") + "\n")
