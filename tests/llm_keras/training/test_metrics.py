"""Perplexity and bits per character are exp(loss) and loss / ln 2, accumulated over batches."""

import math

import keras
import numpy as np
import pytest

from llm_keras.training.losses import CausalLMLoss
from llm_keras.training.metrics import BitsPerCharacter, Perplexity


@pytest.fixture
def batches():
    rng = np.random.default_rng(1)
    return [
        (rng.integers(0, 7, size=(2, 6)), rng.normal(size=(2, 6, 7)).astype("float32"))
        for _ in range(3)
    ]


def mean_loss(batches):
    return np.mean([float(CausalLMLoss()(t, z)) for t, z in batches])


def test_perplexity_is_exp_of_the_mean_loss(batches):
    metric = Perplexity()
    for targets, logits in batches:
        metric.update_state(targets, logits)
    np.testing.assert_allclose(float(metric.result()), math.exp(mean_loss(batches)), rtol=1e-5)
    metric.reset_state()
    metric.update_state(*batches[0])
    np.testing.assert_allclose(float(metric.result()), math.exp(mean_loss(batches[:1])), rtol=1e-5)


def test_uniform_guess_has_perplexity_vocab_size():
    metric = Perplexity()
    metric.update_state(np.zeros((1, 3), "int32"), np.zeros((1, 3, 65), "float32"))
    np.testing.assert_allclose(float(metric.result()), 65.0, rtol=1e-5)


def test_bits_per_character_is_loss_over_ln2_times_tokens_per_character(batches):
    chars, subwords = BitsPerCharacter(), BitsPerCharacter(tokens_per_character=0.25)
    for targets, logits in batches:
        chars.update_state(targets, logits)
        subwords.update_state(targets, logits)
    bits = mean_loss(batches) / math.log(2)
    np.testing.assert_allclose(float(chars.result()), bits, rtol=1e-5)
    np.testing.assert_allclose(float(subwords.result()), bits * 0.25, rtol=1e-5)
    revived = keras.metrics.deserialize(keras.metrics.serialize(subwords))
    assert revived.tokens_per_character == 0.25


def test_tokens_per_character_must_be_positive():
    with pytest.raises(ValueError, match="tokens_per_character=0 must be positive"):
        BitsPerCharacter(tokens_per_character=0)


def test_the_fused_kernel_gives_the_same_metrics(batches):
    """``fused=True`` (``token_losses(..., fused=True)``): the same perplexity and bits."""
    for metric_class in (Perplexity, BitsPerCharacter):
        written, fused = metric_class(), metric_class(fused=True)
        for targets, logits in batches:
            written.update_state(targets, logits)
            fused.update_state(targets, logits)
        np.testing.assert_allclose(float(fused.result()), float(written.result()), rtol=1e-6)
        assert metric_class.from_config(fused.get_config()).fused is True
