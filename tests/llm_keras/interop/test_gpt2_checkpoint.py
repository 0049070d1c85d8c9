"""GPT-2's configuration and weight names: the map both exports share, and what it refuses."""

import numpy as np
import pytest

from llm_keras.interop.gpt2_checkpoint import (
    check_gpt2_compatible,
    config_from_gpt2,
    gpt2_config,
    gpt2_weight_shapes,
    standard_names,
    to_gpt2_weights,
)
from llm_keras.models import GPTConfig
from tests.llm_keras.interop.conftest import random_gpt

ARCHITECTURE = ("vocab_size", "context_length", "d_model", "n_layers", "n_heads", "d_ff",
                "dropout", "activation", "positional", "tie_weights", "layer_norm_epsilon")  # fmt: skip


def architecture(config):
    return {name: getattr(config, name) for name in ARCHITECTURE}


def test_gpt2_small_names_and_shapes_match_transformers_without_building_either():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    with torch.device("meta"):  # shapes only: no memory, no download
        hf = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    expected = {name: tuple(t.shape) for name, t in hf.state_dict().items()}
    expected.pop("lm_head.weight")  # tied: the same tensor as transformer.wte.weight
    assert gpt2_weight_shapes(GPTConfig.preset("gpt2-small")) == expected
    # transformers' default GPT2Config is our gpt2-small preset.
    config = config_from_gpt2(transformers.GPT2Config().to_dict())
    assert architecture(config) == architecture(GPTConfig.preset("gpt2-small"))
    assert len(expected) == 2 + 12 * 12 + 2


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"tie_weights": False, "dropout": 0.2},
        {"activation": "relu", "d_ff": 24},
        {"layer_norm_epsilon": 1e-6},
    ],
)
def test_config_round_trip(options):
    config = GPTConfig(
        vocab_size=50, context_length=32, d_model=16, n_layers=3, n_heads=2, **options
    )
    assert architecture(config_from_gpt2(gpt2_config(config))) == architecture(config)


def test_openai_gpt2_config_without_optional_fields():
    """OpenAI's gpt2 config.json leaves out n_inner and other fields: GPT2Config's defaults apply."""
    config = config_from_gpt2({"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2,
                               "n_ctx": 128, "n_positions": 128, "vocab_size": 100})  # fmt: skip
    assert (config.d_ff, config.activation, config.dropout, config.tie_weights) == (
        256,
        "gelu",
        0.1,
        True,
    )


def test_weights_of_a_model_are_gpt2s_names_and_shapes():
    model = random_gpt(tie_weights=False)
    weights = to_gpt2_weights(model)
    assert {k: v.shape for k, v in weights.items()} == gpt2_weight_shapes(model.config)
    assert all(v.dtype == np.float32 for v in weights.values())
    block = model.blocks[1]
    c_attn = weights["transformer.h.1.attn.c_attn.weight"]  # (d, 3d): [query | key | value]
    np.testing.assert_array_equal(c_attn[:, 16:32], np.asarray(block.attention.key.kernel))
    np.testing.assert_array_equal(
        weights["transformer.h.1.mlp.c_fc.weight"],
        np.asarray(block.feed_forward.up_projection.kernel),
    )


def test_old_names_gain_the_prefix_and_lose_the_mask_buffers():
    old = {"h.0.attn.bias": 1, "h.0.attn.masked_bias": 2, "h.0.attn.c_attn.bias": 3, "wte.weight": 4,
           "lm_head.weight": 5}  # fmt: skip
    assert standard_names(old) == {"transformer.h.0.attn.c_attn.bias": 3, "transformer.wte.weight": 4,
                                   "lm_head.weight": 5}  # fmt: skip


@pytest.mark.parametrize(
    "option, words",
    [
        ({"norm_first": False}, "norm_first=False (post-LN)"),
        ({"positional": "rotary"}, "positional='rotary' (RoPE)"),
        ({"activation": "swiglu"}, "activation='swiglu'"),
        ({"norm": "rmsnorm"}, "norm='rmsnorm'"),
    ],
)
def test_architectures_gpt2_cannot_express_are_refused_by_name(option, words):
    config = GPTConfig(vocab_size=10, context_length=8, d_model=8, n_layers=1, n_heads=2, **option)
    with pytest.raises(ValueError, match="cannot be written as GPT-2") as error:
        check_gpt2_compatible(config)
    assert words in str(error.value)


def test_every_obstacle_is_named_at_once():
    config = GPTConfig(vocab_size=10, context_length=8, d_model=8, n_layers=1, n_heads=2, norm_first=False,
                       norm="rmsnorm", activation="swiglu", positional="rotary")  # fmt: skip
    with pytest.raises(ValueError) as error:
        gpt2_config(config)
    for words in (
        "norm_first=False",
        "norm='rmsnorm'",
        "activation='swiglu'",
        "positional='rotary'",
    ):
        assert words in str(error.value)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("model_type", "llama", "type 'llama', not 'gpt2'"),
        ("activation_function", "gelu", "activation_function='gelu'"),
        ("scale_attn_by_inverse_layer_idx", True, "scale_attn_by_inverse_layer_idx=True"),
        ("add_cross_attention", True, "add_cross_attention=True"),
    ],
)
def test_configs_our_gpt_cannot_reproduce_are_refused(field, value, words):
    hf = gpt2_config(GPTConfig(vocab_size=10, context_length=8, d_model=8, n_layers=1, n_heads=2))
    with pytest.raises(ValueError, match="config.json") as error:
        config_from_gpt2({**hf, field: value})
    assert words in str(error.value)
