import keras
import numpy as np
import pytest
from keras import ops

from llm_keras.layers import CausalSelfAttention, causal_mask
from tests.llm_keras.keras_test_case import (
    assert_close,
    decode_with_cache,
    run_serialization_test,
    to_numpy,
)
from tests.llm_keras.layers import reference

D_MODEL, N_HEADS, HEAD_DIM, MAX_LENGTH = 8, 2, 4, 8
X = np.random.default_rng(0).normal(size=(2, 5, D_MODEL)).astype("float32")
PARAMS = reference.attention_params(np.random.default_rng(1), D_MODEL)


def make(**kwargs):
    layer = CausalSelfAttention(D_MODEL, N_HEADS, **kwargs)
    layer.build(X.shape)
    reference.set_attention(layer, PARAMS)
    return layer


def empty_cache():
    return ops.zeros((2, 2, MAX_LENGTH, N_HEADS, HEAD_DIM))


def test_causal_mask():
    np.testing.assert_array_equal(to_numpy(causal_mask(3, 3)), np.tril(np.ones((3, 3), bool)))
    # One query at position 2 of a 5-slot cache: it sees slots 0..2, not the unwritten 3, 4.
    np.testing.assert_array_equal(to_numpy(causal_mask(1, 5, 2)), [[1, 1, 1, 0, 0]])


@pytest.mark.parametrize("rotary", [False, True])
def test_written_out_matches_numpy(rotary):
    outputs, weights = make(rotary=rotary)(X, return_attention_weights=True)
    expected, expected_weights = reference.attention(
        X.astype("float64"), PARAMS, N_HEADS, rotary=rotary, return_weights=True
    )
    assert_close(outputs, expected)
    assert tuple(weights.shape) == (2, N_HEADS, 5, 5)
    assert_close(weights, expected_weights)


def test_attention_weights_are_causal_rows_summing_to_one():
    _, weights = make()(X, return_attention_weights=True)
    weights = to_numpy(weights)
    np.testing.assert_allclose(weights.sum(axis=-1), 1, atol=1e-6)
    assert np.all(weights[..., np.triu_indices(5, k=1)[0], np.triu_indices(5, k=1)[1]] == 0)


def test_outputs_do_not_depend_on_later_tokens():
    layer = make()
    changed = X.copy()
    changed[:, 3:] = 10.0
    assert_close(layer(changed)[:, :3], layer(X)[:, :3])
    assert np.abs(to_numpy(layer(changed)[:, 3:]) - to_numpy(layer(X)[:, 3:])).min() > 1e-3


@pytest.mark.parametrize("rotary", [False, True])
def test_fused_path_gives_the_same_outputs(rotary):
    assert_close(make(fused=True, rotary=rotary)(X), make(rotary=rotary)(X))


def test_fused_path_refuses_to_return_weights():
    with pytest.raises(ValueError, match="fused=False"):
        make(fused=True)(X, return_attention_weights=True)


@pytest.mark.parametrize(
    "rotary, fused, prefill_length",
    [(False, False, 1), (False, False, 3), (True, False, 3), (True, True, 1), (False, True, 3)],
)
def test_cached_decoding_equals_full_forward(rotary, fused, prefill_length):
    layer = make(rotary=rotary, fused=fused)

    def step(chunk, cache, index):
        return layer(chunk, cache=cache, cache_index=index)

    decoded, _ = decode_with_cache(step, X, empty_cache(), prefill_length)
    assert_close(decoded, make(rotary=rotary)(X))


def test_cache_holds_the_keys_and_values_and_zeros_after_them():
    _, cache = make()(X, cache=empty_cache(), cache_index=0)
    cache = to_numpy(cache)
    assert cache.shape == (2, 2, MAX_LENGTH, N_HEADS, HEAD_DIM)
    keys = (X @ PARAMS["wk"] + PARAMS["bk"]).reshape(2, 5, N_HEADS, HEAD_DIM)
    values = (X @ PARAMS["wv"] + PARAMS["bv"]).reshape(2, 5, N_HEADS, HEAD_DIM)
    np.testing.assert_allclose(cache[:, 0, :5], keys, atol=1e-5)
    np.testing.assert_allclose(cache[:, 1, :5], values, atol=1e-5)
    assert np.all(cache[:, :, 5:] == 0)


def test_weights_with_cache_cover_the_whole_buffer():
    _, _, weights = make()(X, cache=empty_cache(), cache_index=0, return_attention_weights=True)
    _, expected = reference.attention(X.astype("float64"), PARAMS, N_HEADS, return_weights=True)
    assert tuple(weights.shape) == (2, N_HEADS, 5, MAX_LENGTH)
    assert_close(weights[..., :5], expected)
    assert np.all(to_numpy(weights)[..., 5:] == 0)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax.jit is JAX's compiler")
def test_decoding_step_compiles_once_under_jax_jit_with_a_traced_index():
    import jax

    layer = make(rotary=True)
    traces = []

    @jax.jit
    def step(chunk, cache, index):
        traces.append(index)
        return layer(chunk, cache=cache, cache_index=index)

    cache = empty_cache()
    pieces = []
    for index in range(5):
        out, cache = step(X[:, index : index + 1], cache, np.int32(index))
        pieces.append(to_numpy(out))
    assert len(traces) == 1 and isinstance(traces[0], jax.core.Tracer)
    assert_close(np.concatenate(pieces, axis=1), make(rotary=True)(X))


def test_dropout_on_the_weights_only_while_training():
    layer = make(dropout=0.5)
    assert_close(layer(X, training=False), make()(X))
    dropped = to_numpy(layer(X, training=True))
    assert np.abs(dropped - to_numpy(layer(X))).max() > 1e-3
    # The fused layer cannot drop attention weights, so it trains on the written-out path.
    fused = make(dropout=0.5, fused=True)
    assert np.abs(to_numpy(fused(X, training=True)) - to_numpy(fused(X))).max() > 1e-3


def test_n_heads_must_divide_d_model():
    with pytest.raises(ValueError, match="d_model=8 is not divisible by n_heads=3"):
        CausalSelfAttention(8, 3)


@pytest.mark.parametrize("fused", [False, True])
def test_serialization_round_trip(fused):
    layer = make(dropout=0.1, use_bias=True, fused=fused, rotary=True)
    run_serialization_test(layer, X)
    config = layer.get_config()
    assert {k: config[k] for k in ("d_model", "n_heads", "dropout", "fused", "rotary")} == {
        "d_model": D_MODEL,
        "n_heads": N_HEADS,
        "dropout": 0.1,
        "fused": fused,
        "rotary": True,
    }
