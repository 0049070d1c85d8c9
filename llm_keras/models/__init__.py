"""The GPT of week 3: its validated configuration and the Keras model.

- ``gpt_config``: ``GPTConfig`` (dataclass, validated, ``preset``/``to_dict``/``from_dict``),
  ``PRESETS``
- ``gpt``: ``GPT`` (``keras.Model``: logits, weight tying, KV-cache decoding, parameter and FLOP
  counts)
"""

from llm_keras.models.gpt import GPT
from llm_keras.models.gpt_config import POSITIONALS, PRESETS, GPTConfig

__all__ = ["GPT", "GPTConfig", "POSITIONALS", "PRESETS"]
