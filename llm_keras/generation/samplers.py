"""Choosing the next token from the model's scores (week 4, "Generating text: from scores to a token").

The model gives one score (logit) per token of the vocabulary: ``logits`` of shape
``(batch, vocab_size)``. A sampler turns each row into one token id, ``(batch,)``. Every function
here is pure: the same logits (and the same seed) give the same ids.

- **Greedy**: take the highest score (``greedy_token``). Deterministic, and often repetitive.
- **Temperature** ``T``: divide the logits by ``T`` before the softmax (``apply_temperature``).
  ``T < 1`` sharpens the distribution towards the likeliest tokens, ``T > 1`` flattens it;
  ``T = 0`` is greedy decoding.
- **Top-k** (Fan et al., 2018): keep the ``k`` highest scores, forbid the others
  (``top_k_filter``). As in nanoGPT, a token whose score equals the ``k``-th highest is kept too.
  (``k`` may be a tensor, so the filter sorts the row rather than calling ``ops.top_k``, whose
  ``k`` fixes a shape.)
- **Top-p**, or nucleus sampling (Holtzman et al., 2020): keep the fewest tokens, likeliest first,
  whose probabilities add up to at least ``p`` (``top_p_filter``). Ties with the last kept score
  are kept too.
- **Sampling**: draw one id per row from ``softmax(logits)`` (``sample_token``).

They combine in this order, in ``next_token``: temperature, then top-k, then top-p, then sampling.
A forbidden token gets the logit ``-inf``, i.e. probability 0.

Seeds. ``sample_token(logits, seed)`` takes an ``int`` or a *key*: an integer tensor
``[seed, counter]`` of shape ``(2,)``, which may be a traced value inside a compiled function
(``jax.jit``, ``tf.function``). The decoding loop uses ``[seed, position]``, so each position of the
text has its own key and the same seed gives the same text on a backend, whether the tokens come
one at a time (streaming) or all at once. Keras's random functions take their seed from a
``keras.random.SeedGenerator``; a ``keras.StatelessScope`` lends that generator the key for one
call, which is how keras-hub's samplers keep random state out of compiled functions (a stateful
generator inside ``jax.jit`` would leak a tracer). The random numbers differ from backend to
backend, so the same seed gives different (equally likely) text on JAX, TensorFlow and PyTorch.
"""

import functools
import math
import numbers

import keras
from keras import ops


def check_sampling_options(temperature=1.0, top_k=None, top_p=None):
    """Raise a ``ValueError`` in plain words if a sampling option is out of range.

    ``temperature`` is a number ``>= 0`` (0 means greedy), ``top_k`` ``None`` or an int ``>= 1``,
    ``top_p`` ``None`` or a number in ``(0, 1]``.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}.")
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(
            f"temperature={temperature} must be a finite number >= 0: 0 picks the likeliest "
            "token (greedy), 1 samples the model's own distribution, 0.8 is a usual choice."
        )
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
            raise ValueError(
                f"top_k={top_k!r} is not a number of likeliest tokens to keep: give an integer "
                ">= 1, or leave top_k out (None) for no filter."
            )
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real):
            raise ValueError(f"top_p={top_p!r} is not a number in (0, 1]: give one, or leave "
                             "top_p out (None) for no filter.")
        if not 0 < top_p <= 1:
            raise ValueError(
                f"top_p={top_p} is outside (0, 1]: it is the probability mass of the likeliest "
                "tokens kept (0.9 is usual; 1 keeps every token)."
            )


def greedy_token(logits):
    """The id of the highest score of each row: ``(batch, vocab)`` -> ``(batch,)`` int32."""
    return ops.cast(ops.argmax(logits, axis=-1), "int32")


def apply_temperature(logits, temperature):
    """``logits / temperature`` in float32 (``temperature > 0``; a Python number or a tensor)."""
    return ops.cast(logits, "float32") / temperature


def top_k_filter(logits, k):
    """Keep the ``k`` highest logits of each row and set the others to ``-inf``.

    Args:
        logits: ``(batch, vocab)``.
        k: an int ``>= 1``, a Python int or a scalar tensor (it may be traced); ``k >= vocab``
            keeps everything.

    Returns:
        ``(batch, vocab)``: a logit survives when it is at least the ``k``-th highest of its row,
        so ties with the ``k``-th are kept (as in nanoGPT's ``generate``).
    """
    logits = ops.convert_to_tensor(logits)  # (a NumPy array would meet a tensor on torch)
    descending = ops.flip(ops.sort(logits, axis=-1), axis=-1)  # (batch, vocab)
    k = ops.minimum(k, logits.shape[-1])
    kth_highest = ops.take(descending, k - 1, axis=-1)[:, None]  # (batch, 1)
    return ops.where(logits >= kth_highest, logits, float("-inf"))


def top_p_filter(logits, p):
    """Nucleus filter: keep the fewest likeliest tokens whose probabilities reach ``p``.

    Going down the tokens from the likeliest, a token is kept while the probability of the tokens
    before it is below ``p``: the likeliest token is always kept, and the kept set is the smallest
    with total probability ``>= p``. Tokens tied with the last kept one are kept too.

    Args:
        logits: ``(batch, vocab)``.
        p: a number in ``(0, 1]``; a Python float or a scalar tensor (it may be traced).

    Returns:
        ``(batch, vocab)`` with the tokens outside the nucleus set to ``-inf``.
    """
    logits = ops.cast(ops.convert_to_tensor(logits), "float32")
    descending = ops.flip(ops.sort(logits, axis=-1), axis=-1)  # (batch, vocab)
    probabilities = ops.softmax(descending, axis=-1)
    mass_before = ops.cumsum(probabilities, axis=-1) - probabilities  # of the likelier tokens
    # p >= 1 keeps everything, even when rounding pushes a running sum of probabilities past 1.
    kept = (mass_before < p) | (ops.convert_to_tensor(p, "float32") >= 1)
    lowest_kept = ops.min(ops.where(kept, descending, float("inf")), axis=-1, keepdims=True)
    return ops.where(logits >= lowest_kept, logits, float("-inf"))


def sample_token(logits, seed):
    """Draw one id per row from ``softmax(logits)``: ``(batch, vocab)`` -> ``(batch,)`` int32.

    Args:
        logits: ``(batch, vocab)``; ``-inf`` marks a token that cannot be drawn.
        seed: an ``int``, or a key: an integer tensor ``[seed, counter]`` of shape ``(2,)``
            (it may be traced). The same logits and seed give the same ids on a backend;
            rows are drawn independently.
    """
    if isinstance(seed, numbers.Integral):
        seed = [int(seed), 0]
    generator = _seed_generator()
    key = ops.cast(ops.convert_to_tensor(seed), generator.state.dtype)
    # The scope makes the generator's state read as `key` for this call (and forgets what the
    # call writes back), so no state is kept between calls.
    with keras.StatelessScope(state_mapping=[(generator.state, key)]):
        draws = keras.random.categorical(
            ops.cast(logits, "float32"), 1, dtype="int32", seed=generator
        )
    return draws[:, 0]


@functools.cache
def _seed_generator():
    """The ``SeedGenerator`` that lends keys to ``keras.random.categorical`` (its own state is
    never used)."""
    return keras.random.SeedGenerator(0, name="sample_token_seed")


def next_token(logits, seed=0, temperature=1.0, top_k=None, top_p=None):
    """Temperature, then top-k, then top-p, then a draw: ``(batch, vocab)`` -> ``(batch,)``.

    Args:
        logits: ``(batch, vocab)``.
        seed: an int or a key ``[seed, counter]`` (see ``sample_token``).
        temperature: a number ``>= 0``; ``0`` means greedy (the other options then do not
            matter).
        top_k: ``None`` or an int ``>= 1``.
        top_p: ``None`` or a number in ``(0, 1]``.

    Options given as Python numbers are checked (``check_sampling_options``). Inside compiled
    code they may be scalar tensors, so that changing them does not recompile: then every
    option is applied (``top_k = vocab_size`` and ``top_p = 1`` keep every token) and a
    temperature of 0 keeps the argmax instead of the draw.

    Example:

    >>> logits = keras.ops.convert_to_tensor([[2.0, 1.0, 0.5, -1.0]])
    >>> next_token(logits, temperature=0)                        # greedy: [0]
    >>> next_token(logits, seed=7, temperature=0.8, top_k=2)     # 0 or 1
    """
    if not any(ops.is_tensor(option) for option in (temperature, top_k, top_p)):
        check_sampling_options(temperature, top_k, top_p)
        if temperature == 0:
            return greedy_token(logits)
    greedy = ops.equal(temperature, 0)  # a tensor temperature of 0: the argmax
    logits = apply_temperature(logits, ops.where(greedy, 1.0, temperature))
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return ops.where(greedy, greedy_token(logits), sample_token(logits, seed))
