import json

import pytest

from llm_keras.models import PRESETS, GPTConfig

TINY = dict(vocab_size=11, context_length=8, d_model=8, n_layers=2, n_heads=2)


def test_defaults_are_gpt2s_choices():
    config = GPTConfig(**TINY)
    assert config.d_ff == 32 and config.head_dim == 4
    assert (config.norm_first, config.norm, config.activation, config.positional) == (
        True,
        "layernorm",
        "gelu",
        "learned",
    )
    assert (config.tie_weights, config.use_bias, config.dropout) == (True, True, 0.0)
    assert config.layer_norm_epsilon == 1e-5


def test_dict_round_trip_through_json():
    config = GPTConfig(**TINY, d_ff=24, positional="rotary", norm="rmsnorm", dropout=0.1)
    as_dict = json.loads(json.dumps(config.to_dict()))
    assert as_dict["d_ff"] == 24
    assert GPTConfig.from_dict(as_dict) == config


def test_presets():
    cpu = GPTConfig.preset("shakespeare-char-cpu")
    assert (cpu.vocab_size, cpu.n_layers, cpu.n_heads, cpu.d_model, cpu.context_length) == (
        65,
        4,
        4,
        128,
        64,
    )
    assert cpu.dropout == 0.0
    gpu = GPTConfig.preset("shakespeare-char")
    assert (gpu.vocab_size, gpu.n_layers, gpu.n_heads, gpu.d_model, gpu.context_length) == (
        65,
        6,
        6,
        384,
        256,
    )
    assert gpu.dropout == 0.2
    gpt2 = GPTConfig.preset("gpt2-small")
    assert (gpt2.vocab_size, gpt2.context_length, gpt2.n_layers, gpt2.n_heads, gpt2.d_model) == (
        50257,
        1024,
        12,
        12,
        768,
    )
    assert (gpt2.d_ff, gpt2.activation, gpt2.positional, gpt2.tie_weights) == (
        3072,
        "gelu",
        "learned",
        True,
    )
    assert sorted(PRESETS) == ["gpt2-small", "shakespeare-char", "shakespeare-char-cpu"]


def test_preset_overrides_are_validated():
    config = GPTConfig.preset("shakespeare-char", dropout=0.0, context_length=32)
    assert (config.dropout, config.context_length, config.d_model) == (0.0, 32, 384)
    with pytest.raises(ValueError, match="d_model=384 is not divisible by n_heads=5"):
        GPTConfig.preset("shakespeare-char", n_heads=5)


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="'gpt3'.*shakespeare-char-cpu, shakespeare-char, gpt2"):
        GPTConfig.preset("gpt3")


def test_unknown_field_lists_the_fields():
    with pytest.raises(ValueError, match=r"\['n_embd'\].*vocab_size, context_length"):
        GPTConfig.from_dict({**TINY, "n_embd": 8})


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(d_model=100, n_heads=3), r"d_model=100 is not divisible by n_heads=3.*\[1, 2, 4, 5,"),
        (dict(vocab_size=0), "vocab_size must be a positive integer, got vocab_size=0"),
        (dict(context_length=-4), "context_length must be a positive integer"),
        (dict(n_layers=2.0), "n_layers must be a positive integer, got n_layers=2.0"),
        (dict(n_heads=True), "n_heads must be a positive integer"),
        (dict(d_ff=0), "d_ff must be a positive integer"),
        (dict(dropout=1.0), r"dropout=1.0 is outside \[0, 1\)"),
        (dict(dropout=-0.1), r"dropout=-0.1 is outside \[0, 1\)"),
        (dict(dropout="0.1"), "dropout must be a number"),
        (dict(norm="batchnorm"), "Unknown norm 'batchnorm': choose one of 'layernorm', 'rmsnorm'"),
        (dict(activation="tanh"), "Unknown activation 'tanh': choose one of 'gelu', 'relu', 'sw"),
        (dict(positional="alibi"), "Unknown positional 'alibi': choose one of 'learned', 'sinus"),
        (dict(tie_weights="yes"), "tie_weights must be True or False"),
        (dict(layer_norm_epsilon=0.0), "layer_norm_epsilon must be positive"),
        (dict(d_model=30, n_heads=2, positional="rotary"), "rotary' needs an even head_dim.*= 15"),
    ],
)
def test_invalid_values_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**TINY, **change})
