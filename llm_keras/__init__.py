"""llm_keras: build a large language model from scratch in Keras 3.

The reference library of the course. Each subpackage holds the code of one part of the course
and is read beside its chapter:

- ``llm_keras.data`` (week 1): corpora (TinyShakespeare), splits, cleaning and filtering of
  raw text, next-token windows.
- ``llm_keras.tokenizers`` (week 1): character, classic word-level BPE and GPT-2-style
  byte-level BPE.
- ``llm_keras.layers`` (week 2): the GPT's layers, one idea per file (embeddings, positions,
  causal self-attention with a KV cache, feed-forward, normalisation, the transformer block).
- ``llm_keras.models`` (week 3): ``GPTConfig`` (validated, with presets) and the ``GPT`` model.
- ``llm_keras.training`` (week 3): the loss, the optimiser, training a GPT and the run
  directory it leaves behind; the compute budget (week 5).
- ``llm_keras.generation``, ``llm_keras.interop``, ``llm_keras.serving`` (week 4): sampling
  with a KV cache, sharing with Hugging Face and keras-hub, the Gradio demo.
- ``llm_keras.distributed`` (week 5): training on many devices.
- ``llm_keras.environment``: what this set-up runs on (backend, versions, devices).

Importing ``llm_keras`` does not import Keras: the tokenizers and data tools stay fast to load,
and the Keras backend is chosen only when a model is built.
"""

__version__ = "0.1.0"
