"""adamw_update, written from Loshchilov & Hutter's algorithm, takes the steps of Keras's AdamW."""

import keras
import numpy as np
import pytest

from llm_keras.training.adamw import adamw_update


def run(start, grads, **settings):
    param, m, v = start, np.zeros_like(start), np.zeros_like(start)
    for step, grad in enumerate(grads, start=1):
        param, m, v = adamw_update(param, grad, m, v, step, **settings)
    return [keras.ops.convert_to_numpy(a) for a in (param, m, v)]


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_several_steps_equal_keras_adamw(weight_decay):
    rng = np.random.default_rng(0)
    start = rng.normal(size=(4, 5)).astype("float32")
    grads = (0.1 * rng.normal(size=(6, 4, 5))).astype("float32")
    variable = keras.Variable(start)
    optimizer = keras.optimizers.AdamW(learning_rate=0.01, weight_decay=weight_decay,
                                       beta_1=0.9, beta_2=0.99, epsilon=1e-8)
    for grad in grads:
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [variable])
    param, m, v = run(start, grads, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8,
                      weight_decay=weight_decay)
    np.testing.assert_allclose(param, variable.numpy(), rtol=1e-5, atol=1e-6)
    # Keras keeps the same (uncorrected) moments.
    np.testing.assert_allclose(m, optimizer._momentums[0].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v, optimizer._velocities[0].numpy(), rtol=1e-5, atol=1e-9)


def test_the_first_step_is_lr_times_the_sign_of_the_gradient():
    """With bias correction, m_hat = g and v_hat = g ** 2 at step 1."""
    grad = np.float32([0.5, -0.001, 3.0])
    param, m, v = run(np.ones(3, "float32"), [grad], lr=0.1)
    np.testing.assert_allclose(param, 1.0 - 0.1 * np.sign(grad), rtol=1e-5)
    np.testing.assert_allclose(m, 0.1 * grad, rtol=1e-6)
    np.testing.assert_allclose(v, 0.001 * grad ** 2, rtol=1e-5)


def test_the_decay_is_decoupled_from_the_gradient():
    """A zero gradient leaves only the decay: p * (1 - lr * weight_decay), moments zero."""
    start = np.float32([1.0, -2.0, 4.0])
    param, m, v = run(start, [np.zeros(3, "float32")] * 3, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(param, start * 0.95 ** 3, rtol=1e-6)
    assert not m.any() and not v.any()
