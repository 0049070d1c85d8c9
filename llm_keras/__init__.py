"""llm_keras: build a large language model from scratch in Keras 3.

The reference library of the course. Each subpackage holds the code of one part of the course
and is read beside its chapter:

- ``llm_keras.data``: corpora (TinyShakespeare), splits, cleaning and filtering of raw text.
- ``llm_keras.tokenizers``: character, classic word-level BPE and GPT-2-style byte-level BPE.

Importing ``llm_keras`` does not import Keras: the tokenizers and data tools stay fast to load,
and the Keras backend is chosen only when a model is built.
"""

__version__ = "0.1.0"
