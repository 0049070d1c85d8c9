"""Sampling by inverting the cumulative distribution (week 4, "Generating text: from scores to a token").

``sample_token`` (``samplers.py``) lets Keras draw the random number. This module shows what such a
draw does, with the random number given: lay the probabilities of the vocabulary end to end on
``[0, 1)``, in the order of the ids, and pick the token whose stretch holds the number ``u``. With
``cdf[i] = p[0] + ... + p[i]`` (the cumulative distribution), that is the first id with
``cdf[i] > u``, the number of ids with ``cdf[i] <= u``. A uniform ``u`` falls in token ``i``'s
stretch with probability ``p[i]``, so the ids are distributed as ``softmax(logits)``; a token of
probability 0 (logit ``-inf``) has an empty stretch and is never picked. The same logits and ``u``
always give the same id, which is how the course's graded notebook checks a learner's sampler.
"""

from keras import ops


def sample_with_uniform(logits, uniform):
    """The id whose stretch of the cumulative distribution of ``softmax(logits)`` holds ``uniform``.

    Args:
        logits: ``(batch, vocab)``; ``-inf`` marks a token that cannot be drawn.
        uniform: ``(batch,)`` numbers in ``[0, 1)``, one per row (a NumPy array or a tensor).

    Returns:
        ``(batch,)`` int32: per row, the first id ``i`` with ``cdf[i] > uniform``. When rounding
        leaves the total of a row's probabilities at or below ``uniform`` (a ``uniform`` within
        about ``1e-7`` of 1), the last id of non-zero probability.

    >>> sample_with_uniform(ops.log([[0.5, 0.25, 0.25]]), [0.6])   # cdf [0.5, 0.75, 1]: [1]
    """
    probabilities = ops.softmax(ops.cast(logits, "float32"), axis=-1)  # (batch, vocab)
    cdf = ops.cumsum(probabilities, axis=-1)
    uniform = ops.reshape(ops.cast(uniform, "float32"), (-1, 1))  # (batch, 1)
    ids = ops.sum(ops.cast(cdf <= uniform, "int32"), axis=-1)  # (batch,)
    vocab = ops.shape(probabilities)[-1]
    possible = ops.cast(probabilities > 0, "int32")
    last_possible = vocab - 1 - ops.argmax(ops.flip(possible, axis=-1), axis=-1)
    return ops.cast(ops.minimum(ids, ops.cast(last_possible, "int32")), "int32")
