"""llm_keras: build a large language model from scratch in Keras 3.

The reference library of the course. Each subpackage holds the code of one part of the course
and is read beside its chapter:

- ``llm_keras.data``: corpora (TinyShakespeare), splits, cleaning and filtering of raw text.
- ``llm_keras.tokenizers``: character, classic word-level BPE and GPT-2-style byte-level BPE.
- ``llm_keras.layers``: the GPT's layers, one idea per file (embeddings, positions, causal
  self-attention with a KV cache, feed-forward, normalisation, the transformer block).
- ``llm_keras.models``: ``GPTConfig`` (validated, with presets) and the ``GPT`` model.
- ``llm_keras.training``: training a GPT and the run directory it leaves behind.
- ``llm_keras.environment``: what this set-up runs on (backend, versions, devices).

Importing ``llm_keras`` does not import Keras: the tokenizers and data tools stay fast to load,
and the Keras backend is chosen only when a model is built.
"""

__version__ = "0.1.0"
