"""Probe for week 1, exercise 2: ``get_pair_counts(words)``.

The words travel as a padded array (one row per word, -1 after its last id) and their counts;
the probe turns them back into the dict the exercise takes, and the returned dict into rows
``(first, second, count)`` sorted by pair.
"""

from collections import Counter
from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="get_pair_counts",
    answer_cells=("pair-counts-answer",),
    grade_cell="pair-counts-check",
    names=("get_pair_counts",),
    graded=("llm_keras.tokenizers.bpe_merges.learn_merges",),  # counts pairs as it trains
)

CHECKS = (
    Check("pair counts over words that occur several times", output="counts", dtype="int",
          exact=True, hint="Each pair inside a word counts as often as the word occurs."),
    Check("a pair repeated inside one word", output="repeated", dtype="int", exact=True,
          hint="In (7, 7, 7) the pair (7, 7) occurs twice."),
)


def inputs(rng):
    n_words, longest = int(rng.integers(5, 12)), 7
    words = np.full((n_words, longest), -1, dtype=np.int64)
    for row in words:
        length = int(rng.integers(1, longest + 1))
        row[:length] = rng.integers(0, 6, size=length)
    return {"words": words, "counts": rng.integers(1, 50, size=n_words),
            "repeated": np.full(int(rng.integers(3, 8)), int(rng.integers(0, 300)))}


def probe(learner, inputs):
    import numpy as np

    def rows(counts):
        """{(a, b): n} as an int array of rows (a, b, n), sorted; anything else as is."""
        try:
            items = sorted((int(a), int(b), int(n)) for (a, b), n in dict(counts).items())
        except (TypeError, ValueError):
            return counts
        return np.array(items, dtype=np.int64).reshape(-1, 3)

    words = {}
    for row, count in zip(inputs["words"], inputs["counts"], strict=True):
        word = tuple(int(i) for i in row if i >= 0)
        words[word] = words.get(word, 0) + int(count)
    repeated = {tuple(int(i) for i in inputs["repeated"]): 1}
    return {"counts": rows(learner.get_pair_counts(words)),
            "repeated": rows(learner.get_pair_counts(repeated))}


def pair_counts(words):
    """The reference: a Counter over the pairs of each word, times the word's count."""
    counts = Counter()
    for word, count in words.items():
        for pair in zip(word, word[1:], strict=False):
            counts[pair] += count
    return counts


def reference(inputs):
    return probe(SimpleNamespace(get_pair_counts=pair_counts), inputs)
