"""Tokenizers of the course (week 1): text -> token ids -> text.

- ``CharTokenizer``: one id per character (nanoGPT's shakespeare_char).
- ``WordBPETokenizer``: classic word-level BPE with an end-of-word marker (Sennrich et al., 2016).
- ``ByteLevelBPETokenizer``: GPT-2's byte-level BPE, trainable, and loadable from GPT-2's files.

All share ``Tokenizer``'s interface: ``encode``, ``decode``, ``vocab_size``, ``save``, ``load``.
"""

from llm_keras.tokenizers.base import Tokenizer
from llm_keras.tokenizers.byte_level_bpe_tokenizer import ByteLevelBPETokenizer
from llm_keras.tokenizers.char_tokenizer import CharTokenizer
from llm_keras.tokenizers.pretokenization import GPT2_SPLIT_PATTERN
from llm_keras.tokenizers.word_bpe_tokenizer import WordBPETokenizer

__all__ = [
    "Tokenizer",
    "CharTokenizer",
    "WordBPETokenizer",
    "ByteLevelBPETokenizer",
    "GPT2_SPLIT_PATTERN",
]
