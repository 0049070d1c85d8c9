import numpy as np
import pytest

from llm_keras.layers import ACTIVATIONS, FeedForward
from tests.llm_keras.keras_test_case import assert_close, run_serialization_test
from tests.llm_keras.layers import reference

D_MODEL, D_FF = 8, 16
X = np.random.default_rng(0).normal(size=(2, 5, D_MODEL)).astype("float32")


def make(activation, use_bias=True):
    layer = FeedForward(D_MODEL, D_FF, activation=activation, use_bias=use_bias)
    layer.build(X.shape)
    params = reference.feed_forward_params(
        np.random.default_rng(1), D_MODEL, D_FF, activation, use_bias
    )
    reference.set_feed_forward(layer, params)
    return layer, params


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_matches_numpy(activation):
    layer, params = make(activation)
    assert_close(layer(X), reference.feed_forward(X.astype("float64"), params, activation))


def test_gelu_is_the_tanh_approximation():
    # The exact GELU, x * Phi(x), differs from the tanh form by up to ~5e-4 around |x| ~ 2.
    from math import erf, sqrt

    x = np.linspace(-4, 4, 41)
    exact = x * 0.5 * (1 + np.vectorize(erf)(x / sqrt(2)))
    tanh_form = reference.gelu_tanh(x)
    assert np.abs(exact - tanh_form).max() > 1e-4
    layer = FeedForward(1, 1, activation="gelu", use_bias=False)
    layer.build((1, 41, 1))
    layer.up_projection.kernel.assign([[1.0]])
    layer.down_projection.kernel.assign([[1.0]])
    assert_close(layer(x.reshape(1, 41, 1).astype("float32"))[0, :, 0], tanh_form)


def test_parameter_counts():
    gelu, _ = make("gelu")
    swiglu, _ = make("swiglu", use_bias=False)
    assert sum(np.prod(w.shape) for w in gelu.weights) == 2 * D_MODEL * D_FF + D_FF + D_MODEL
    assert sum(np.prod(w.shape) for w in swiglu.weights) == 3 * D_MODEL * D_FF


def test_unknown_activation_lists_the_choices():
    with pytest.raises(ValueError, match="'tanh'.*gelu, relu, swiglu"):
        FeedForward(D_MODEL, D_FF, activation="tanh")


@pytest.mark.parametrize("activation", ["gelu", "swiglu"])
def test_serialization_round_trip(activation):
    layer, _ = make(activation, use_bias=False)
    run_serialization_test(layer, X)
    config = layer.get_config()
    assert (config["d_ff"], config["activation"], config["use_bias"]) == (D_FF, activation, False)
