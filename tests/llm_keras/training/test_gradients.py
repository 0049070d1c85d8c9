"""value_and_gradients: the same numbers as the backend's own differentiation, and one
hand-written training step equal to Keras's train_on_batch on the backend under test."""

import keras
import numpy as np

from llm_keras.training.gradients import value_and_gradients
from llm_keras.training.losses import CausalLMLoss, token_losses


def test_gradient_of_a_quadratic():
    """loss = sum(w * w * c): gradient 2 * w * c, whatever the backend."""
    w = keras.Variable(np.float32([1.0, -2.0, 3.0]))
    c = keras.ops.convert_to_tensor(np.float32([1.0, 0.5, 2.0]))
    loss, (grad,) = value_and_gradients(lambda: keras.ops.sum(w * w * c), [w])
    np.testing.assert_allclose(float(loss), 1.0 + 2.0 + 18.0, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(grad), [2.0, -2.0, 12.0], rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), [1.0, -2.0, 3.0])  # the weights are not changed


def small_model():
    return keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(9, 8),
                             keras.layers.LayerNormalization(), keras.layers.Dense(9)])


def test_a_hand_written_step_equals_train_on_batch():
    rng = np.random.default_rng(0)
    model, twin = small_model(), small_model()
    twin.set_weights(model.get_weights())
    x, y = (rng.integers(0, 9, size=(3, 5)).astype("int32") for _ in range(2))
    optimizer = keras.optimizers.AdamW(0.01, weight_decay=0.1, beta_2=0.99, global_clipnorm=1.0)
    twin.compile(optimizer=keras.optimizers.AdamW(0.01, weight_decay=0.1, beta_2=0.99,
                                                  global_clipnorm=1.0), loss=CausalLMLoss())
    for _ in range(2):
        loss, grads = value_and_gradients(
            lambda: keras.ops.mean(token_losses(y, model(x, training=True))),
            model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        np.testing.assert_allclose(float(loss), float(twin.train_on_batch(x, y)), rtol=1e-5)
    for ours, theirs in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
