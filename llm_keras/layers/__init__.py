"""The layers of a GPT, one idea per file, read beside week 2 of the course.

- ``token_embedding``: ``TokenEmbedding`` (ids -> vectors, and the tied output projection)
- ``positional_embedding``: ``LearnedPositionalEmbedding``, ``SinusoidalPositionalEncoding``
- ``rotary_embedding``: ``RotaryEmbedding`` (RoPE)
- ``causal_self_attention``: ``CausalSelfAttention`` (multi-head, fused path, KV cache),
  ``causal_mask``
- ``feed_forward``: ``FeedForward`` (GELU, ReLU, SwiGLU)
- ``normalization``: ``LayerNorm``, ``RMSNorm``
- ``transformer_block``: ``TransformerBlock`` (pre-LN and post-LN)

Every layer is a registered Keras object (``"llm_keras>ClassName"``), so models built from them
save to ``.keras`` files and load on any backend.
"""

from llm_keras.layers.causal_self_attention import CausalSelfAttention, causal_mask
from llm_keras.layers.feed_forward import ACTIVATIONS, FeedForward
from llm_keras.layers.normalization import NORMS, LayerNorm, RMSNorm
from llm_keras.layers.positional_embedding import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
)
from llm_keras.layers.rotary_embedding import RotaryEmbedding
from llm_keras.layers.token_embedding import TokenEmbedding
from llm_keras.layers.transformer_block import TransformerBlock

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "CausalSelfAttention",
    "FeedForward",
    "LayerNorm",
    "LearnedPositionalEmbedding",
    "RMSNorm",
    "RotaryEmbedding",
    "SinusoidalPositionalEncoding",
    "TokenEmbedding",
    "TransformerBlock",
    "causal_mask",
]
