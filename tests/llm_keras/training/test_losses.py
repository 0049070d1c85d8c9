"""CausalLMLoss against a float64 NumPy reference, for ordinary and huge logits."""

import keras
import numpy as np
import pytest

from llm_keras.training.losses import CausalLMLoss, token_losses
from tests.llm_keras.keras_test_case import to_numpy


def reference_losses(targets, logits):
    """-log softmax(logits)[target] in float64, written the obvious way (scipy-free)."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, 11, size=(3, 5)), rng.normal(size=(3, 5, 11)).astype("float32")


def test_loss_equals_the_float64_reference(batch):
    targets, logits = batch
    expected = reference_losses(targets, logits)
    np.testing.assert_allclose(to_numpy(token_losses(targets, logits)), expected, rtol=1e-6)
    np.testing.assert_allclose(float(CausalLMLoss()(targets, logits)), expected.mean(), rtol=1e-6)


def test_logits_times_1000_stay_finite_and_exact(batch):
    targets, logits = batch
    big = logits * 1000  # exp(1000) overflows float32 (and float64)
    loss = to_numpy(token_losses(targets, big))
    assert np.isfinite(loss).all()
    np.testing.assert_allclose(loss, reference_losses(targets, big), rtol=1e-5, atol=1e-3)
    # The gradient is softmax - one_hot: finite too.
    assert loss.max() > 100  # wrong guesses at this scale are very costly


def test_equals_keras_sparse_categorical_crossentropy(batch):
    targets, logits = batch
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets, logits)
    np.testing.assert_allclose(float(CausalLMLoss()(targets, logits)), float(keras_loss), rtol=1e-6)


def test_uniform_logits_cost_log_vocab():
    targets = np.zeros((2, 4), dtype="int32")
    loss = CausalLMLoss()(targets, np.zeros((2, 4, 65), dtype="float32"))
    np.testing.assert_allclose(float(loss), np.log(65), rtol=1e-6)


def test_targets_are_aligned_as_next_tokens():
    # A "model" that puts all its mass on ids[t] + 1 scores zero loss only against the
    # inputs moved one step left (the next tokens), not against the inputs themselves.
    ids = np.array([[1, 2, 3, 4, 5]])
    inputs, targets = ids[:, :-1], ids[:, 1:]
    logits = np.where(np.arange(8)[None, None, :] == inputs[..., None] + 1, 50.0, -50.0)
    assert float(CausalLMLoss()(targets, logits.astype("float32"))) < 1e-6
    assert float(CausalLMLoss()(inputs, logits.astype("float32"))) > 50


def test_bfloat16_logits_are_computed_in_float32(batch):
    targets, logits = batch
    loss = token_losses(targets, keras.ops.cast(logits, "bfloat16"))
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"


def test_loss_round_trips_through_its_config():
    loss = keras.losses.deserialize(keras.losses.serialize(CausalLMLoss()))
    assert isinstance(loss, CausalLMLoss) and loss.name == "causal_lm_loss"


def test_the_fused_kernel_gives_the_written_out_numbers(batch):
    """``fused=True`` (``F.cross_entropy`` on PyTorch): the float64 reference's losses, finite
    for logits a thousand times larger, float32 for bfloat16 logits, and the same gradient
    for the logits as the written-out formula."""
    from llm_keras.training.gradients import value_and_gradients

    targets, logits = batch
    expected = reference_losses(targets, logits)
    np.testing.assert_allclose(to_numpy(token_losses(targets, logits, fused=True)), expected,
                               rtol=1e-6)  # fmt: skip
    loss = CausalLMLoss(fused=True)
    np.testing.assert_allclose(float(loss(targets, logits)), expected.mean(), rtol=1e-6)
    assert CausalLMLoss.from_config(loss.get_config()).fused is True
    big = logits * 1000
    np.testing.assert_allclose(to_numpy(token_losses(targets, big, fused=True)),
                               reference_losses(targets, big), rtol=1e-5, atol=1e-3)  # fmt: skip
    half = token_losses(targets, keras.ops.cast(logits, "bfloat16"), fused=True)
    assert keras.backend.standardize_dtype(half.dtype) == "float32"
    gradients = []
    for fused in (False, True):
        variable = keras.Variable(logits)
        _, (grad,) = value_and_gradients(
            lambda v=variable, f=fused: keras.ops.mean(token_losses(targets, v, f)), [variable])
        gradients.append(to_numpy(grad))
    np.testing.assert_allclose(gradients[1], gradients[0], rtol=1e-5, atol=1e-7)
