"""Gradients on any backend: the one backend-specific piece of a hand-written training loop
(week 3, "The training loop").

Each backend differentiates in its own way: TensorFlow records the operations on a
``tf.GradientTape``, PyTorch on the tensors themselves (``loss.backward()`` fills each weight's
``.grad``), and JAX differentiates a pure function of the weights' values (``jax.grad``). Keras 3
runs a model as a pure function of given values inside a ``keras.StatelessScope``, so one small
function hides the difference, and the rest of the loop (the forward pass, the loss,
``optimizer.apply``) is the same Keras code on all three, as keras.io's "Writing a training loop
from scratch" guides show per backend.
"""

import keras


def value_and_gradients(loss_fn, variables):
    """``loss_fn()`` and its gradient with respect to each of ``variables``.

    Args:
        loss_fn: a function of no arguments that runs the model on a batch and returns the
            scalar loss (it reads the weights through the model, as usual).
        variables: the Keras variables to differentiate for, e.g. ``model.trainable_variables``.

    Returns:
        ``(loss, grads)``: the scalar loss (no longer tracked for gradients) and a list of
        gradients, one per variable, in the same order, ready for
        ``optimizer.apply(grads, variables)``.

    Example:
        >>> loss, grads = value_and_gradients(lambda: loss_of(model(x), y),
        ...                                   model.trainable_variables)
        >>> optimizer.apply(grads, model.trainable_variables)
    """
    variables = list(variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, [v.value for v in variables])
    if backend == "torch":
        import torch

        values = [v.value for v in variables]
        with torch.enable_grad():
            loss = loss_fn()
            grads = torch.autograd.grad(loss, values, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g
                 for g, p in zip(grads, values, strict=True)]
        return loss.detach(), grads
    if backend == "jax":
        import jax

        def pure_loss(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return loss_fn()

        return jax.value_and_grad(pure_loss)([v.value for v in variables])
    raise ValueError(
        f"value_and_gradients supports the jax, tensorflow and torch backends, not {backend!r}: "
        "set KERAS_BACKEND to one of them."
    )
