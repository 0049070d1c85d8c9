"""Probe for week 1, exercise 1: ``char_vocabulary(text)``, ``encode_chars(text, vocabulary)``
and ``decode_chars(ids, vocabulary)``, a character tokenizer; the reference is
``llm_keras.tokenizers.CharTokenizer`` on the same text.

Texts travel as arrays of code points (the grader's inputs and outputs are numeric arrays).
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="char_tokenizer",
    answer_cells=("char-tokenizer-answer",),
    grade_cell="char-tokenizer-check",
    names=("char_vocabulary", "encode_chars", "decode_chars"),
    graded=("llm_keras.tokenizers.CharTokenizer",),
)

SEQUENCES = ("list", "tuple", "ndarray", "tensor")
CHECKS = (
    Check("vocabulary of a text with non-ASCII characters", output="vocabulary", dtype="int",
          exact=True, hint="The vocabulary is the distinct characters, sorted by code point, "
          "as one str."),
    Check("ids of a text", output="ids", weight=2, dtype="int", exact=True, kinds=SEQUENCES,
          hint="A character's id is its index in the vocabulary."),
    Check("text of a list of ids", output="text", dtype="int", exact=True,
          hint="decode_chars must return the str whose characters have these ids."),
)

# Characters the texts are drawn from: ASCII, accented letters, a character outside the BMP.
CHARACTERS = "abcdefghij ABC,.;!\n\u00e9\u00e7\u00df\u4e2d\U0001f600"


def inputs(rng):
    alphabet = np.array([ord(c) for c in CHARACTERS])
    text = rng.choice(alphabet, size=int(rng.integers(40, 80)))
    sample = rng.choice(np.unique(text), size=int(rng.integers(5, 20)))  # characters it holds
    ids = rng.integers(0, len(np.unique(text)), size=int(rng.integers(5, 20)))
    return {"text": text, "sample": sample, "ids": ids}


def probe(learner, inputs):
    import numpy as np

    def codes(value, length):
        """A str as its code points; anything else as `length` times -1, which the grader
        reports as values that differ, with the hint that a str was expected."""
        if isinstance(value, str):
            return np.array([ord(c) for c in value], dtype=np.int64)
        return np.full(length, -1, dtype=np.int64)

    def text(array):
        return "".join(map(chr, array.tolist()))

    vocabulary = learner.char_vocabulary(text(inputs["text"]))
    # Encode and decode with the true vocabulary, so that each function is graded on its own.
    true_vocabulary = "".join(sorted(set(text(inputs["text"]))))
    return {
        "vocabulary": codes(vocabulary, len(true_vocabulary)),
        "ids": learner.encode_chars(text(inputs["sample"]), true_vocabulary),
        "text": codes(learner.decode_chars([int(i) for i in inputs["ids"]], true_vocabulary),
                      len(inputs["ids"])),
    }


def reference(inputs):
    from llm_keras.tokenizers import CharTokenizer

    tokenizer = CharTokenizer.train("".join(map(chr, inputs["text"].tolist())))
    library = SimpleNamespace(
        char_vocabulary=lambda text: CharTokenizer.train(text).chars,
        encode_chars=lambda text, vocabulary: tokenizer.encode(text),
        decode_chars=lambda ids, vocabulary: tokenizer.decode(ids),
    )
    return {name: np.asarray(value) for name, value in probe(library, inputs).items()}
