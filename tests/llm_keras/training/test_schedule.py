"""WarmupCosineDecay gives nanoGPT's get_lr, value for value."""

import math

import keras
import numpy as np
import pytest

from llm_keras.training.schedule import WarmupCosineDecay


def nanogpt_get_lr(it, learning_rate=1e-3, warmup_iters=100, lr_decay_iters=2000, min_lr=1e-4):
    """nanoGPT train.py's get_lr, copied."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


STEPS = [0, 1, 50, 99, 100, 101, 500, 1050, 1999, 2000, 2001, 5000]


def test_equals_nanogpt_get_lr():
    schedule = WarmupCosineDecay(1e-3, warmup_steps=100, decay_steps=2000, min_learning_rate=1e-4)
    actual = [float(schedule(step)) for step in STEPS]
    np.testing.assert_allclose(actual, [nanogpt_get_lr(s) for s in STEPS], rtol=2e-6)


def test_exact_values():
    schedule = WarmupCosineDecay(1.0, warmup_steps=3, decay_steps=7, min_learning_rate=0.1)
    expected = [0.25, 0.5, 0.75, 1.0, 0.86819805, 0.55, 0.23180195, 0.1, 0.1]
    np.testing.assert_allclose([float(schedule(i)) for i in range(9)], expected, rtol=1e-6)


def test_accumulation_counts_optimizer_steps():
    plain = WarmupCosineDecay(1.0, 3, 7, 0.1)
    accumulated = WarmupCosineDecay(1.0, 3, 7, 0.1, accumulation_steps=4)
    for micro_step in range(28):
        assert float(accumulated(micro_step)) == float(plain(micro_step // 4))


def test_round_trips_through_keras_serialization():
    schedule = WarmupCosineDecay(6e-4, 200, 5000, 6e-5, accumulation_steps=2)
    revived = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(revived, WarmupCosineDecay) and revived.get_config() == schedule.get_config()


def test_bad_settings_name_the_values():
    with pytest.raises(ValueError, match="warmup_steps=100 and decay_steps=100"):
        WarmupCosineDecay(1e-3, 100, 100)
    with pytest.raises(ValueError, match="min_learning_rate=0.01 and peak_learning_rate=0.001"):
        WarmupCosineDecay(1e-3, 10, 100, min_learning_rate=1e-2)
