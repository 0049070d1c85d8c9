"""Probe for week 1 (data curation), exercise 1: ``shingles(text, n=5)``, the set of word
n-grams of each paragraph; the reference is ``llm_keras.data.minhash.shingles``.

Texts are drawn from a small vocabulary (so that n-grams repeat) with every kind of whitespace
between words and blank lines of spaces and tabs between paragraphs. A set of strings is sent
back as one integer array: the sorted shingles' code points, each shingle followed by -1.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="shingles",
    answer_cells=("shingles-answer",),
    grade_cell="shingles-check",
    names=("shingles",),
    graded=("llm_keras.data.minhash.shingles",),
)

SET_HINT = ("Return a set of str: each run of n words of a paragraph, joined by one space; "
            "paragraphs are cut at blank lines (PARAGRAPH_BREAK), words by str.split().")
CHECKS = (
    Check("shingles of a text of several paragraphs", output="paragraphs", dtype="int",
          exact=True, weight=2, hint=SET_HINT),
    Check("shingles with the default n = 5", output="default", dtype="int", exact=True,
          hint="n=5 when it is not given."),
    Check("paragraphs shorter than n, and blank lines of spaces and tabs", output="short",
          dtype="int", exact=True,
          hint="A paragraph with fewer than n words gives one shingle, its words joined by one "
               "space; a paragraph without words gives none."),
)

WORDS = ("the", "king", "is", "dead,", "long", "live", "The", "queen", "café", "naïve", "o'er",
         "-", "to", "be", "or", "not", "1599")
SPACES = (" ", " ", " ", "  ", "\t", "\n", " \n ")
BLANK_LINES = ("\n\n", "\n\n\n", "\n  \n\n", "\n \t\n")  # the last: not two "\n" in a row


def random_text(rng, paragraphs, lowest, highest, blank_lines=BLANK_LINES):
    """Paragraphs of `lowest` to `highest` words, as code points (np.int64); the first blank
    line is `blank_lines[-1]`, the others are drawn from `blank_lines`."""
    parts = []
    for _ in range(paragraphs):
        words = rng.choice(WORDS, size=int(rng.integers(lowest, highest + 1)))
        paragraph = str(words[0])
        for word in words[1:]:
            paragraph += str(rng.choice(SPACES)) + str(word)
        parts.append(paragraph)
    joined = parts[0]
    for k, part in enumerate(parts[1:]):
        joined += (blank_lines[-1] if k == 0 else str(rng.choice(blank_lines))) + part
    return np.array([ord(c) for c in joined], dtype=np.int64)


def inputs(rng):
    n = int(rng.integers(2, 5))
    short = random_text(rng, 4, 1, n - 1 if n > 2 else 1)
    ending = np.array([ord(c) for c in "\n \t \n" + " ".join(WORDS[:n + 2]) + "\n\n  "])
    return {"paragraphs": random_text(rng, int(rng.integers(2, 5)), n, 25), "n": np.array(n),
            "default": random_text(rng, 2, 5, 30, blank_lines=("\n\n",)),
            "short": np.concatenate([short, ending])}


def probe(learner, inputs):
    import numpy as np

    def text(array):
        return "".join(map(chr, array.tolist()))

    def codes(shingle_set):
        """A set of str as the code points of its sorted members, each followed by -1;
        anything else as [-2] (values that differ)."""
        if not isinstance(shingle_set, (set, frozenset)) or not all(
                isinstance(s, str) for s in shingle_set):
            return np.array([-2], dtype=np.int64)
        return np.array([c for s in sorted(shingle_set) for c in [*map(ord, s), -1]],
                        dtype=np.int64)

    n = int(inputs["n"])
    return {"paragraphs": codes(learner.shingles(text(inputs["paragraphs"]), n)),
            "default": codes(learner.shingles(text(inputs["default"]))),
            "short": codes(learner.shingles(text(inputs["short"]), n=n))}


def reference(inputs):
    from llm_keras.data.minhash import shingles

    return probe(SimpleNamespace(shingles=shingles), inputs)
