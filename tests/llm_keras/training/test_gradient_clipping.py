"""clip_by_global_norm scales every gradient by one factor, as Keras's global_clipnorm does."""

import keras
import numpy as np
import pytest

from llm_keras.training.gradient_clipping import clip_by_global_norm, global_norm


def numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in values]


def test_norm_five_clipped_to_one():
    clipped = numpy(clip_by_global_norm([np.float32([3.0]), np.float32([[4.0]])], 1.0))
    np.testing.assert_allclose(clipped[0], [0.6], rtol=1e-6)
    np.testing.assert_allclose(clipped[1], [[0.8]], rtol=1e-6)


def test_gradients_within_the_norm_and_zero_gradients_are_unchanged():
    grads = [np.float32([3.0]), np.float32([[4.0]])]
    for got, expected in zip(numpy(clip_by_global_norm(grads, 5.5)), grads, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert not numpy(clip_by_global_norm([np.zeros(3, "float32")], 1.0))[0].any()


def test_equals_the_update_of_keras_global_clipnorm():
    """SGD with learning rate 1 subtracts the clipped gradients: compare with Keras's own."""
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=shape).astype("float32") for shape in ((3, 4), (4,), (2, 2, 2))]
    assert float(global_norm(grads)) > 2.0
    variables = [keras.Variable(np.zeros_like(g)) for g in grads]
    keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=2.0).apply(
        [keras.ops.convert_to_tensor(g) for g in grads], variables)
    for got, variable in zip(numpy(clip_by_global_norm(grads, 2.0)), variables, strict=True):
        np.testing.assert_allclose(got, -variable.numpy(), rtol=1e-5, atol=1e-7)
    norm = np.sqrt(sum(float(np.sum(g.astype("float64") ** 2)) for g in grads))
    np.testing.assert_allclose(float(global_norm(grads)), norm, rtol=1e-6)


def test_a_bad_max_norm_is_named():
    with pytest.raises(ValueError, match="max_norm=0"):
        clip_by_global_norm([np.ones(2)], 0)
