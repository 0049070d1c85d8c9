"""The transformer block: attention and feed-forward, each wrapped in a residual connection and a
normalisation (week 2, "The transformer block: pre-LN against post-LN").

Two ways to place the normalisation:

- pre-LN (``norm_first=True``; GPT-2 and every large model since): normalise the input of each
  sublayer, keep the residual path untouched::

      x = x + dropout(attention(norm_1(x)))
      x = x + dropout(feed_forward(norm_2(x)))

  A model of pre-LN blocks needs one more normalisation after the last block (``GPT`` adds it).
- post-LN (``norm_first=False``; "Attention Is All You Need"): normalise after each addition::

      x = norm_1(x + dropout(attention(x)))
      x = norm_2(x + dropout(feed_forward(x)))

  It needs learning-rate warm-up to train deep stacks (Xiong et al. 2020).

Dropout is applied to each sublayer's output before it is added back (the paper's "residual
dropout"), and to the attention weights inside ``CausalSelfAttention``.
"""

import keras

from llm_keras.layers.causal_self_attention import CausalSelfAttention
from llm_keras.layers.feed_forward import FeedForward
from llm_keras.layers.normalization import NORMS


@keras.saving.register_keras_serializable(package="llm_keras")
class TransformerBlock(keras.layers.Layer):
    """One decoder block: causal self-attention then feed-forward, with residuals and norms.

    Args:
        d_model: features of each token, in and out.
        n_heads: attention heads; must divide ``d_model``.
        d_ff: hidden features of the feed-forward network (4 x ``d_model`` in GPT-2).
        dropout: dropout rate on the attention weights and on each residual branch.
        norm_first: ``True`` for pre-LN (GPT-2), ``False`` for post-LN (the 2017 paper).
        norm: ``"layernorm"`` or ``"rmsnorm"``.
        activation: feed-forward activation, ``"gelu"``, ``"relu"`` or ``"swiglu"``.
        use_bias: whether the dense layers have biases.
        fused_attention: use ``keras.ops.dot_product_attention`` inside the attention.
        fused_norm: the normalisations computed by one Keras op each (``LayerNorm(fused=True)``).
        rotary: rotate queries and keys by their positions (RoPE).
        layer_norm_epsilon: the normalisations' epsilon.
        **kwargs: passed to ``keras.layers.Layer``.

    Sublayers: ``attention_norm``, ``attention`` (``CausalSelfAttention``),
    ``feed_forward_norm``, ``feed_forward`` (``FeedForward``), ``residual_dropout``.

    Call arguments:
        inputs: ``(batch, seq, d_model)``.
        cache: optional KV cache of this block, ``(batch, 2, max_length, n_heads, head_dim)``.
        cache_index: with ``cache``, position of the first token of ``inputs``.
        training: ``True`` applies dropout.

    Returns:
        ``(batch, seq, d_model)``, or ``(outputs, new_cache)`` when ``cache`` is given.

    Example:

    >>> block = TransformerBlock(d_model=8, n_heads=2, d_ff=32)
    >>> y = block(keras.ops.ones((2, 10, 8)))     # (2, 10, 8)
    """

    def __init__(
        self,
        d_model,
        n_heads,
        d_ff,
        dropout=0.0,
        norm_first=True,
        norm="layernorm",
        activation="gelu",
        use_bias=True,
        fused_attention=False,
        fused_norm=False,
        rotary=False,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if norm not in NORMS:
            raise ValueError(f"Unknown norm {norm!r}: choose one of {', '.join(NORMS)}.")
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.dropout = dropout
        self.norm_first = norm_first
        self.norm = norm
        self.activation = activation
        self.use_bias = use_bias
        self.fused_attention = fused_attention
        self.fused_norm = fused_norm
        self.rotary = rotary
        self.layer_norm_epsilon = layer_norm_epsilon

        norm_class = NORMS[norm]
        self.attention_norm = norm_class(
            layer_norm_epsilon, fused=fused_norm, dtype=self.dtype_policy, name="attention_norm"
        )
        self.attention = CausalSelfAttention(
            d_model,
            n_heads,
            dropout=dropout,
            use_bias=use_bias,
            fused=fused_attention,
            rotary=rotary,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.feed_forward_norm = norm_class(
            layer_norm_epsilon, fused=fused_norm, dtype=self.dtype_policy, name="feed_forward_norm"
        )
        self.feed_forward = FeedForward(
            d_model,
            d_ff,
            activation=activation,
            use_bias=use_bias,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.residual_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def build(self, input_shape):
        for sublayer in (
            self.attention_norm,
            self.attention,
            self.feed_forward_norm,
            self.feed_forward,
        ):
            sublayer.build(input_shape)

    def call(self, inputs, cache=None, cache_index=None, training=None):
        x = inputs  # (batch, seq, d_model) all the way through
        attention_input = self.attention_norm(x) if self.norm_first else x
        attended = self.attention(
            attention_input, cache=cache, cache_index=cache_index, training=training
        )
        if cache is not None:
            attended, new_cache = attended
        x = x + self.residual_dropout(attended, training=training)
        if not self.norm_first:
            x = self.attention_norm(x)

        feed_forward_input = self.feed_forward_norm(x) if self.norm_first else x
        x = x + self.residual_dropout(self.feed_forward(feed_forward_input), training=training)
        if not self.norm_first:
            x = self.feed_forward_norm(x)
        return x if cache is None else (x, new_cache)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "d_model": self.d_model,
                "n_heads": self.n_heads,
                "d_ff": self.d_ff,
                "dropout": self.dropout,
                "norm_first": self.norm_first,
                "norm": self.norm,
                "activation": self.activation,
                "use_bias": self.use_bias,
                "fused_attention": self.fused_attention,
                "fused_norm": self.fused_norm,
                "rotary": self.rotary,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
