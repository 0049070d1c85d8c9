import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from llm_keras.layers import NORMS
from llm_keras.models import GPT, GPTConfig
from tests.llm_keras.keras_test_case import (
    assert_close,
    decode_with_cache,
    run_model_saving_test,
    run_serialization_test,
    to_numpy,
)
from tests.llm_keras.models.numpy_gpt import gpt_forward, gpt_params, set_gpt

REPO = Path(__file__).resolve().parents[3]
TINY = dict(vocab_size=11, context_length=8, d_model=8, n_layers=2, n_heads=2, d_ff=16)
IDS = np.array([[1, 2, 3, 4, 10], [0, 0, 5, 9, 7]], dtype="int32")
VARIANTS = {
    "GPT-2": dict(),
    "2017 transformer": dict(
        norm_first=False, positional="sinusoidal", activation="relu", tie_weights=False
    ),
    "Llama-like": dict(
        positional="rotary", norm="rmsnorm", activation="swiglu", use_bias=False, tie_weights=False
    ),
}


def make(dtype=None, **changes):
    """A tiny GPT with weights set from a fixed NumPy seed; returns it, its params and config."""
    config = GPTConfig(**{**TINY, **changes})
    model = GPT(config, dtype=dtype)
    model.build(IDS.shape)
    params = gpt_params(np.random.default_rng(0), config)
    set_gpt(model, params)
    return model, params, config


@pytest.mark.parametrize("variant", VARIANTS)
def test_logits_match_a_numpy_gpt(variant):
    model, params, config = make(**VARIANTS[variant])
    logits = model(IDS)
    assert tuple(logits.shape) == (2, 5, 11)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert_close(logits, gpt_forward(IDS, params, config))


@pytest.mark.parametrize("variant", VARIANTS)
def test_hidden_states_are_what_the_output_head_reads(variant):
    model, params, config = make(**VARIANTS[variant])
    hidden = to_numpy(model.hidden_states(IDS))
    assert hidden.shape == (2, 5, 8)
    head = params["wte"] if config.tie_weights else params["lm_head"]
    assert_close(model(IDS), hidden @ head.T)  # the head applied by hand: call()'s logits
    assert_close(hidden @ head.T, gpt_forward(IDS, params, config))
    assert_close(model.logits_from_hidden_states(hidden), hidden @ head.T)


def test_fused_attention_gives_the_same_logits():
    assert_close(make(fused_attention=True)[0](IDS), make()[0](IDS))


@pytest.mark.parametrize("variant", VARIANTS)
def test_fused_normalisations_give_the_same_logits(variant):
    """``fused_norm=True``: each normalisation one Keras op (one kernel on PyTorch), the
    written-out formula's numbers, the NumPy GPT's too."""
    model, params, config = make(fused_norm=True, **VARIANTS[variant])
    assert all(norm.fused for norm in model._flatten_layers()
               if isinstance(norm, tuple(NORMS.values())))  # fmt: skip
    assert_close(model(IDS), gpt_forward(IDS, params, config))
    assert_close(model(IDS), make(**VARIANTS[variant])[0](IDS))


def test_weight_tying_shares_one_variable():
    model, params, config = make()
    tables = [w for w in model.weights if tuple(w.shape) == (11, 8)]
    assert len(tables) == 1
    untied, _, _ = make(tie_weights=False)
    assert len([w for w in untied.weights if tuple(w.shape) == (11, 8)]) == 2
    assert untied.num_parameters() - model.num_parameters() == 11 * 8

    before = to_numpy(model(IDS))
    params["wte"] = np.random.default_rng(1).normal(0, 0.5, (11, 8))
    tables[0].assign(params["wte"])
    after = model(IDS)
    assert np.abs(to_numpy(after) - before).max() > 0.1
    assert_close(after, gpt_forward(IDS, params, config))


def tiny_parameter_count(V=11, T=8, d=8, L=2, d_ff=16):
    attention = 4 * (d * d + d)
    feed_forward = d * d_ff + d_ff + d_ff * d + d
    norms = 2 * 2 * d
    return V * d + T * d + L * (attention + feed_forward + norms) + 2 * d


def test_parameter_and_flop_counts():
    model, _, _ = make()
    n = tiny_parameter_count()
    assert model.num_parameters() == n == 1368
    assert model.num_parameters(non_embedding=True) == n - 8 * 8
    n_matmul = n - 8 * 8
    assert model.flops_per_token() == 6 * n_matmul + 12 * 2 * 8 * 8
    assert model.flops_per_token(training=False) == 2 * n_matmul + 4 * 2 * 8 * 8
    assert model.flops_per_token(training=False, seq_len=4) == 2 * n_matmul + 4 * 2 * 4 * 8


@pytest.mark.parametrize("variant, prefill_length", [("GPT-2", 1), ("GPT-2", 3), ("Llama-like", 2)])
def test_cached_decoding_equals_full_forward(variant, prefill_length):
    model, _, _ = make(**VARIANTS[variant])
    cache = model.init_cache(batch_size=2, max_length=8)
    decoded, cache = decode_with_cache(model.call_with_cache, IDS, cache, prefill_length)
    assert_close(decoded, model(IDS))
    assert tuple(cache.shape) == (2, 2, 2, 8, 2, 4)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax.jit is JAX's compiler")
def test_call_with_cache_compiles_once_under_jax_jit():
    import jax

    model, _, _ = make()
    traces = []

    @jax.jit
    def step(ids, cache, index):
        traces.append(index)
        return model.call_with_cache(ids, cache, index)

    cache = model.init_cache(2, 8)
    pieces = []
    for index in range(5):
        logits, cache = step(IDS[:, index : index + 1], cache, np.int32(index))
        pieces.append(to_numpy(logits))
    assert len(traces) == 1
    assert_close(np.concatenate(pieces, axis=1), model(IDS))


def test_init_cache():
    model, _, _ = make()
    cache = model.init_cache(batch_size=3, max_length=6)
    assert tuple(cache.shape) == (3, 2, 2, 6, 2, 4)  # (batch, layers, k/v, length, heads, hd)
    assert keras.backend.standardize_dtype(cache.dtype) == "float32"
    assert np.all(to_numpy(cache) == 0)
    with pytest.raises(ValueError, match=r"max_length=9 must be in \[1, context_length=8\]"):
        model.init_cache(1, 9)
    with pytest.raises(ValueError, match=r"cache of shape \(batch, 2, 2, max_length, 2, 4\)"):
        model.call_with_cache(IDS, keras.ops.zeros((2, 3, 2, 8, 2, 4)), 0)


@pytest.mark.parametrize(
    "ids, message",
    [
        (np.array([[1, 2, 11]]), r"Token id 11 is outside \[0, 11\) \(vocab_size=11\)"),
        (np.array([[1, -3, 2]]), r"Token id -3 is outside \[0, 11\)"),
        (np.zeros((1, 9), "int32"), r"9 tokens but context_length=8.*slides this window"),
        (np.zeros((2, 5), "float32"), r"integer token ids, got dtype float32 \(shape \(2, 5\)\)"),
        (np.zeros(5, "int32"), r"shape \(batch, seq\), got shape \(5,\).*ids\[None, :\]"),
        (np.zeros((2, 5, 1), "int32"), r"shape \(batch, seq\), got shape \(2, 5, 1\)"),
    ],
)
def test_bad_input_is_named(ids, message):
    model, _, _ = make()
    with pytest.raises(ValueError, match=message):
        model(ids)


def test_mixed_precision_gives_float32_logits_and_a_bfloat16_cache():
    model, params, config = make(dtype="mixed_bfloat16")
    logits = model(IDS)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(logits), gpt_forward(IDS, params, config), atol=0.5)
    assert keras.backend.standardize_dtype(model.init_cache(1, 4).dtype) == "bfloat16"


def test_serialization_round_trip():
    model, _, config = make(**VARIANTS["Llama-like"])
    run_serialization_test(model, IDS)
    assert GPTConfig.from_dict(model.get_config()["config"]) == config


def test_keras_file_round_trip(tmp_path):
    model, _, _ = make(**VARIANTS["2017 transformer"])
    loaded = run_model_saving_test(model, IDS, tmp_path / "gpt.keras")
    assert loaded.config == model.config


LOAD_ON_ANOTHER_BACKEND = """
import sys
import keras
import numpy as np
import llm_keras.models.gpt  # registers GPT and its layers

model = keras.saving.load_model(sys.argv[1])
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(np.load(sys.argv[2]))))
"""


@pytest.mark.slow
def test_keras_file_loads_on_the_other_backends(tmp_path):
    model, params, config = make()
    model.save(tmp_path / "gpt.keras")
    np.save(tmp_path / "ids.npy", IDS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    others = [b for b in ("jax", "tensorflow", "torch") if b != keras.backend.backend()]
    runs = {
        backend: subprocess.Popen(
            [
                sys.executable,
                "-c",
                LOAD_ON_ANOTHER_BACKEND,
                str(tmp_path / "gpt.keras"),
                str(tmp_path / "ids.npy"),
                str(tmp_path / f"{backend}.npy"),
            ],
            env={**env, "KERAS_BACKEND": backend},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for backend in others
    }
    expected = gpt_forward(IDS, params, config)
    for backend, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"loading on {backend} failed:\n{output[-3000:]}"
        assert_close(np.load(tmp_path / f"{backend}.npy"), expected)
