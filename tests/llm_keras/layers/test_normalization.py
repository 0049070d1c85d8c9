import keras
import numpy as np
import pytest

from llm_keras.layers import NORMS, LayerNorm, RMSNorm
from tests.llm_keras.keras_test_case import assert_close, run_serialization_test, to_numpy
from tests.llm_keras.layers.reference import layer_norm, rms_norm

D_MODEL = 8
rng = np.random.default_rng(0)
X = (3 + 2 * rng.normal(size=(2, 5, D_MODEL))).astype("float32")
GAMMA, BETA = 1 + 0.1 * rng.normal(size=D_MODEL), 0.1 * rng.normal(size=D_MODEL)


def make(layer_class, epsilon=1e-5):
    layer = layer_class(epsilon=epsilon)
    layer.build(X.shape)
    if layer_class is LayerNorm:
        layer.gamma.assign(GAMMA)
        layer.beta.assign(BETA)
    else:
        layer.scale.assign(GAMMA)
    return layer


def test_layer_norm_matches_numpy_and_keras():
    layer = make(LayerNorm, epsilon=1e-3)
    assert_close(layer(X), layer_norm(X.astype("float64"), GAMMA, BETA, 1e-3))
    keras_norm = keras.layers.LayerNormalization(epsilon=1e-3)
    keras_norm.build(X.shape)
    keras_norm.set_weights([GAMMA, BETA])
    assert_close(layer(X), keras_norm(X))


def test_layer_norm_output_has_zero_mean_unit_variance_before_scaling():
    out = to_numpy(LayerNorm(epsilon=0.0)(X))  # gamma = 1, beta = 0 at first
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=-1), 1, atol=1e-4)


def test_rms_norm_matches_numpy():
    layer = make(RMSNorm, epsilon=1e-3)
    assert_close(layer(X), rms_norm(X.astype("float64"), GAMMA, 1e-3))
    assert [w.name for w in layer.weights] == ["scale"]


def test_mixed_precision_computes_in_float32_returns_compute_dtype():
    layer = LayerNorm(dtype="mixed_bfloat16")
    out = layer(X * 100)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    expected = layer_norm(X.astype("float64") * 100, 1.0, 0.0, 1e-5)
    np.testing.assert_allclose(to_numpy(out).astype("float32"), expected, atol=0.05)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_serialization_round_trip(name):
    layer = make(NORMS[name], epsilon=1e-3)
    run_serialization_test(layer, X)
    assert layer.get_config()["epsilon"] == 1e-3


@pytest.mark.parametrize("name", sorted(NORMS))
def test_the_fused_kernel_gives_the_written_out_numbers_and_gradients(name):
    """``fused=True`` (one Keras op: ``F.layer_norm`` / ``F.rms_norm`` on PyTorch) computes
    the written-out formula: the same outputs, and the same gradients for the input and the
    weights, against the NumPy reference too."""
    from llm_keras.training.gradients import value_and_gradients

    written, fused = make(NORMS[name], epsilon=1e-3), NORMS[name](epsilon=1e-3, fused=True)
    fused.build(X.shape)
    fused.set_weights(written.get_weights())
    reference = (layer_norm(X.astype("float64"), GAMMA, BETA, 1e-3) if name == "layernorm"
                 else rms_norm(X.astype("float64"), GAMMA, 1e-3))  # fmt: skip
    assert_close(fused(X), reference)
    assert_close(fused(X), written(X))
    weights = keras.ops.convert_to_tensor(
        np.random.default_rng(1).normal(size=X.shape).astype("float32"))
    gradients = []
    for layer in (written, fused):
        x = keras.Variable(X)

        def loss(layer=layer, x=x):
            return keras.ops.sum(layer(x) * weights)

        _, grads = value_and_gradients(loss, [x, *layer.trainable_variables])
        gradients.append([to_numpy(g) for g in grads])
    for written_grad, fused_grad in zip(*gradients, strict=True):
        np.testing.assert_allclose(fused_grad, written_grad, rtol=1e-4, atol=1e-4)
    assert fused.get_config()["fused"] is True
    run_serialization_test(fused, X)
