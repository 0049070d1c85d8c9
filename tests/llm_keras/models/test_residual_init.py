"""GPT-2's scaled initialisation of the residual projections (nanoGPT's, used by the presets)."""

import math

import keras
import numpy as np

from llm_keras.models import GPT, GPTConfig
from tests.llm_keras.keras_test_case import to_numpy

SIZES = dict(vocab_size=65, context_length=16, d_model=128, n_layers=3, n_heads=4)


def kernel_std(dense):
    return float(np.std(to_numpy(dense.kernel)))


def test_residual_projections_start_smaller_by_sqrt_2_layers():
    keras.utils.set_random_seed(0)
    model = GPT(GPTConfig(**SIZES, scaled_residual_init=True))
    scaled = 0.02 / math.sqrt(2 * 3)
    for block in model.blocks:
        attention, feed_forward = block.attention, block.feed_forward
        expected = {
            attention.output_projection: scaled,
            feed_forward.down_projection: scaled,
            attention.query: 0.02,
            feed_forward.up_projection: 0.02,
        }
        for dense, std in expected.items():
            np.testing.assert_allclose(kernel_std(dense), std, rtol=0.05)


def test_off_by_default_and_in_the_cpu_preset_on_in_the_others():
    keras.utils.set_random_seed(0)
    plain = GPT(GPTConfig(**SIZES))
    np.testing.assert_allclose(kernel_std(plain.blocks[0].attention.output_projection), 0.02,
                               rtol=0.05)  # fmt: skip
    assert not GPTConfig.preset("shakespeare-char-cpu").scaled_residual_init
    for name in ("shakespeare-char", "gpt2-small"):
        assert GPTConfig.preset(name).scaled_residual_init


def test_a_saved_model_keeps_its_trained_weights(tmp_path):
    model = GPT(GPTConfig(**SIZES, scaled_residual_init=True))
    ids = np.arange(16)[None] % 65
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(to_numpy(loaded(ids)), to_numpy(model(ids)))
