"""The character n-gram naive Bayes language identifier: equal to the formula written out here,
its accuracy on held-out sentences, English against not English on the Gutenberg Shakespeare."""

import collections
import doctest
import math
import re

import pytest

from llm_keras.data import language as language_module
from llm_keras.data.corpora import corpus_path
from llm_keras.data.language import (
    LanguageIdentifier,
    LanguageSettings,
    char_ngrams,
    language_drop_reason,
    load_language_sample,
)
from llm_keras.data.streaming import read_documents

LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pt")


def test_the_shipped_sample():
    sentences, languages = load_language_sample()
    assert collections.Counter(languages) == dict.fromkeys(LANGUAGES, 45)
    assert LanguageIdentifier().languages == LANGUAGES
    first = {lang: s for s, lang in zip(sentences, languages) if s.startswith(("All ", "Alle "))}
    assert first["en"] == "All human beings are born free and equal in dignity and rights."


def test_probabilities_equal_naive_bayes_written_out():
    """P(l | text) from the formula, with dictionaries and math.log, on a tiny training set."""
    sentences = ["the cat", "a hat", "le chat", "la chatte", "un chat"]
    labels = ["en", "en", "fr", "fr", "fr"]
    alpha, n_max = 0.5, 2
    model = LanguageIdentifier(sentences, labels, n_max=n_max, alpha=alpha)

    def grams(text):  # " text " padded, every 1- and 2-gram
        text = " " + " ".join(text.lower().split()) + " "
        return [text[i : i + n] for n in (1, 2) for i in range(len(text) - n + 1)]

    counts = {lang: collections.Counter() for lang in ("en", "fr")}
    for sentence, lang in zip(sentences, labels):
        counts[lang].update(grams(sentence))
    vocabulary = set(counts["en"]) | set(counts["fr"])
    text = "The  CHAT!"
    log_posterior = {}
    for lang in ("en", "fr"):
        total = sum(counts[lang].values()) + alpha * len(vocabulary)
        log_posterior[lang] = math.log(labels.count(lang) / len(labels)) + sum(
            math.log((counts[lang][g] + alpha) / total) for g in grams(text) if g in vocabulary
        )  # "!" and "t!" were never seen: skipped
    top = max(log_posterior.values())
    unnormalised = {lang: math.exp(v - top) for lang, v in log_posterior.items()}
    expected = {lang: v / sum(unnormalised.values()) for lang, v in unnormalised.items()}

    assert len(model.vocabulary) == len(vocabulary)
    assert model.probabilities(text) == pytest.approx(expected, rel=1e-12)
    assert model.predict(text) == (
        max(expected, key=expected.get),
        pytest.approx(max(expected.values())),
    )


def test_char_ngrams():
    assert char_ngrams("ab", n_max=3) == {
        " ": 2,
        "a": 1,
        "b": 1,
        " a": 1,
        "ab": 1,
        "b ": 1,
        " ab": 1,
        "ab ": 1,
    }
    assert char_ngrams("A\n\tB", n_max=1) == {" ": 3, "a": 1, "b": 1}
    assert char_ngrams("abcdef", n_max=1, max_chars=2) == {" ": 2, "a": 1, "b": 1}


@pytest.fixture(scope="module")
def held_out():
    """Every 5th sentence of each language held out (63), the rest (252) for training."""
    sentences, languages = load_language_sample()
    pairs = list(zip(sentences, languages))
    train = [pair for i, pair in enumerate(pairs) if i % 5]
    test = [pair for i, pair in enumerate(pairs) if i % 5 == 0]
    return train, test


def accuracy(model, pairs):
    return sum(model.predict(s)[0] == lang for s, lang in pairs) / len(pairs)


def test_accuracy_on_held_out_sentences(held_out):
    train, test = held_out
    assert len(test) == 63 and collections.Counter(lang for _, lang in test)["en"] == 9
    trigrams = LanguageIdentifier(*zip(*train), n_max=3)
    unigrams = LanguageIdentifier(*zip(*train), n_max=1)
    # Measured: 63 of 63 with n-grams up to 3 (up to 2 and up to 4 too); letters alone (n = 1)
    # confuse Spanish, Portuguese and Italian, English and Dutch: 56 or 57 of 63.
    assert accuracy(trigrams, test) >= 0.95
    assert accuracy(unigrams, test) < accuracy(trigrams, test)
    # English against not English: no held-out sentence in another language is called English.
    assert all(trigrams.predict(s)[0] != "en" for s, lang in test if lang != "en")


@pytest.fixture(scope="module")
def shakespeare(data_dir):
    """Every 20th paragraph of the Gutenberg Shakespeare (1,946), and one in French."""
    path = corpus_path("shakespeare_gutenberg", data_dir)
    paragraphs = list(read_documents(path, "paragraph"))
    french = next(p for p in paragraphs if "Laissez, mon seigneur, laissez" in p)
    return paragraphs[::20], french


def test_english_against_not_english_on_shakespeare(shakespeare):
    paragraphs, french = shakespeare
    model = LanguageIdentifier()

    def english_share(texts):
        return sum(model.predict(t)[0] == "en" for t in texts) / len(texts)

    by_length = collections.defaultdict(list)
    for p in paragraphs:
        words = len(p.split())
        by_length["< 5" if words < 5 else "5-19" if words < 20 else ">= 20"].append(p)
    assert len(by_length[">= 20"]) > 600
    # Long paragraphs: English (measured: all but one, 626 of 627); short ones, a speaker's
    # name and "Ay, sir." or a stage direction, are often not (measured: 41 % of < 5 words).
    assert english_share(by_length[">= 20"]) > 0.99
    assert english_share(by_length["5-19"]) > 0.9
    assert english_share(by_length["< 5"]) < 0.6
    assert model.predict(french)[0] == "fr"  # Henry V, act 3 scene 4: Katharine's French


def test_language_drop_reason():
    english = "The boat left the harbour before dawn, and the gulls followed it out to sea."
    french = "Le bateau a quitté le port avant l'aube, et les mouettes l'ont suivi."
    assert language_drop_reason(english) is None
    assert language_drop_reason(french) == "language"
    assert language_drop_reason(french, LanguageSettings(keep_languages=("en", "fr"))) is None
    # Digits were never seen in training, only the spaces around them: near the prior, 1/7
    # each (measured: 0.16), under the minimum score 0.5, whatever the top language.
    _, score = LanguageIdentifier().predict("12345 67890")
    assert 1 / 7 <= score < 0.2
    assert language_drop_reason("12345 67890", LanguageSettings(keep_languages=LANGUAGES)) == (
        "language"
    )
    assert (
        language_drop_reason(
            "12345 67890", LanguageSettings(keep_languages=LANGUAGES, min_score=0.0)
        )
        is None
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: LanguageIdentifier(["a"]), "Pass both sentences and languages"),
        (lambda: LanguageIdentifier(["a", "b"], ["en"]), "got 2 sentences and 1 languages"),
        (lambda: LanguageIdentifier(n_max=0), "n_max=0 must be a whole number >= 1"),
        (lambda: LanguageIdentifier(alpha=0), "alpha=0 must be > 0"),
        (lambda: LanguageSettings(keep_languages=()), "keep_languages=() must name at least"),
        (lambda: LanguageSettings(min_score=2), "min_score=2 must be a probability in [0, 1]"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_a_bad_sample_file_names_its_line(tmp_path):
    path = tmp_path / "sample.tsv"
    path.write_text("# comment\nen\tHello there.\nfr Bonjour.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("sample.tsv, line 3: expected")):
        load_language_sample(path)
    path.write_text("# comment\n\nen\tHello there.\nfr\tBonjour.\n", encoding="utf-8")
    assert load_language_sample(path) == (["Hello there.", "Bonjour."], ["en", "fr"])


def test_doctests():
    assert doctest.testmod(language_module).failed == 0


def test_settings_round_trip():
    settings = LanguageSettings(keep_languages=["en", "nl"], min_score=0.9)
    assert LanguageSettings.from_dict(settings.to_dict()) == settings
    assert settings.keep_languages == ("en", "nl")
