"""Layer normalisation and RMS normalisation, written out (week 2, "Layer normalisation").

Deep stacks train well only if the size of the activations stays under control. A
normalisation layer rescales each token's vector on its own (never mixing tokens or sequences):

- ``LayerNorm`` (Ba et al. 2016; GPT-2): subtract the mean of the features, divide by their
  standard deviation, then apply a learned scale ``gamma`` and offset ``beta``.
- ``RMSNorm`` (Zhang and Sennrich 2019; Llama): divide by the root mean square of the features,
  then a learned scale. No mean, no offset: cheaper, and it works as well in practice.

Both compute in float32 even under mixed precision (squares of bfloat16 numbers lose precision).
``NORMS`` maps the names a ``GPTConfig`` accepts to the classes.

``fused=True`` (``GPTConfig.fused_norm``) computes the same formula with one Keras op instead
(``ops.layer_normalization``, ``ops.rms_normalization``): on PyTorch one kernel
(``F.layer_norm``, ``F.rms_norm``), forward and backward, where the written-out formula costs
six operations and their autograd nodes per call; the same numbers to float32 rounding
(tested). The written-out ``call`` is the one to read.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="llm_keras")
class LayerNorm(keras.layers.Layer):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` over the last axis.

    ``mean`` and the (biased) variance ``var`` are taken over the ``d_model`` features of each
    token. Same numbers as ``keras.layers.LayerNormalization(epsilon=epsilon)``.

    Args:
        epsilon: added to the variance so a constant vector does not divide by zero.
        fused: compute it with ``ops.layer_normalization`` (one kernel on PyTorch).
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: ``(batch, seq, d_model)`` (any shape: the last axis is normalised).

    Returns:
        Same shape as ``inputs``, in the compute dtype.

    Example:

    >>> norm = LayerNorm(epsilon=1e-5)
    >>> y = norm(keras.ops.ones((2, 10, 8)))      # (2, 10, 8); each row has mean 0 (here all 0)
    """

    def __init__(self, epsilon=1e-5, fused=False, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.fused = fused

    def build(self, input_shape):
        d_model = input_shape[-1]
        self.gamma = self.add_weight(shape=(d_model,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(d_model,), initializer="zeros", name="beta")

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.fused:
            normalized = ops.layer_normalization(x, self.gamma, self.beta, epsilon=self.epsilon)
            return ops.cast(normalized, self.compute_dtype)
        mean = ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
        normalized = ops.cast((x - mean) * ops.rsqrt(variance + self.epsilon), self.compute_dtype)
        return normalized * self.gamma + self.beta

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "fused": self.fused})
        return config


@keras.saving.register_keras_serializable(package="llm_keras")
class RMSNorm(keras.layers.Layer):
    """``scale * x / sqrt(mean(x ** 2) + epsilon)`` over the last axis.

    Args:
        epsilon: added to the mean square so a zero vector does not divide by zero.
        fused: compute it with ``ops.rms_normalization`` (one kernel on PyTorch).
        **kwargs: passed to ``keras.layers.Layer``.

    Call arguments:
        inputs: ``(batch, seq, d_model)`` (any shape: the last axis is normalised).

    Returns:
        Same shape as ``inputs``, in the compute dtype.

    Example:

    >>> norm = RMSNorm(epsilon=1e-5)
    >>> y = norm(keras.ops.ones((2, 10, 8)))      # (2, 10, 8); rows of ones stay ones
    """

    def __init__(self, epsilon=1e-5, fused=False, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.fused = fused

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.fused:
            normalized = ops.rms_normalization(x, self.scale, epsilon=self.epsilon)
            return ops.cast(normalized, self.compute_dtype)
        mean_square = ops.mean(ops.square(x), axis=-1, keepdims=True)
        normalized = ops.cast(x * ops.rsqrt(mean_square + self.epsilon), self.compute_dtype)
        return normalized * self.scale

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "fused": self.fused})
        return config


NORMS = {"layernorm": LayerNorm, "rmsnorm": RMSNorm}
