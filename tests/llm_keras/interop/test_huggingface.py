"""Hugging Face transformers: export a GPT, import it back, compare with transformers' PyTorch GPT-2.

The reference is ``transformers.GPT2LMHeadModel`` in this same process (PyTorch is installed in
every backend's environment), built locally from a ``GPT2Config``: nothing is downloaded.
"""

import json

import numpy as np
import pytest

from llm_keras.generation import generate
from llm_keras.interop import export_to_huggingface, import_from_huggingface
from llm_keras.interop.huggingface_tokenizer import load_huggingface_tokenizer
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer, WordBPETokenizer
from tests.llm_keras.interop.conftest import HF_TOLERANCE, logits, random_gpt, random_ids

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.numpy import load_file, save_file


def torch_logits(hf_model, ids):
    with torch.no_grad():
        return hf_model(torch.as_tensor(np.asarray(ids, dtype=np.int64))).logits.numpy()


def random_hf_gpt2(seed=0, **config):
    """transformers' own GPT2LMHeadModel, random weights (norms too), built from a GPT2Config."""
    torch.manual_seed(seed)
    config = {
        "vocab_size": 37,
        "n_positions": 16,
        "n_embd": 16,
        "n_layer": 2,
        "n_head": 4,
        **config,
    }
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**config)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    return model


@pytest.mark.parametrize(
    "options",
    [
        {},  # GPT-2: pre-LN, GELU, learned positions, tied embeddings
        {"tie_weights": False},  # lm_head.weight
        {"activation": "relu", "use_bias": False, "d_ff": 24},  # zero biases
        {"positional": "sinusoidal", "layer_norm_epsilon": 1e-6},  # the formula's table
    ],
    ids=["gpt2", "untied", "relu-no-bias", "sinusoidal"],
)
def test_exported_logits_match_transformers(tmp_path, options):
    model = random_gpt(**options)
    export_to_huggingface(model, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    ids = random_ids(model.config.vocab_size)
    expected = logits(model, ids)
    np.testing.assert_allclose(torch_logits(hf, ids), expected, atol=HF_TOLERANCE, rtol=0)
    assert np.abs(expected).max() > 1  # the comparison is not between near-zero numbers

    back, tokenizer = import_from_huggingface(tmp_path)
    assert tokenizer is None
    np.testing.assert_allclose(logits(back, ids), expected, atol=1e-6, rtol=0)


def test_folder_contents_and_no_torch_needed(tmp_path, shakespeare_bpe):
    model = random_gpt(vocab_size=shakespeare_bpe.vocab_size)
    written = export_to_huggingface(model, tmp_path, tokenizer=shakespeare_bpe)
    assert sorted(p.name for p in written) == sorted(
        [
            "config.json",
            "model.safetensors",
            "vocab.json",
            "merges.txt",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
    )
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["GPT2LMHeadModel"] and config["model_type"] == "gpt2"
    assert config["eos_token_id"] == shakespeare_bpe.special_tokens["<|endoftext|>"]
    tensors = load_file(tmp_path / "model.safetensors")
    assert "lm_head.weight" not in tensors  # tied: transformers ties it to transformer.wte.weight
    assert {t.dtype for t in tensors.values()} == {np.dtype("float32")}


def test_import_a_checkpoint_saved_by_transformers(tmp_path):
    hf = random_hf_gpt2(n_inner=40, layer_norm_epsilon=1e-6)
    hf.save_pretrained(tmp_path)
    model, tokenizer = import_from_huggingface(tmp_path)
    assert (model.config.d_ff, model.config.layer_norm_epsilon, tokenizer) == (40, 1e-6, None)
    ids = random_ids(37)
    np.testing.assert_allclose(logits(model, ids), torch_logits(hf, ids), atol=HF_TOLERANCE, rtol=0)


def openai_style_folder(folder, hf, data_dir, torch_bin=False):
    """A folder as OpenAI's gpt2 on the Hub has it: unprefixed names, the attention-mask buffers,
    GPT-2's tokenizer files, and either model.safetensors or only pytorch_model.bin."""
    hf.save_pretrained(folder)
    tensors = load_file(folder / "model.safetensors")
    old = {name.removeprefix("transformer."): value for name, value in tensors.items()}
    n_positions = hf.config.n_positions
    for i in range(hf.config.n_layer):
        old[f"h.{i}.attn.bias"] = np.tril(np.ones((n_positions, n_positions), np.float32))[
            None, None
        ]
        old[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    (folder / "model.safetensors").unlink()
    if torch_bin:
        torch.save({k: torch.from_numpy(v) for k, v in old.items()}, folder / "pytorch_model.bin")
    else:
        save_file(old, folder / "model.safetensors", metadata={"format": "pt"})
    for name in ("vocab.json", "merges.txt"):
        (folder / name).write_bytes((data_dir / "gpt2" / name).read_bytes())


@pytest.mark.parametrize("torch_bin", [False, True], ids=["safetensors", "pytorch_model.bin"])
def test_import_gpt2_weights_as_openai_published_them(
    tmp_path, data_dir, gpt2_tokenizer, sample_text, torch_bin
):
    """GPT-2's real vocabulary (50257) and tokenizer files; a small body to stay fast."""
    hf = random_hf_gpt2(vocab_size=50257, n_embd=8, n_layer=1, n_head=2, n_positions=32)
    openai_style_folder(tmp_path, hf, data_dir, torch_bin=torch_bin)
    model, tokenizer = import_from_huggingface(tmp_path)
    ids = [gpt2_tokenizer.encode(sample_text)[:32]]
    np.testing.assert_allclose(logits(model, ids), torch_logits(hf, ids), atol=HF_TOLERANCE, rtol=0)
    assert tokenizer.encode(sample_text) == gpt2_tokenizer.encode(sample_text)
    assert tokenizer.special_tokens == {"<|endoftext|>": 50256}


def test_generation_is_unchanged_by_a_round_trip_and_matches_transformers(
    tmp_path, shakespeare_bpe, sample_text
):
    model = random_gpt(vocab_size=shakespeare_bpe.vocab_size, context_length=32)
    export_to_huggingface(model, tmp_path, tokenizer=shakespeare_bpe)
    back, tokenizer = import_from_huggingface(tmp_path)
    prompt = tokenizer.encode("First Citizen:")
    expected = generate(model, prompt, 12, temperature=0)
    assert generate(back, prompt, 12, temperature=0) == expected
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        hf_ids = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                             eos_token_id=None, pad_token_id=0, min_new_tokens=12)  # fmt: skip
    assert hf_ids[0, len(prompt) :].tolist() == expected


def test_byte_level_tokenizer_reads_the_same_in_transformers(
    tmp_path, shakespeare_bpe, sample_text
):
    export_to_huggingface(
        random_gpt(vocab_size=shakespeare_bpe.vocab_size), tmp_path, tokenizer=shakespeare_bpe
    )
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = sample_text + " <|endoftext|> café 🙂"
    expected = shakespeare_bpe.encode(text, allowed_special="all")
    assert auto.encode(text) == expected
    assert auto.decode(expected) == text
    assert auto.eos_token == "<|endoftext|>"
    back = load_huggingface_tokenizer(tmp_path)
    assert back.get_config() == shakespeare_bpe.get_config()


def test_a_regex_other_than_gpt2s_survives_the_round_trip(tmp_path, tiny_shakespeare):
    from llm_keras.tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer.train(
        tiny_shakespeare[:5000], 280, pattern=r"\S+|\s+", progress=False
    )
    export_to_huggingface(random_gpt(vocab_size=280), tmp_path, tokenizer=tokenizer)
    text = tiny_shakespeare[:500]
    assert transformers.AutoTokenizer.from_pretrained(tmp_path).encode(text) == tokenizer.encode(
        text
    )
    assert load_huggingface_tokenizer(tmp_path).get_config() == tokenizer.get_config()


@pytest.mark.parametrize("unk_token", [None, "<unk>"])
def test_character_tokenizer_is_a_bpe_without_merges(tmp_path, tiny_shakespeare, unk_token):
    chars = CharTokenizer.train(tiny_shakespeare, unk_token=unk_token)
    written = export_to_huggingface(
        random_gpt(vocab_size=chars.vocab_size), tmp_path, tokenizer=chars
    )
    assert "vocab.json" not in {p.name for p in written}  # GPT-2's files hold bytes, not characters
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = tiny_shakespeare[:3000]
    assert auto.encode(text) == chars.encode(text)
    assert auto.decode(chars.encode(text)) == text
    if unk_token:
        assert auto.encode("é!") == chars.encode("é!") == [chars.vocab_size - 1, 2]
    back = load_huggingface_tokenizer(tmp_path)
    assert (type(back), back.get_config()) == (CharTokenizer, chars.get_config())


def test_bfloat16_weights_are_read(tmp_path):
    """Checkpoints are often shared in bfloat16, a dtype NumPy lacks (ml_dtypes provides it)."""
    hf = random_hf_gpt2()
    hf.to(torch.bfloat16).save_pretrained(tmp_path)
    model, _ = import_from_huggingface(tmp_path)
    ids = random_ids(37)
    np.testing.assert_allclose(
        logits(model, ids), torch_logits(hf.float(), ids), atol=HF_TOLERANCE, rtol=0
    )


def test_a_checkpoint_cut_into_shards_is_read(tmp_path):
    model = random_gpt()
    export_to_huggingface(model, tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    (tmp_path / "model.safetensors").unlink()
    names = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[:7],
        "model-00002-of-00002.safetensors": names[7:],
    }
    for shard, shard_names in shards.items():
        save_file({n: tensors[n] for n in shard_names}, tmp_path / shard, metadata={"format": "pt"})
    weight_map = {n: shard for shard, shard_names in shards.items() for n in shard_names}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    back, _ = import_from_huggingface(tmp_path)
    ids = random_ids(37)
    np.testing.assert_array_equal(logits(back, ids), logits(model, ids))


# --- bad input ---------------------------------------------------------------------------------


def test_missing_folder_or_config(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        import_from_huggingface(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"No config.json in .*\(the folder exists\)"):
        import_from_huggingface(tmp_path)


def test_config_without_weights(tmp_path):
    export_to_huggingface(random_gpt(), tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="No weights in .*expected model.safetensors"):
        import_from_huggingface(tmp_path)


def test_weights_that_do_not_match_the_config(tmp_path):
    export_to_huggingface(random_gpt(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_embd": 32, "n_head": 4}))
    with pytest.raises(
        ValueError, match=r"transformer.wte.weight has shape \(37, 16\).* needs \(37, 32\)"
    ):
        import_from_huggingface(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_layer": 3}))
    with pytest.raises(ValueError, match=r"3 layers\): missing transformer.h.2"):
        import_from_huggingface(tmp_path)


def test_not_a_gpt2(tmp_path):
    export_to_huggingface(random_gpt(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(ValueError, match="model of type 'llama', not 'gpt2'"):
        import_from_huggingface(tmp_path)


def test_export_refuses_what_gpt2_cannot_express(tmp_path):
    model = GPT(
        GPTConfig(
            vocab_size=10, context_length=8, d_model=8, n_layers=1, n_heads=2, norm_first=False
        )
    )
    with pytest.raises(ValueError, match=r"norm_first=False \(post-LN\)"):
        export_to_huggingface(model, tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_export_refuses_tokenizers_that_do_not_fit(tmp_path, shakespeare_chars, tiny_shakespeare):
    with pytest.raises(ValueError, match="tokenizer has 65 ids but the model only vocab_size=37"):
        export_to_huggingface(random_gpt(), tmp_path, tokenizer=shakespeare_chars)
    words = WordBPETokenizer.train(tiny_shakespeare[:2000], 120)
    with pytest.raises(ValueError, match="WordBPETokenizer has no Hugging Face counterpart"):
        export_to_huggingface(random_gpt(vocab_size=words.vocab_size), tmp_path, tokenizer=words)
