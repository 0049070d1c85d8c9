"""Probe for week 4, exercise 3: ``top_k_filter(logits, k)``, nanoGPT's rule (a logit survives
when it is at least the k-th highest of its row); the reference is
``llm_keras.generation.samplers.top_k_filter``."""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="top_k_filter",
    answer_cells=("top-k-answer",),
    grade_cell="top-k-check",
    names=("top_k_filter",),
    graded=("llm_keras.generation.samplers.top_k_filter", "keras.ops.top_k"),
)

RULE = "Keep each logit >= the k-th highest of its row (sort the row), set the others to -inf."
CHECKS = (
    Check("the k highest logits of each row", output="k", weight=2, hint=RULE),
    Check("k = 1", output="one", hint=RULE),
    Check("k at least the vocabulary keeps every token", output="all",
          hint="k >= vocab keeps everything: take the smaller of k and the vocabulary size."),
    Check("a token tied with the k-th highest is kept", output="ties",
          hint="Keep every logit >= the k-th highest, so that a token tied with it survives too "
          "(then more than k tokens remain)."),
)


def inputs(rng):
    batch, vocab = int(rng.integers(2, 6)), int(rng.integers(6, 40))
    k, k_tied = (int(rng.integers(2, vocab - 1)) for _ in range(2))
    ties = np.stack([rng.permutation(vocab) for _ in range(batch)]).astype("float32")
    for row in ties:  # the (k+1)-th highest takes the value of the k-th
        order = np.argsort(-row)
        row[order[k_tied]] = row[order[k_tied - 1]]
    return {"logits": rng.normal(0, 2, size=(batch, vocab)).astype("float32"),
            "k": np.array(k), "k_all": np.array(vocab + int(rng.integers(0, 5))),
            "ties": ties, "k_tied": np.array(k_tied)}


def probe(learner, inputs):
    logits, top_k = inputs["logits"], learner.top_k_filter
    return {"k": top_k(logits, int(inputs["k"])), "one": top_k(logits, 1),
            "all": top_k(logits, int(inputs["k_all"])),
            "ties": top_k(inputs["ties"], int(inputs["k_tied"]))}


def reference(inputs):
    import keras

    from llm_keras.generation.samplers import top_k_filter

    library = SimpleNamespace(  # the library filters tensors: NumPy >= a torch tensor fails
        top_k_filter=lambda logits, k: top_k_filter(keras.ops.convert_to_tensor(logits), k))
    return {k: keras.ops.convert_to_numpy(v) for k, v in probe(library, inputs).items()}
