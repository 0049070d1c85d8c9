"""Shared pieces of the interop tests: small random GPTs, tokenizers, and transformers' GPT-2.

Every model here is built locally with random weights; nothing is downloaded. Weights are drawn
with a spread larger than GPT-2's initialisation (norms included), so that a weight put in the
wrong place changes the logits by far more than the tolerances.
"""

import keras
import numpy as np
import pytest

from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import ByteLevelBPETokenizer, CharTokenizer

HF_TOLERANCE = 1e-4  # our logits vs transformers' PyTorch GPT-2
KERAS_HUB_TOLERANCE = 1e-5  # our logits vs keras-hub's GPT2CausalLM


def random_gpt(seed=0, **config):
    """A ``GPT`` of ``GPTConfig(**config)`` (small defaults) with random weights."""
    config = {
        "vocab_size": 37,
        "context_length": 16,
        "d_model": 16,
        "n_layers": 2,
        "n_heads": 4,
        **config,
    }
    model = GPT(GPTConfig(**config))
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        value = rng.normal(0.0, 0.3, weight.shape) + (1.0 if weight.path.endswith("gamma") else 0.0)
        weight.assign(value.astype("float32"))
    return model


def logits(model, ids):
    return keras.ops.convert_to_numpy(model(np.asarray(ids, dtype="int32")))


def random_ids(vocab_size, shape=(2, 16), seed=1):
    return np.random.default_rng(seed).integers(0, vocab_size, shape).astype("int32")


@pytest.fixture(scope="session")
def shakespeare_bpe(tiny_shakespeare):
    """A byte-level BPE trained on the start of TinyShakespeare, with <|endoftext|>."""
    return ByteLevelBPETokenizer.train(
        tiny_shakespeare[:20_000], 300, ["<|endoftext|>"], progress=False
    )


@pytest.fixture(scope="session")
def shakespeare_chars(tiny_shakespeare):
    return CharTokenizer.train(tiny_shakespeare)


@pytest.fixture(scope="session")
def gpt2_tokenizer(data_dir):
    """GPT-2's own tokenizer (vocab.json + merges.txt from the course data)."""
    return ByteLevelBPETokenizer.from_gpt2_files(
        data_dir / "gpt2" / "vocab.json", data_dir / "gpt2" / "merges.txt"
    )


@pytest.fixture(scope="session")
def sample_text(tiny_shakespeare):
    return tiny_shakespeare[:2000]
