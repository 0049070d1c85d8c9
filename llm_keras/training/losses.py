"""The causal language-modelling loss: how surprised the model is by each next token (week 3, "The next-token loss").

For logits ``z`` (one score per token of the vocabulary) at position ``t`` and the token ``y``
that really comes next, the loss is the negative log-probability the model gave it:

    loss_t = -log softmax(z)[y] = log(sum_v exp(z_v)) - z_y

averaged over every position of every sequence. Written this way it overflows: ``exp(1000.0)`` is
``inf`` in float32 (and ``exp(89.0)`` already is). Subtracting the largest logit first changes
nothing mathematically, since ``log(sum_v exp(z_v)) = m + log(sum_v exp(z_v - m))``, but makes
every exponent at most 0, so the sum lies in ``[1, vocab_size]``: the loss stays finite and
exact for logits of any size (the "log-sum-exp trick").

The targets are the inputs moved one position left (``llm_keras.data.windows`` makes both):
``logits[:, t]`` is scored against ``targets[:, t] = ids[t + 1]``.
"""

import keras
from keras import ops


def token_losses(targets, logits, fused=False):
    """Per-token negative log-likelihood, in nats.

    Args:
        targets: next-token ids ``(batch, seq)``, integers in ``[0, vocab_size)``.
        logits: ``(batch, seq, vocab_size)``, any float dtype (computed in float32).
        fused: compute it with ``ops.sparse_categorical_crossentropy(from_logits=True)``
            (one kernel on PyTorch, ``F.cross_entropy``, forward and backward, where the
            written-out formula below costs seven operations and their autograd nodes); the
            same numbers to float32 rounding (tested).

    Returns:
        ``(batch, seq)`` float32 losses, each ``>= 0``.
    """
    logits = ops.cast(logits, "float32")
    targets = ops.cast(targets, "int32")
    if fused:
        return ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    # The largest logit of each position, (batch, seq, 1). It is a constant of the formula (any
    # value gives the same loss), so no gradient flows through it.
    largest = ops.stop_gradient(ops.max(logits, axis=-1, keepdims=True))
    shifted = logits - largest  # every entry <= 0
    log_sum_exp = ops.log(ops.sum(ops.exp(shifted), axis=-1))  # (batch, seq), in [0, log V]
    target_logit = ops.take_along_axis(shifted, targets[..., None], axis=-1)[..., 0]
    return log_sum_exp - target_logit


@keras.saving.register_keras_serializable(package="llm_keras")
class CausalLMLoss(keras.losses.Loss):
    """Mean next-token cross-entropy of a language model's logits (nats per token).

    ``loss(targets, logits)`` with targets ``(batch, seq)`` int and logits ``(batch, seq,
    vocab_size)``; the mean over all ``batch * seq`` positions. It equals
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` and stays finite for logits
    of any size (see the module docstring).

    Args:
        fused: ``token_losses(..., fused=True)``: one kernel on PyTorch, the same numbers.
        name, **kwargs: passed to ``keras.losses.Loss``.

    Example:
        >>> model.compile(optimizer=..., loss=CausalLMLoss())
        >>> CausalLMLoss()(targets, model(inputs))      # about log(65) = 4.17 untrained
    """

    def __init__(self, fused=False, name="causal_lm_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.fused = fused

    def call(self, y_true, y_pred):
        return token_losses(y_true, y_pred, self.fused)  # (batch, seq); Keras takes the mean

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}
