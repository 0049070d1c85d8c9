"""Probe for week 6, exercise 2: ``sft_loss_mask(token_ids, roles)``, the weight of each next-token
target of a chat (1 where the target is the assistant's token); the reference is
``llm_keras.finetuning.sft.sft_loss_mask``.

The chats are laid out as ``format_example`` lays them out: the prompt's tokens (role 0), then
the assistant's (role 1); the rows of a batch are padded on the right with role 0.
"""

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="sft_loss_mask",
    answer_cells=("loss-mask-answer",),
    grade_cell="loss-mask-check",
    names=("sft_loss_mask",),
    graded=("llm_keras.finetuning.sft.sft_loss_mask",),
)

HINT = ("Target t is token t + 1: its weight is 1 when roles[..., t + 1] is ASSISTANT_ROLE, "
        "so the result has one position fewer than the chat.")
CHECKS = (
    Check("one chat, given as lists", output="one", hint=HINT),
    Check("a batch of chats padded to one length", output="batch",
          hint=HINT + " A batch (batch, seq) gives (batch, seq - 1): slice the last axis."),
)


def _chat_roles(rng, length):
    """Roles of a chat of ``length`` tokens: a prompt of at least 3 tokens, then the answer."""
    prompt = int(rng.integers(3, length - 1))
    return np.array([0] * prompt + [1] * (length - prompt), dtype="int64")


def inputs(rng):
    vocab, length = int(rng.integers(10, 60)), int(rng.integers(6, 14))
    batch, seq = int(rng.integers(2, 6)), int(rng.integers(8, 16))
    batch_roles = np.zeros((batch, seq), dtype="int64")
    for row in batch_roles:  # each chat padded on the right (role 0)
        chat = int(rng.integers(5, seq + 1))
        row[:chat] = _chat_roles(rng, chat)
    return {"ids": rng.integers(0, vocab, size=length), "roles": _chat_roles(rng, length),
            "batch_ids": rng.integers(0, vocab, size=(batch, seq)), "batch_roles": batch_roles}


def probe(learner, inputs):
    one = learner.sft_loss_mask([int(i) for i in inputs["ids"]],
                                [int(r) for r in inputs["roles"]])
    return {"one": one, "batch": learner.sft_loss_mask(inputs["batch_ids"], inputs["batch_roles"])}


def reference(inputs):
    from llm_keras.finetuning.sft import sft_loss_mask

    return {"one": sft_loss_mask(inputs["ids"], inputs["roles"]),
            "batch": sft_loss_mask(inputs["batch_ids"], inputs["batch_roles"])}
