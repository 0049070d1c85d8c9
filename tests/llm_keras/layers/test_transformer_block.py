import numpy as np
import pytest
from keras import ops

from llm_keras.layers import TransformerBlock
from tests.llm_keras.keras_test_case import (
    assert_close,
    decode_with_cache,
    run_serialization_test,
    to_numpy,
)
from tests.llm_keras.layers import reference

D_MODEL, N_HEADS, D_FF = 8, 2, 16
X = np.random.default_rng(0).normal(size=(2, 5, D_MODEL)).astype("float32")

VARIANTS = {
    "pre-LN (GPT-2)": dict(norm_first=True),
    "post-LN (2017)": dict(norm_first=False, activation="relu"),
    "pre-RMSNorm, SwiGLU, RoPE": dict(norm="rmsnorm", activation="swiglu", rotary=True),
}


def make(**kwargs):
    block = TransformerBlock(D_MODEL, N_HEADS, D_FF, **kwargs)
    block.build(X.shape)
    params = reference.block_params(
        np.random.default_rng(1), D_MODEL, D_FF, kwargs.get("activation", "gelu")
    )
    reference.set_block(block, params)
    return block, params


@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_numpy(variant):
    kwargs = VARIANTS[variant]
    block, params = make(**kwargs, layer_norm_epsilon=1e-3)
    expected = reference.block(
        X.astype("float64"),
        params,
        N_HEADS,
        norm_first=kwargs.get("norm_first", True),
        norm_kind=kwargs.get("norm", "layernorm"),
        activation=kwargs.get("activation", "gelu"),
        rotary=kwargs.get("rotary", False),
        epsilon=1e-3,
    )
    assert_close(block(X), expected)


def test_pre_and_post_ln_differ():
    pre_ln, post_ln = make(norm_first=True)[0], make(norm_first=False)[0]
    assert np.abs(to_numpy(pre_ln(X)) - to_numpy(post_ln(X))).max() > 0.1


@pytest.mark.parametrize("variant", VARIANTS)
def test_cached_decoding_equals_full_forward(variant):
    block, _ = make(**VARIANTS[variant])

    def step(chunk, cache, index):
        return block(chunk, cache=cache, cache_index=index)

    cache = ops.zeros((2, 2, 8, N_HEADS, D_MODEL // N_HEADS))
    decoded, _ = decode_with_cache(step, X, cache, prefill_length=2)
    assert_close(decoded, block(X))


def test_dropout_only_while_training():
    block, _ = make(dropout=0.5)
    reference_block, _ = make()
    assert_close(block(X), reference_block(X))
    assert np.abs(to_numpy(block(X, training=True)) - to_numpy(block(X))).max() > 1e-3


def test_unknown_norm_lists_the_choices():
    with pytest.raises(ValueError, match="'batchnorm'.*layernorm, rmsnorm"):
        TransformerBlock(D_MODEL, N_HEADS, D_FF, norm="batchnorm")


def test_serialization_round_trip():
    block, _ = make(norm_first=False, norm="rmsnorm", activation="swiglu", dropout=0.1)
    run_serialization_test(block, X)
    config = block.get_config()
    assert (config["norm_first"], config["norm"], config["d_ff"]) == (False, "rmsnorm", D_FF)
