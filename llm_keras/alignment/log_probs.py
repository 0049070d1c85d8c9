"""The log-probability a model gives a response (week 7, "The log-probability of a response").

Every alignment method of this week compares how likely a model finds an answer: the reward of
DPO is how much more likely the policy finds it than the reference, GRPO's ratio is the same
thing token by token. A GPT gives, at each position ``t``, logits ``z_t`` over the vocabulary for
the next token; the log-probability of the token ``y_t`` that really comes next is

    log p(y_t) = log softmax(z_t)[y_t] = z_t[y_t] - log sum_v exp(z_t[v])

which is minus the week 3 next-token loss (``training.losses.token_losses``, computed with the
log-sum-exp trick, so it stays finite for logits of any size: ``softmax`` of a logit of ``1e4``
is ``exp(1e4) / ...``, ``inf / inf`` in float32, while its log is exact).

A response is many tokens; the model's probability of all of them, given the prompt, is the
product of the tokens' probabilities, so its log is a sum over the response's positions:

    log p(response | prompt) = sum_t mask_t * log p(y_t)                  (average=False)

with ``mask_t`` 1 on the response's tokens and its closing end token, 0 on the prompt and on
padding: the chats are those of week 6 (``format_example``, padded with ``pad_chats``), and the
mask is the SFT loss mask (``sft_loss_mask``). The sum favours short answers (each token
multiplies in a probability below 1); dividing by the response's length gives the mean
log-probability per token (``average=True``; TRL's DPO loss ``"sigmoid_norm"``, and Raschka's
DPO chapter). DPO in the paper and TRL's default use the sum.

    >>> inputs, targets, mask = encode_responses(tokenizer, ["47+8"], ["55"], seq_len=12)
    >>> sequence_log_probs(model(inputs), targets, mask)           # (1,), with a gradient
    >>> response_log_probs(model, inputs, targets, mask)           # NumPy (1,), no gradient

``response_log_probs`` is the version for scoring many responses (a frozen reference model, an
evaluation): batches of one shape, the last one padded, through a function compiled once per
model on JAX and TensorFlow (``generation.compiled``), so no gradient is kept.
"""

from __future__ import annotations

import numbers

import numpy as np
from keras import ops

from llm_keras.finetuning.chat_template import format_example
from llm_keras.finetuning.sft import pad_chats
from llm_keras.generation.decode import compiled_for_model
from llm_keras.training.losses import token_losses


def token_log_probs(logits, targets):
    """The log-probability of each target token: ``log softmax(logits)[targets]``.

    Args:
        logits: ``(batch, seq, vocab_size)``, any float dtype (computed in float32).
        targets: ``(batch, seq)`` integer ids in ``[0, vocab_size)``.

    Returns:
        ``(batch, seq)`` float32, each ``<= 0``; finite for logits of any size.
    """
    return -token_losses(targets, logits)


def sequence_log_probs(logits, ids, mask, average=False):
    """The log-probability of each row's masked tokens, summed (or averaged) over the row.

    Args:
        logits: ``(batch, seq, vocab_size)``, the model's output on the inputs.
        ids: ``(batch, seq)`` the target ids, aligned with ``logits`` (already shifted:
            ``ids[:, t]`` is the token after input ``t``).
        mask: ``(batch, seq)``, 1 on the response's targets, 0 on the prompt and padding.
        average: ``False``: the sum over the masked positions; ``True``: that sum divided by
            the number of masked positions (the mean log-probability per response token). A
            row with no masked position gives 0 either way.

    Returns:
        ``(batch,)`` float32.
    """
    mask = ops.cast(mask, "float32")
    total = ops.sum(token_log_probs(logits, ids) * mask, axis=-1)  # (batch,)
    if not average:
        return total
    return total / ops.maximum(ops.sum(mask, axis=-1), 1.0)


def paired_texts(prompts, responses, name="responses"):
    """``prompts`` and ``responses`` as two lists of strings of one length (one response each).

    Args:
        prompts: the users' texts (any iterable of str).
        responses: one text per prompt.
        name: what the responses are called in the messages (``"completions"``...).

    Returns:
        ``(prompts, responses)``, two lists.

    Raises:
        ValueError: one string instead of a list, lists of different lengths, or an item that is
            not a string (token ids not decoded); the message names it.
    """
    texts = {"prompts": prompts, name: responses}
    for key, values in texts.items():
        if isinstance(values, str):
            raise ValueError(f"{key} must be a list of strings, got one string {values!r:.40}.")
        texts[key] = list(values)
        for i, text in enumerate(texts[key]):
            if not isinstance(text, str):
                raise ValueError(
                    f"{key}[{i}] is {type(text).__name__} {text!r:.40}, not a string: decode "
                    "token ids first (tokenizer.decode)."
                )
    prompts, responses = texts.values()
    if len(prompts) != len(responses):
        raise ValueError(
            f"Got {len(prompts)} prompts and {len(responses)} {name}: pass one per prompt "
            "(repeat a prompt once for each of its responses)."
        )
    return prompts, responses


def encode_responses(tokenizer, prompts, responses, seq_len=None):
    """Prompt-and-response chats as padded rows of inputs, targets and a response mask.

    Each chat is ``format_example(tokenizer, prompt, response)``; the rows are ``pad_chats``'s,
    so the mask is ``sft_loss_mask``: 1 on the response's tokens and its end token.

    Args:
        tokenizer: a ``ChatTokenizer``.
        prompts: the users' texts.
        responses: one response (a str) per prompt.
        seq_len: positions per row; ``None``: the longest chat's (its tokens minus one).

    Returns:
        ``(inputs, targets, mask)``, NumPy ``(n, seq_len)``: int32, int32, float32.

    Raises:
        ValueError: prompts and responses of different lengths, none at all, or a chat longer
            than ``seq_len + 1`` tokens.
    """
    prompts, responses = paired_texts(prompts, responses)
    if not prompts:
        raise ValueError("prompts is empty: pass at least one prompt and its response.")
    chats = [format_example(tokenizer, p, r) for p, r in zip(prompts, responses, strict=True)]
    if seq_len is None:
        seq_len = max(len(ids) for ids, _ in chats) - 1
    return pad_chats(chats, seq_len, tokenizer.end_id)


def response_log_probs(model, inputs, targets, mask, average=False, batch_size=64):
    """The log-probability ``model`` gives each row's response, without a gradient.

    Args:
        model: a ``GPT`` (or any model mapping ``(batch, seq)`` ids to logits).
        inputs, targets, mask: ``(n, seq_len)`` arrays, as ``encode_responses`` returns them.
        average: as for ``sequence_log_probs``.
        batch_size: rows per call of the model. With more than ``batch_size`` rows, the last
            batch is filled up with copies of its first row (their results are dropped), so
            every call has one shape and compiles once.

    Returns:
        NumPy float32 ``(n,)``.

    Raises:
        ValueError: arrays of different or wrong shapes, rows longer than the model's context,
            or a bad ``batch_size``.
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}.")
    inputs = np.asarray(inputs, dtype="int32")
    targets = np.asarray(targets, dtype="int32")
    mask = np.asarray(mask, dtype="float32")
    if inputs.ndim != 2 or targets.shape != inputs.shape or mask.shape != inputs.shape:
        raise ValueError(
            f"inputs {inputs.shape}, targets {targets.shape} and mask {mask.shape} must all be "
            "(n, seq_len): pass the three arrays encode_responses returns."
        )
    context = getattr(getattr(model, "config", None), "context_length", None)
    if context is not None and inputs.shape[1] > context:
        raise ValueError(
            f"The rows have seq_len={inputs.shape[1]} positions, more than the model's "
            f"context_length={context}: encode shorter responses, or pass a smaller seq_len."
        )
    n = len(inputs)
    function = compiled_for_model(model, _batch_log_probs, average=bool(average))
    results = []
    for start in range(0, n, batch_size):
        batch = [array[start : start + batch_size] for array in (inputs, targets, mask)]
        real = len(batch[0])
        if n > batch_size and real < batch_size:  # one shape for every call
            batch = [np.concatenate([a, np.repeat(a[:1], batch_size - real, axis=0)])
                     for a in batch]  # fmt: skip
        tensors = [ops.convert_to_tensor(array) for array in batch]
        results.append(ops.convert_to_numpy(function(*tensors))[:real])
    return np.concatenate(results).astype("float32")


def _batch_log_probs(model_ref, inputs, targets, mask, *, average):
    """``sequence_log_probs`` of one batch under the model (compiled per model, no dropout)."""
    logits = model_ref()(inputs, training=False)
    return sequence_log_probs(logits, targets, mask, average=average)
