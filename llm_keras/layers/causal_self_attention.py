"""Causal multi-head self-attention, with a KV cache for decoding (week 2, "Multi-head attention").

Each token asks a question (its query), every token offers a label (its key) and a content (its
value). A token's output is the average of the values, weighted by how well its query matches each
key: ``softmax(q k^T / sqrt(head_dim)) v``.

"Causal": a token may look at itself and at the tokens before it, never after, so the model can be
trained to predict every next token at once. "Multi-head": ``d_model`` is split into ``n_heads``
independent attentions of ``head_dim = d_model // n_heads`` features each, which look for
different things.

Two paths give the same numbers:

- written out (``fused=False``): every step as a learner writes it, and it can return the attention
  weights for plotting;
- fused (``fused=True``): ``keras.ops.dot_product_attention``, which lets the backend pick its
  fastest kernel (flash attention where the hardware has one; never on CPU).

KV cache. When generating, the keys and values of earlier tokens never change, so they are kept
instead of recomputed. The cache of one layer is a fixed-size tensor
``(batch, 2, max_length, n_heads, head_dim)`` (keys at ``[:, 0]``, values at ``[:, 1]``). A call
with ``cache`` and ``cache_index`` writes the new keys and values at positions
``cache_index .. cache_index + seq - 1`` and attends over the whole buffer; the causal mask hides
both the future and the positions not written yet. Every shape stays the same from step to step,
so a compiled decoding step (``jax.jit``, XLA) is compiled once.
"""

import math

import keras
from keras import ops

from llm_keras.layers.rotary_embedding import RotaryEmbedding


def causal_mask(query_length, key_length, start_index=0):
    """Boolean ``(query_length, key_length)`` mask, True where a query may attend to a key.

    Query ``i`` sits at position ``start_index + i`` and may see keys ``0 .. start_index + i``.
    With a cache of ``key_length = max_length`` slots this also hides the slots not written yet,
    since they all come after the last query.

    >>> causal_mask(3, 3)            # lower triangle, diagonal included
    >>> causal_mask(1, 5, 2)         # [[True, True, True, False, False]]
    """
    query_positions = ops.arange(query_length) + ops.cast(start_index, "int32")
    key_positions = ops.arange(key_length)
    return query_positions[:, None] >= key_positions[None, :]


@keras.saving.register_keras_serializable(package="llm_keras")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention where each token attends to itself and earlier tokens.

    Weights start as GPT-2's: kernels normal with standard deviation 0.02, biases zero.

    Args:
        d_model: features of each token, in and out.
        n_heads: number of heads; must divide ``d_model``.
        dropout: rate of dropout on the attention weights during training. The fused path has no
            such dropout, so while training with ``dropout > 0`` it takes the written-out path
            (as ``keras.layers.MultiHeadAttention`` does).
        use_bias: whether the four projections have biases (GPT-2: yes).
        fused: ``True`` computes attention with ``keras.ops.dot_product_attention``.
        rotary: ``True`` rotates queries and keys with ``RotaryEmbedding`` (RoPE); then
            ``head_dim`` must be even.
        **kwargs: passed to ``keras.layers.Layer``.

    Sublayers (to set weights from arrays): ``query``, ``key``, ``value`` (kernels
    ``(d_model, d_model)``, output features ordered head by head: head ``h`` owns features
    ``h * head_dim .. (h + 1) * head_dim - 1``) and ``output_projection``, all
    ``keras.layers.Dense``.

    Call arguments:
        inputs: ``(batch, seq, d_model)``.
        cache: optional KV cache ``(batch, 2, max_length, n_heads, head_dim)``.
        cache_index: with ``cache``, the position of the first token of ``inputs`` (a Python int
            or a scalar integer tensor, traced or not). ``cache_index + seq <= max_length``.
        training: ``True`` applies dropout.
        return_attention_weights: also return the weights ``(batch, n_heads, seq, keys)``, where
            ``keys`` is ``seq`` without a cache and ``max_length`` with one. Only the written-out
            path computes them: asking a ``fused=True`` layer raises ``ValueError``.

    Returns:
        ``output`` ``(batch, seq, d_model)``; ``(output, new_cache)`` when ``cache`` is given;
        ``(output, attention_weights)`` with ``return_attention_weights=True``;
        ``(output, new_cache, attention_weights)`` with both.

    Example:

    >>> attention = CausalSelfAttention(d_model=8, n_heads=2)
    >>> x = keras.ops.ones((2, 10, 8))
    >>> y, weights = attention(x, return_attention_weights=True)     # (2, 10, 8), (2, 2, 10, 10)
    >>> cache = keras.ops.zeros((2, 2, 16, 2, 4))                    # room for 16 tokens
    >>> y, cache = attention(x, cache=cache, cache_index=0)          # prefill 10 tokens
    >>> y, cache = attention(x[:, :1], cache=cache, cache_index=10)  # then one more
    """

    def __init__(
        self,
        d_model,
        n_heads,
        dropout=0.0,
        use_bias=True,
        fused=False,
        rotary=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if d_model % n_heads:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head gets "
                "d_model // n_heads features. Choose n_heads among the divisors of d_model."
            )
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.dropout = dropout
        self.use_bias = use_bias
        self.fused = fused
        self.rotary = rotary

        def dense(name):
            return keras.layers.Dense(
                d_model,
                use_bias=use_bias,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
                dtype=self.dtype_policy,
                name=name,
            )

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.output_projection = dense("output_projection")
        self.attention_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        self.rotary_embedding = (
            RotaryEmbedding(dtype=self.dtype_policy, name="rotary_embedding") if rotary else None
        )

    def build(self, input_shape):
        for projection in (self.query, self.key, self.value, self.output_projection):
            projection.build(input_shape)
        if self.rotary_embedding is not None:
            self.rotary_embedding.build((*input_shape[:-1], self.n_heads, self.head_dim))

    def split_heads(self, x):
        """``(batch, seq, d_model)`` -> ``(batch, seq, n_heads, head_dim)``."""
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        return ops.reshape(x, (batch, seq, self.n_heads, self.head_dim))

    def call(
        self,
        inputs,
        cache=None,
        cache_index=None,
        training=None,
        return_attention_weights=False,
    ):
        if return_attention_weights and self.fused:
            raise ValueError(
                "return_attention_weights=True needs the written-out path: the fused "
                "ops.dot_product_attention never forms the weights. Build the layer with "
                "fused=False (same weights, same outputs) to plot them."
            )
        start_index = 0 if cache is None else cache_index
        q = self.split_heads(self.query(inputs))  # (batch, seq, n_heads, head_dim)
        k = self.split_heads(self.key(inputs))
        v = self.split_heads(self.value(inputs))
        if self.rotary_embedding is not None:
            q = self.rotary_embedding(q, start_index=start_index)
            k = self.rotary_embedding(k, start_index=start_index)

        if cache is not None:
            # Write the new keys/values into the fixed-size buffer at cache_index; attend to all
            # of it. k, v: (batch, max_length, n_heads, head_dim).
            start = [0, cache_index, 0, 0]
            k = ops.slice_update(cache[:, 0], start, ops.cast(k, cache.dtype))
            v = ops.slice_update(cache[:, 1], start, ops.cast(v, cache.dtype))
            new_cache = ops.stack([k, v], axis=1)

        mask = causal_mask(ops.shape(q)[1], ops.shape(k)[1], start_index)  # (seq, keys)
        dropout_active = training and self.dropout > 0
        if self.fused and not dropout_active:
            # flash_attention=None lets the backend decide (it never picks flash on a CPU).
            outputs = ops.dot_product_attention(
                q, k, v, mask=mask[None, None, :, :], flash_attention=None
            )
        else:
            outputs, weights = self.written_out_attention(q, k, v, mask, training)
        outputs = ops.reshape(outputs, ops.shape(inputs))  # merge heads: (batch, seq, d_model)
        outputs = self.output_projection(outputs)

        results = (outputs,)
        if cache is not None:
            results += (new_cache,)
        if return_attention_weights:
            results += (weights,)
        return results[0] if len(results) == 1 else results

    def written_out_attention(self, q, k, v, mask, training=None):
        """``softmax(q k^T / sqrt(head_dim) + mask) v``, one step at a time.

        Args: q ``(batch, seq, n_heads, head_dim)``; k, v ``(batch, keys, n_heads, head_dim)``;
        mask ``(seq, keys)`` boolean. Returns the outputs ``(batch, seq, n_heads, head_dim)`` and
        the weights ``(batch, n_heads, seq, keys)``.
        """
        scores = ops.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
        # Softmax in float32: exp() of bfloat16 scores loses too much. -inf gives weight 0.
        scores = ops.where(mask[None, None], ops.cast(scores, "float32"), float("-inf"))
        weights = ops.cast(ops.softmax(scores, axis=-1), v.dtype)  # each row sums to 1
        dropped = self.attention_dropout(weights, training=training)
        return ops.einsum("bhqk,bkhd->bqhd", dropped, v), weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "d_model": self.d_model,
                "n_heads": self.n_heads,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "fused": self.fused,
                "rotary": self.rotary,
            }
        )
        return config
