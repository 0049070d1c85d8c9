"""Rotary position embedding, RoPE (week 2, "Positional information").

Instead of adding a position vector to the tokens, RoPE (Su et al. 2021, "RoFormer") rotates the
queries and keys of attention. Features are taken in pairs ``(x[i], x[i + head_dim / 2])``; the
pair of a token at position ``p`` turns by the angle ``p * theta_i`` with
``theta_i = max_wavelength ** (-2 i / head_dim)``. A dot product of two rotated vectors depends
only on the *difference* of their angles, so attention scores see relative positions.

This is the "rotate half" pairing of GPT-NeoX, Llama and keras-hub (the RoFormer paper pairs
neighbouring features instead; the two differ only by a fixed permutation of the features).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="llm_keras")
class RotaryEmbedding(keras.layers.Layer):
    """Rotates queries or keys ``(batch, seq, heads, head_dim)`` by their positions (no weights).

    Args:
        max_wavelength: the base of the angles, 10000 as in RoFormer and Llama.
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: queries or keys, ``(batch, seq, heads, head_dim)``; ``head_dim`` must be even.
        start_index: position of the first token (int or scalar integer tensor): 0 for a whole
            sequence, the cache index when decoding with a KV cache.

    Returns:
        The rotated tensor, same shape and dtype as ``inputs``.

    Raises:
        ValueError: if ``head_dim`` is odd.

    Example:

    >>> rope = RotaryEmbedding()
    >>> q = keras.ops.ones((2, 10, 4, 8))         # (batch, seq, heads, head_dim)
    >>> q = rope(q)                               # (2, 10, 4, 8), rows rotated by position
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength

    def build(self, input_shape):
        head_dim = input_shape[-1]
        if head_dim is not None and head_dim % 2:
            raise ValueError(
                f"RotaryEmbedding needs an even head_dim, but got inputs of shape {input_shape} "
                f"(head_dim={head_dim}): features are rotated in pairs. Choose d_model and n_heads "
                "so that d_model // n_heads is even."
            )

    def call(self, inputs, start_index=0):
        seq_len, head_dim = ops.shape(inputs)[1], ops.shape(inputs)[-1]
        half = head_dim // 2
        positions = ops.cast(ops.arange(seq_len) + start_index, "float32")  # (seq,)
        theta = ops.power(self.max_wavelength, -2.0 * ops.arange(half, dtype="float32") / head_dim)
        angles = positions[:, None] * theta[None, :]  # (seq, half)
        cos = ops.cast(ops.cos(angles), self.compute_dtype)[None, :, None, :]  # (1, seq, 1, half)
        sin = ops.cast(ops.sin(angles), self.compute_dtype)[None, :, None, :]
        x1, x2 = inputs[..., :half], inputs[..., half:]
        return ops.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
