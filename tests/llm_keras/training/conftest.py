"""Shared pieces of the training tests: a tiny GPT and a small slice of TinyShakespeare.

PyTorch runs these tiny models on one thread: with two, its OpenMP threads spin-wait for each
other, which on a busy 2-core machine makes each small step many times slower.
"""

import keras
import numpy as np
import pytest

from llm_keras.models import GPT, GPTConfig

if keras.backend.backend() == "torch":
    import torch

    torch.set_num_threads(1)

TINY = dict(vocab_size=65, context_length=16, d_model=32, n_layers=1, n_heads=2)


def tiny_gpt(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return GPT(GPTConfig.preset("shakespeare-char-cpu", **{**TINY, **overrides}))


@pytest.fixture(scope="session")
def small_text(tiny_shakespeare):
    return tiny_shakespeare[:20_000]


@pytest.fixture(scope="session")
def small_ids(tiny_shakespeare, small_text):
    from llm_keras.tokenizers import CharTokenizer

    tokenizer = CharTokenizer.train(tiny_shakespeare)  # nanoGPT's 65 ids
    return np.asarray(tokenizer.encode(small_text), dtype=np.int32)
