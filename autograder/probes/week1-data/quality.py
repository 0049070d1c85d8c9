"""Probe for week 1 (data curation), exercise 6: ``repeated_ngram_chars_ratio(words, n)`` and
``fails_repeated_ngrams(words, limits)``, Gopher's repetition rule (Rae et al. 2021, table A1):
the share of the word characters inside word n-grams that occur twice or more, each word counted
once, and whether any ``(n, most)`` of ``limits`` has a share above ``most``. The references are
``llm_keras.data.quality.repeated_ngram_chars_ratio`` and the rule ``gopher_repeated_ngrams`` of
``llm_keras.data.quality.failed_rules``.

Words are drawn from a small vocabulary for the shares (so that n-grams repeat and overlap), and
from unique words with a passage copied in for the rule: texts with no repeated n-gram, texts
whose copied passage holds most of their characters, and one rule whose first limit is too high
to fail but whose second fails (a rule that checks only the first ``(n, most)`` misses it).
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="quality",
    answer_cells=("quality-answer",),
    grade_cell="quality-check",
    names=("repeated_ngram_chars_ratio", "fails_repeated_ngrams"),
    graded=("llm_keras.data.quality.repeated_ngram_chars_ratio",
            "llm_keras.data.quality.failed_rules", "llm_keras.data.quality.quality_drop_reason"),
)

RATIOS, RULES = 6, 6
CHECKS = (
    Check("shares of word characters inside repeated n-grams", output="ratio", weight=2,
          rtol=1e-9, atol=1e-12,
          hint="Mark every word of every occurrence of an n-gram that occurs twice or more; the "
               "marked words' characters (each word once) over all the words' characters."),
    Check("the rule on texts with and without repeated passages", output="rule", dtype="int",
          exact=True,
          hint="True when repeated_ngram_chars_ratio(words, n) > most for any (n, most) of "
               "limits, not only the first."),
)


def inputs(rng):
    drawn = {}
    for k in range(RATIOS):
        size = 0 if k == 0 else int(rng.integers(10, 40))  # k = 0: no word at all
        drawn[f"ratio_ids{k}"] = rng.integers(0, int(rng.integers(3, 6)), size=size)
        drawn[f"ratio_n{k}"] = np.array(int(rng.integers(2, 4)) if k != 1 else size + 1)
    for k in range(RULES):
        size = int(rng.integers(60, 120))
        ids = rng.permutation(10_000)[:size]  # distinct words: no n-gram repeats
        if k >= 2:  # a passage of 12 to 20 words copied in once (k = 2, 3, 5) or twice (k = 4)
            length = int(rng.integers(12, 21))
            start = int(rng.integers(0, size // 2 - length + 1))  # before where it is copied
            passage = ids[start:start + length]
            copies = [passage] * (2 if k == 4 else 1)
            ids = np.concatenate([ids[:size // 2], *copies, ids[size // 2:]])
        drawn[f"rule_ids{k}"] = ids
    drawn["lengths"] = rng.integers(0, 8, size=10_000)
    return drawn


def probe(learner, inputs):
    import numpy as np

    lengths = inputs["lengths"]

    def words(ids):  # word k: a letter, k's digits, then 0 to 7 e's (distinct for distinct k)
        return ["abcdefgh"[int(k) % 8] + str(int(k)) + "e" * int(lengths[int(k)]) for k in ids]

    rules = []
    for k in range(6):
        text = words(inputs[f"rule_ids{k}"])
        # k = 5: the first limit cannot fail (a copied passage is under half of the text)
        limits = ((2, 0.99), (4, 0.05)) if k == 5 else ((5, 0.15), (6, 0.14), (7, 0.13),
                                                        (8, 0.12), (9, 0.11), (10, 0.10))
        rules.append(int(bool(learner.fails_repeated_ngrams(text, limits))))
    return {"ratio": np.array([float(learner.repeated_ngram_chars_ratio(
                words(inputs[f"ratio_ids{k}"]), int(inputs[f"ratio_n{k}"]))) for k in range(6)]),
            "rule": np.array(rules)}


def reference(inputs):
    from llm_keras.data.quality import QualitySettings, failed_rules, repeated_ngram_chars_ratio

    def fails(words, limits):
        settings = QualitySettings(repeated_ngram_chars_ratios=limits)
        return "gopher_repeated_ngrams" in failed_rules(" ".join(words), settings)

    return probe(SimpleNamespace(repeated_ngram_chars_ratio=repeated_ngram_chars_ratio,
                                 fails_repeated_ngrams=fails), inputs)
