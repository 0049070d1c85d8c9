"""keras-hub: our GPT as a GPT2CausalLM and back; keras-hub's samplers, generate and LoRA on it."""

import numpy as np
import pytest

from llm_keras.generation import generate
from llm_keras.interop import from_keras_hub, to_keras_hub
from tests.llm_keras.interop.conftest import KERAS_HUB_TOLERANCE, logits, random_gpt, random_ids

keras_hub = pytest.importorskip("keras_hub")


def hub_logits(causal_lm, ids):
    from keras import ops

    ids = np.asarray(ids, dtype="int32")
    return ops.convert_to_numpy(causal_lm({"token_ids": ids, "padding_mask": np.ones_like(ids)}))


@pytest.fixture(scope="module")
def converted(shakespeare_bpe):
    """(our model, its GPT2CausalLM with a preprocessor)."""
    model = random_gpt(vocab_size=shakespeare_bpe.vocab_size, context_length=32, d_ff=48)
    return model, to_keras_hub(model, shakespeare_bpe)


def test_logits_match_and_come_back(converted, shakespeare_bpe):
    model, causal_lm = converted
    assert isinstance(causal_lm.backbone, keras_hub.models.GPT2Backbone)
    assert causal_lm.backbone.intermediate_dim == 48
    ids = random_ids(model.config.vocab_size, (2, 32))
    expected = logits(model, ids)
    np.testing.assert_allclose(
        hub_logits(causal_lm, ids), expected, atol=KERAS_HUB_TOLERANCE, rtol=0
    )
    assert np.abs(expected).max() > 1

    back, tokenizer = from_keras_hub(causal_lm)
    np.testing.assert_allclose(logits(back, ids), expected, atol=0, rtol=0)
    assert tokenizer.get_config() == shakespeare_bpe.get_config()


def test_keras_hub_generate_with_its_sampler_equals_our_greedy_decoding(converted, shakespeare_bpe):
    model, causal_lm = converted
    causal_lm.compile(sampler=keras_hub.samplers.GreedySampler())
    text = causal_lm.generate("First Citizen:", max_length=24, stop_token_ids=None)
    # keras-hub's preprocessor starts every prompt with <|endoftext|> and returns 24 tokens in all
    # (without that start token).
    prompt = shakespeare_bpe.encode("<|endoftext|>First Citizen:", allowed_special="all")
    ours = generate(model, prompt, 24 - len(prompt), temperature=0)
    assert text == shakespeare_bpe.decode(prompt[1:] + ours)


def test_keras_hub_top_k_sampler_generates_from_token_ids(converted):
    model, _ = converted
    causal_lm = to_keras_hub(model)  # no tokenizer: generate takes ids
    causal_lm.compile(sampler=keras_hub.samplers.TopKSampler(k=1, seed=0))  # k=1: greedy, via top-k
    prompt = [5, 9, 2]
    token_ids = np.zeros((1, 16), "int32")
    token_ids[0, :3] = prompt
    padding_mask = (np.arange(16) < 3)[None].astype("int32")
    out = causal_lm.generate(
        {"token_ids": token_ids, "padding_mask": padding_mask}, stop_token_ids=None
    )
    assert out["token_ids"][0].tolist() == prompt + generate(model, prompt, 13, temperature=0)


def test_lora_trains_fewer_weights_and_changes_nothing_at_first(converted):
    model, _ = converted
    causal_lm = to_keras_hub(model)
    before = sum(int(np.prod(w.shape)) for w in causal_lm.backbone.trainable_weights)
    causal_lm.backbone.enable_lora(rank=2)
    trainable = causal_lm.backbone.trainable_weights
    after = sum(int(np.prod(w.shape)) for w in trainable)
    # Everything is frozen but the query and value projections' low-rank adapters (and biases).
    assert {w.path.split("/", 2)[2] for w in trainable} == {
        f"{layer}/{weight}"
        for layer in ("query", "value")
        for weight in ("bias", "lora_kernel_a", "lora_kernel_b")
    }
    assert sum("lora_kernel" in w.path for w in trainable) == model.config.n_layers * 2 * 2
    assert after < before / 10
    ids = random_ids(model.config.vocab_size, (1, 32))
    np.testing.assert_allclose(
        hub_logits(causal_lm, ids), logits(model, ids), atol=KERAS_HUB_TOLERANCE, rtol=0
    )
    with pytest.raises(ValueError, match="LoRA enabled"):
        from_keras_hub(causal_lm)


def test_options_gpt2_backbone_fixes_are_refused_by_name():
    for options, words in (
        ({"activation": "relu"}, "activation='relu'"),
        ({"tie_weights": False}, "tie_weights=False"),
        ({"layer_norm_epsilon": 1e-6}, "layer_norm_epsilon=1e-06"),
        ({"positional": "rotary"}, "positional='rotary' (RoPE)"),
    ):
        with pytest.raises(ValueError, match="GPT2Backbone") as error:
            to_keras_hub(random_gpt(**options))
        assert words in str(error.value)


def test_tokenizers_keras_hub_cannot_reproduce_are_refused(shakespeare_chars):
    with pytest.raises(ValueError, match="it is a CharTokenizer, not a byte-level BPE"):
        to_keras_hub(random_gpt(vocab_size=65), shakespeare_chars)


def test_only_gpt2_models_come_from_keras_hub():
    with pytest.raises(ValueError, match="takes a keras_hub.models.GPT2CausalLM or GPT2Backbone"):
        from_keras_hub(random_gpt())
