"""The GPT of week 3: its validated configuration and the Keras model.

- ``gpt_config``: ``GPTConfig`` (dataclass, validated, ``preset``/``to_dict``/``from_dict``),
  ``PRESETS``
- ``gpt``: ``GPT`` (``keras.Model``: logits, weight tying, KV-cache decoding, parameter and FLOP
  counts)
- ``sizes``: ``parameter_count``, ``flops_per_token`` from a configuration, without weights
"""

from llm_keras.lazy_exports import lazy_exports

# Loaded on first use: a configuration and its sizes need no Keras (``llm-keras budget``);
# reading ``llm_keras.models.GPT`` imports Keras and registers the model's classes for loading
# ``.keras`` files (as ``import llm_keras.models.gpt`` does).
__getattr__, __all__ = lazy_exports(__name__, {
    "gpt": ("GPT",),
    "gpt_config": ("GPTConfig", "POSITIONALS", "PRESETS"),
    "sizes": ("flops_per_token", "parameter_count"),
})  # fmt: skip
