"""Absolute position vectors, learned (GPT-2) or sinusoidal (2017) (week 2, "Positional information").

Attention treats its input as a set: shuffle the tokens and each output is shuffled the same way.
To know *where* a token is, the model adds a position vector to each token vector:

- ``LearnedPositionalEmbedding``: a trained ``(context_length, d_model)`` table, one row per
  position (GPT, GPT-2). It cannot go past ``context_length``.
- ``SinusoidalPositionalEncoding``: a fixed formula with no weights ("Attention Is All You Need",
  Vaswani et al. 2017, section 3.5).

Both take the token vectors ``(batch, seq, d_model)`` and return the position vectors of the same
shape, ready to add. ``start_index`` is the position of the first token: 0 for a whole sequence,
and the number of tokens already in the KV cache when decoding one token at a time.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="llm_keras")
class LearnedPositionalEmbedding(keras.layers.Layer):
    """A learned vector per position, read from a ``(context_length, d_model)`` table.

    Args:
        context_length: number of positions, the longest sequence the model can read.
        d_model: length of each position's vector.
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: token vectors ``(batch, seq, d_model)``; only their shape is used.
        start_index: position of the first token (a Python int or a scalar integer tensor, which
            may be traced under ``jax.jit``). ``start_index + seq`` must not exceed
            ``context_length``; this is not checked here, because under ``jax.jit`` the index
            has no value yet (``GPT`` checks what it can).

    Returns:
        ``(batch, seq, d_model)``: rows ``start_index .. start_index + seq - 1`` of the table,
        the same for every sequence of the batch.

    Example:

    >>> positions = LearnedPositionalEmbedding(context_length=64, d_model=8)
    >>> x = keras.ops.zeros((2, 10, 8))
    >>> x = x + positions(x)                      # (2, 10, 8)
    """

    def __init__(self, context_length, d_model, **kwargs):
        super().__init__(**kwargs)
        self.context_length = context_length
        self.d_model = d_model

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.context_length, self.d_model),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="embeddings",
        )

    def call(self, inputs, start_index=0):
        seq_len = ops.shape(inputs)[1]
        # ops.slice takes a start that may be traced and a size that must be static. (The
        # variable is read into a tensor first: on JAX, ops.slice does not do it for us.)
        table = ops.convert_to_tensor(self.embeddings)
        rows = ops.slice(table, (start_index, 0), (seq_len, self.d_model))
        return ops.broadcast_to(rows[None], ops.shape(inputs))

    def get_config(self):
        config = super().get_config()
        config.update({"context_length": self.context_length, "d_model": self.d_model})
        return config


@keras.saving.register_keras_serializable(package="llm_keras")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """The fixed sine/cosine position vectors of "Attention Is All You Need" (no weights).

    For position ``pos`` and feature ``i`` of ``d_model``::

        PE[pos, 2k]     = sin(pos / max_wavelength ** (2k / d_model))
        PE[pos, 2k + 1] = cos(pos / max_wavelength ** (2k / d_model))

    so each pair of features turns at its own speed, from one turn per ``2 pi`` positions down to
    one per ``2 pi * max_wavelength``. It works for any position, even past the training length.

    Args:
        max_wavelength: the base of the wavelengths, 10000 in the paper.
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: token vectors ``(batch, seq, d_model)``; only their shape is used.
        start_index: position of the first token (int or scalar integer tensor).

    Returns:
        ``(batch, seq, d_model)`` position vectors in the compute dtype.

    Example:

    >>> encoding = SinusoidalPositionalEncoding()
    >>> x = keras.ops.zeros((2, 10, 8))
    >>> x = x + encoding(x)                       # (2, 10, 8)
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength

    def call(self, inputs, start_index=0):
        seq_len, d_model = ops.shape(inputs)[1], ops.shape(inputs)[-1]
        positions = ops.cast(ops.arange(seq_len) + start_index, "float32")  # (seq,)
        features = ops.arange(d_model)  # (d_model,)
        pair = ops.cast(features // 2, "float32")  # k for features 2k and 2k + 1
        inverse_wavelengths = ops.power(self.max_wavelength, -2.0 * pair / d_model)
        angles = positions[:, None] * inverse_wavelengths[None, :]  # (seq, d_model)
        table = ops.where(features % 2 == 0, ops.sin(angles), ops.cos(angles))
        table = ops.cast(table, self.compute_dtype)
        return ops.broadcast_to(table[None], ops.shape(inputs))

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
