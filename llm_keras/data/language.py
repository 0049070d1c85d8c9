"""Language identification: naive Bayes over character n-grams, trained by the course (week 1, "Data: from the web to token shards").

A crawl holds every language; an English corpus keeps the pages in English. CCNet, C4 and
FineWeb ask fastText's classifier, trained on Wikipedia in 176 languages. The idea fits in a
page: the letter groups of a text say its language ("th", "the", "ing" in English; "ij", "sch"
in Dutch; "ção", "ão" in Portuguese), and a multinomial naive Bayes classifier (Cavnar and
Trenkle 1994 used n-gram ranks; langid.py, Lui and Baldwin 2012, naive Bayes) turns their counts
into probabilities:

1. Features: the text lowercased, runs of whitespace made one space, a space added at each end
   (so "the" as a word gives " th" and "he "), then every character n-gram for n = 1 to
   ``n_max`` (3), counted.
2. Training: for each language ``l``, the n-gram counts of its sentences summed,
   ``count[l, g]``; with Lidstone smoothing ``alpha``,
   ``P(g | l) = (count[l, g] + alpha) / (sum_g' count[l, g'] + alpha * V)``, ``V`` the number of
   n-grams seen in training; and ``P(l)``, the share of training sentences in ``l``.
3. Prediction: ``log P(l) + sum_g c_g log P(g | l)`` over the text's n-grams ``g`` seen in
   training (``c_g`` its count; n-grams never seen are skipped), then a softmax over languages:
   the score is the top language's posterior probability. It is over-confident on long texts
   (each n-gram is treated as independent evidence); a text whose n-grams were not seen in
   training (digits, another script) gets about the prior, 1/7, so a minimum score drops it.

The shipped sample (``samples/languages.tsv``) is 45 sentences in each of English, French,
German, Spanish, Italian, Dutch and Portuguese, the same sentences in every language so that
only the language differs; the tests measure the accuracy on held-out sentences and on the
Gutenberg Shakespeare. ``language_drop_reason`` is the ``language`` filter of the cleaning:
a document is dropped when its top language is not one of ``keep_languages`` or its score is
below ``min_score``.

Example:
    >>> identifier = LanguageIdentifier()
    >>> identifier.predict("The weather was fine and we walked to the harbour.")[0]
    'en'
    >>> identifier.predict("Il faisait beau et nous sommes allés au port.")[0]
    'fr'
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from llm_keras.config_dict import ConfigDict

SAMPLE_PATH = Path(__file__).parent / "samples" / "languages.tsv"
DROP_REASON = "language"
_SPACES = re.compile(r"\s+")


def load_language_sample(path: str | Path = SAMPLE_PATH) -> tuple[list[str], list[str]]:
    """The labelled sentences of a ``language<TAB>sentence`` file (``#`` lines are comments).

    Returns:
        ``(sentences, languages)``, two lists of the same length, in the file's order.
    """
    sentences, languages = [], []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        language, tab, sentence = line.partition("\t")
        if not tab or not sentence.strip():
            raise ValueError(
                f"{path}, line {number}: expected 'language<TAB>sentence', got {line!r}."
            )
        sentences.append(sentence)
        languages.append(language)
    return sentences, languages


def char_ngrams(text: str, n_max: int = 3, max_chars: int | None = None) -> Counter:
    """The character n-grams of ``text``, n = 1 to ``n_max``, counted.

    Args:
        text: any text; lowercased, whitespace runs made one space, a space at each end.
        n_max: the longest n-gram.
        max_chars: look only at the first ``max_chars`` characters (``None``: all).

    Example:
        >>> sorted(char_ngrams("Oh", n_max=2).items())
        [(' ', 2), (' o', 1), ('h', 1), ('h ', 1), ('o', 1), ('oh', 1)]
    """
    text = " " + _SPACES.sub(" ", text[:max_chars].lower()).strip() + " "
    return Counter(text[i : i + n] for n in range(1, n_max + 1) for i in range(len(text) - n + 1))


class LanguageIdentifier:
    """Multinomial naive Bayes over character n-grams (see the module's docstring).

    Args:
        sentences, languages: the training data, one language code per sentence; both
            ``None``: the shipped sample (``SAMPLE_PATH``).
        n_max: the longest character n-gram (3).
        alpha: Lidstone smoothing added to every n-gram count (0.5).
        max_chars: characters of a text read by ``predict`` (the first 10,000; enough to
            tell the language, and a whole book is not read).

    Attributes:
        languages: the language codes, sorted: ``(L,)``.
        vocabulary: n-gram -> column of ``log_likelihood``: ``V`` n-grams.
        log_prior: ``(L,)`` log P(language).
        log_likelihood: ``(L, V)`` log P(n-gram | language).
    """

    def __init__(
        self,
        sentences: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
        *,
        n_max: int = 3,
        alpha: float = 0.5,
        max_chars: int | None = 10_000,
    ):
        if (sentences is None) != (languages is None):
            raise ValueError(
                "Pass both sentences and languages (one language per sentence), or neither "
                "to train on the shipped sample."
            )
        if sentences is None:
            sentences, languages = load_language_sample()
        if isinstance(sentences, str) or len(sentences) != len(languages) or not sentences:
            raise ValueError(
                f"sentences and languages must be two lists of the same, non-zero length "
                f"(got {len(sentences)} sentences and {len(languages)} languages)."
            )
        if isinstance(n_max, bool) or not isinstance(n_max, int) or n_max < 1:
            raise ValueError(f"n_max={n_max!r} must be a whole number >= 1 (3 is usual).")
        if not alpha > 0:
            raise ValueError(f"alpha={alpha!r} must be > 0 (0.5 is usual).")
        self.n_max, self.alpha, self.max_chars = n_max, alpha, max_chars
        self.languages = tuple(sorted(set(languages)))
        row = {language: i for i, language in enumerate(self.languages)}
        counts = [Counter() for _ in self.languages]
        for sentence, language in zip(sentences, languages):
            counts[row[language]].update(char_ngrams(sentence, n_max))
        self.vocabulary = {g: j for j, g in enumerate(sorted(set().union(*counts)))}
        table = np.zeros((len(self.languages), len(self.vocabulary)))  # (L, V)
        for i, counter in enumerate(counts):
            table[i, [self.vocabulary[g] for g in counter]] = list(counter.values())
        smoothed = table + alpha
        self.log_likelihood = np.log(smoothed / smoothed.sum(axis=1, keepdims=True))
        sentences_per_language = np.bincount([row[lang] for lang in languages])
        self.log_prior = np.log(sentences_per_language / len(languages))

    def probabilities(self, text: str) -> dict[str, float]:
        """P(language | text) for every language, summing to 1."""
        grams = char_ngrams(text, self.n_max, self.max_chars)
        known = [(self.vocabulary[g], c) for g, c in grams.items() if g in self.vocabulary]
        scores = self.log_prior.copy()  # (L,)
        if known:
            columns, counts = map(np.array, zip(*known))
            scores += self.log_likelihood[:, columns] @ counts
        posterior = np.exp(scores - scores.max())
        posterior /= posterior.sum()
        return dict(zip(self.languages, posterior.tolist()))

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely language of ``text`` and its probability (the score)."""
        probabilities = self.probabilities(text)
        language = max(probabilities, key=probabilities.get)
        return language, probabilities[language]


@dataclasses.dataclass
class LanguageSettings(ConfigDict):
    """What the ``language`` filter keeps.

    Args:
        keep_languages: the language codes to keep (``("en",)``).
        min_score: the top language's probability a document needs (0.5): lower, it is
            dropped even in a kept language (too short or mixed to tell).
    """

    keep_languages: tuple[str, ...] = ("en",)
    min_score: float = 0.5

    def __post_init__(self):
        self.keep_languages = tuple(self.keep_languages)  # a list when read back from JSON
        if not self.keep_languages or not all(
            isinstance(code, str) and code for code in self.keep_languages
        ):
            raise ValueError(
                f"keep_languages={self.keep_languages!r} must name at least one language code, "
                f"such as ('en',)."
            )
        if isinstance(self.min_score, bool) or not (
            isinstance(self.min_score, (int, float)) and 0 <= self.min_score <= 1
        ):
            raise ValueError(f"min_score={self.min_score!r} must be a probability in [0, 1].")


def language_drop_reason(
    text: str,
    settings: LanguageSettings | None = None,
    identifier: LanguageIdentifier | None = None,
) -> str | None:
    """``"language"`` when ``text`` should be dropped, else ``None``.

    Args:
        text: one document.
        settings: the languages to keep and the minimum score (``LanguageSettings()``: English,
            0.5).
        identifier: the classifier; ``None``: one trained on the shipped sample (made once).
    """
    settings = LanguageSettings() if settings is None else settings
    identifier = shipped_identifier() if identifier is None else identifier
    language, score = identifier.predict(text)
    keep = language in settings.keep_languages and score >= settings.min_score
    return None if keep else DROP_REASON


@lru_cache(maxsize=1)
def shipped_identifier() -> LanguageIdentifier:
    """A ``LanguageIdentifier`` trained on the shipped sample, made on first use and kept."""
    return LanguageIdentifier()
