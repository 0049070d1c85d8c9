"""Generating text with a GPT (week 4): samplers, a compiled decoding loop with a KV cache,
streaming.

- ``samplers``: ``next_token`` (temperature, then top-k, then top-p, then a seeded draw),
  ``greedy_token``, ``apply_temperature``, ``top_k_filter``, ``top_p_filter``, ``sample_token``
- ``decode``: ``generate`` and ``stream_ids``: token ids in, new token ids out; a KV cache,
  fixed shapes, compiled once per (batch, max_length); the window slides past the context;
  ``forget_compiled`` after changing a model's layers
- ``streaming``: ``generate_text``, ``stream_text`` (text in, text out) and
  ``IncrementalDecoder`` (ids to text without splitting a character)
- ``compiled``: ``compile_for_backend``, the one backend-specific function
- ``command``: ``llm-keras generate``

Importing this package does not import Keras (the command line stays fast to start): each name
is loaded from its module on first use.
"""

from llm_keras.lazy_exports import lazy_exports

_NAMES = {
    "samplers": (
        "apply_temperature", "check_sampling_options", "greedy_token", "next_token",
        "sample_token", "top_k_filter", "top_p_filter",
    ),
    "decode": ("check_prompts", "compiled_for_model", "default_max_length", "forget_compiled", "generate",
               "stream_ids"),
    "streaming": ("IncrementalDecoder", "generate_text", "stream_text"),
    "compiled": ("compile_for_backend",),
}  # fmt: skip
__getattr__, __all__ = lazy_exports(__name__, _NAMES)
