"""Probe for week 1, exercise 4: ``train_bpe(text, vocab_size)``; the reference is
``llm_keras.tokenizers.ByteLevelBPETokenizer.train``.

The texts are drawn from a few short words over a small alphabet, so that many pairs are
equally frequent: a tie broken another way than the course's (the greatest pair of byte
strings, as in Stanford CS336's reference implementation) gives other merges.
"""

import warnings
from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="train_bpe",
    answer_cells=("train-bpe-answer",),
    grade_cell="train-bpe-check",
    names=("train_bpe",),
    uses=("get_pair_counts", "merge"),
    graded=("llm_keras.tokenizers.ByteLevelBPETokenizer",
            "llm_keras.tokenizers.bpe_merges.learn_merges"),
)

TIE_HINT = ("Between equally frequent pairs, take the greatest "
            "(token_bytes[a], token_bytes[b]).")
CHECKS = (
    Check("merges of a text with many ties", output="ties", weight=2, dtype="int", exact=True,
          hint=TIE_HINT),
    Check("merges of a short text, which runs out of pairs", output="short", dtype="int",
          exact=True, hint="Stop when no pair is left; count pairs only inside words."),
)

LETTERS = list("abcde\u00e9")
SEPARATORS = [" ", " ", " ", "\n", ", ", ". ", "'s "]


def random_text(rng, n_words):
    """Words of 1-4 letters drawn from a vocabulary of 12, with spaces and punctuation."""
    vocabulary = ["".join(rng.choice(LETTERS, size=int(rng.integers(1, 5)))) for _ in range(12)]
    words = rng.choice(vocabulary, size=n_words)
    separators = rng.choice(SEPARATORS, size=n_words)
    return "".join(w + s for w, s in zip(words, separators, strict=True))


def codes(text):
    return np.array([ord(c) for c in text], dtype=np.int64)


def inputs(rng):
    # A word of two letters said a few times: two merges without a tie, then no pair is left.
    word = "".join(rng.choice(LETTERS[:5], size=2, replace=False))
    # Two words said more often than any pair of the random text: the first merge is a tie of
    # four pairs; the first pair met, (" ", "x"), is not the greatest, ("z", "w").
    opening = " xy zw" * int(rng.integers(200, 250))
    return {"text": codes(opening + random_text(rng, int(rng.integers(60, 100)))),
            "vocab_size": np.array(256 + int(rng.integers(15, 30))),
            "short": codes(" ".join([word] * int(rng.integers(2, 6)))),
            "short_vocab_size": np.array(256 + 40)}


def probe(learner, inputs):
    import numpy as np

    def pairs(merges):
        """The merges as an int array (n, 2); anything else as is."""
        try:
            return np.array([(int(a), int(b)) for a, b in merges], dtype=np.int64).reshape(-1, 2)
        except (TypeError, ValueError):
            return merges

    def text(array):
        return "".join(map(chr, array.tolist()))

    return {"ties": pairs(learner.train_bpe(text(inputs["text"]), int(inputs["vocab_size"]))),
            "short": pairs(learner.train_bpe(text(inputs["short"]),
                                             int(inputs["short_vocab_size"])))}


def train_bpe(text, vocab_size):
    """The library's merges, as pairs of ids."""
    from llm_keras.tokenizers import ByteLevelBPETokenizer

    with warnings.catch_warnings():  # "the corpus has no pair left": expected for short texts
        warnings.simplefilter("ignore")
        tokenizer = ByteLevelBPETokenizer.train(text, vocab_size, progress=False)
    ids = {token: i for i, token in tokenizer.vocab.items()}
    return [(ids[a], ids[b]) for a, b in tokenizer.merges]


def reference(inputs):
    return probe(SimpleNamespace(train_bpe=train_bpe), inputs)
