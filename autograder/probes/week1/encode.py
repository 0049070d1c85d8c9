"""Probe for week 1, exercise 5: ``encode(text, merges)`` and ``decode(ids, merges)``; the
reference is ``llm_keras.tokenizers.ByteLevelBPETokenizer`` built from the same merges.

The merges come from the library, trained on a random text (so encoding is graded on its own,
whatever ``train_bpe`` does); the text to encode holds characters never seen in training.
"""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="encode_decode",
    answer_cells=("encode-answer",),
    grade_cell="encode-check",
    names=("encode", "decode"),
    uses=("merge",),
    graded=("llm_keras.tokenizers.ByteLevelBPETokenizer",),
)

SEQUENCES = ("list", "tuple", "ndarray", "tensor")
CHECKS = (
    Check("ids of the training text", output="seen", dtype="int", exact=True, kinds=SEQUENCES,
          hint="Within a word, merge the pair learned first (lowest index) until none is left."),
    Check("ids of a text with characters never seen in training", output="unseen", dtype="int",
          exact=True, kinds=SEQUENCES, hint="Unseen characters keep their UTF-8 bytes as ids."),
    Check("text of ids, some cutting a character in its middle", output="text", dtype="int",
          exact=True, hint='Decode the joined bytes with errors="replace".'),
)


def _sibling(name):
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"week1_probe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(rng):
    train = _sibling("train_bpe")
    text = train.random_text(rng, int(rng.integers(60, 100)))
    merges = train.train_bpe(text, 256 + int(rng.integers(15, 30)))
    unseen = train.random_text(rng, 20) + " \u4e2d\u6587 na\u00efve \U0001f600!"
    ids = rng.integers(0, 256 + len(merges), size=int(rng.integers(10, 30)))
    return {"text": train.codes(text), "unseen": train.codes(unseen),
            "merges": np.array(merges, dtype=np.int64).reshape(-1, 2),
            "ids": np.concatenate([ids, [0xE4, 0xB8]])}  # ends with 2 of the 3 bytes of a character


def probe(learner, inputs):
    import numpy as np

    def text(array):
        return "".join(map(chr, array.tolist()))

    def codes(value, length):
        """A str as its code points; anything else as `length` times -1 (values that differ)."""
        if isinstance(value, str):
            return np.array([ord(c) for c in value], dtype=np.int64)
        return np.full(length, -1, dtype=np.int64)

    merges = [(int(a), int(b)) for a, b in inputs["merges"]]
    decoded = learner.decode([int(i) for i in inputs["ids"]], merges)
    return {"seen": learner.encode(text(inputs["text"]), merges),
            "unseen": learner.encode(text(inputs["unseen"]), merges),
            "text": codes(decoded, len(inputs["ids"]))}


def reference(inputs):
    from llm_keras.tokenizers import ByteLevelBPETokenizer

    token_bytes = [bytes([i]) for i in range(256)]
    for a, b in inputs["merges"]:
        token_bytes.append(token_bytes[a] + token_bytes[b])
    merges = [(token_bytes[a], token_bytes[b]) for a, b in inputs["merges"]]
    tokenizer = ByteLevelBPETokenizer(merges)
    library = SimpleNamespace(encode=lambda text, merges: tokenizer.encode(text),
                              decode=lambda ids, merges: tokenizer.decode(ids))
    return {name: np.asarray(value) for name, value in probe(library, inputs).items()}
