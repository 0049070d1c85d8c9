"""A run directory keeps the latest model and its tokenizer for generation."""

import keras
import numpy as np
import pytest

from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.run_directory import load_for_inference, save_for_inference


def test_a_new_model_round_trips_through_a_run_directory(tmp_path):
    config = GPTConfig.preset("shakespeare-char-cpu", n_layers=1, d_model=32, n_heads=2, vocab_size=5)
    model = GPT(config)  # never called: it must still save its weights
    tokenizer = CharTokenizer.train("abcde")
    save_for_inference(tmp_path, model, tokenizer)
    loaded, loaded_tokenizer = load_for_inference(tmp_path)
    ids = np.array([[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(ids)),
                                  keras.ops.convert_to_numpy(model(ids)))
    assert loaded_tokenizer.encode("cab") == [2, 0, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "tokenizer"]


def test_a_missing_model_says_what_to_pass(tmp_path):
    with pytest.raises(ValueError, match="llm-keras train --out DIR"):
        load_for_inference(tmp_path)


@pytest.mark.parametrize("how", ["truncated", "emptied"])
def test_a_damaged_model_file_is_named_as_damaged_not_missing(tmp_path, how):
    config = GPTConfig.preset("shakespeare-char-cpu", n_layers=1, d_model=32, n_heads=2, vocab_size=5)
    save_for_inference(tmp_path, GPT(config), CharTokenizer.train("abcde"))
    path = tmp_path / "model.keras"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"")
    with pytest.raises(ValueError, match=r"model\.keras is damaged") as error:
        load_for_inference(tmp_path)
    assert "not found" not in str(error.value).lower()
