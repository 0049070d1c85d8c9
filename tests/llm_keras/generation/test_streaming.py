"""Text in, text out: incremental decoding that never splits a character, stream_text and
generate_text."""

import numpy as np
import pytest

from llm_keras.generation.decode import generate
from llm_keras.generation.streaming import IncrementalDecoder, generate_text, stream_text
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import ByteLevelBPETokenizer, CharTokenizer
from tests.llm_keras.models.numpy_gpt import gpt_params, set_gpt

TEXT = "héllo wörld, 🙂 naïve café 🙂 ok"


@pytest.fixture(scope="module")
def byte_tokenizer():
    # Trained on ASCII only: "é", "ö", "ï" (2 bytes) and "🙂" (4 bytes) stay split into bytes.
    return ByteLevelBPETokenizer.train("hello world, naive cafe ok " * 20, vocab_size=270)


def test_byte_level_pieces_never_split_a_character(byte_tokenizer):
    ids = byte_tokenizer.encode(TEXT)
    decoder = IncrementalDecoder(byte_tokenizer)
    pieces = [decoder.add(token_id) for token_id in ids]
    assert "".join(pieces) + decoder.finish() == TEXT == byte_tokenizer.decode(ids)
    assert all("\ufffd" not in piece for piece in pieces)
    # Decoding the ids one at a time would break the 4 two-byte and 2 four-byte characters:
    one_by_one = "".join(byte_tokenizer.decode([token_id]) for token_id in ids)
    assert one_by_one.count("\ufffd") == 4 * 2 + 2 * 4
    # The first byte of "é" gives no text; the second gives "é" at once.
    first_e = [byte_tokenizer.decode_bytes([i]) for i in ids].index(b"\xc3")
    assert pieces[first_e] == "" and pieces[first_e + 1].startswith("é")
    assert sum(piece == "" for piece in pieces) == 4 * 1 + 2 * 3  # one per unfinished byte


def test_unfinished_bytes_are_flushed_as_replacement_characters(byte_tokenizer):
    ids = byte_tokenizer.encode("ok 🙂")[:-2]  # the emoji's last two bytes are missing
    decoder = IncrementalDecoder(byte_tokenizer)
    text = "".join(decoder.add(token_id) for token_id in ids)
    assert text == "ok " and decoder.finish() == "\ufffd"
    assert text + "\ufffd" == byte_tokenizer.decode(ids)


def test_character_tokenizer_pieces_are_characters():
    tokenizer = CharTokenizer("abcé🙂", unk_token="<unk>")
    ids = [0, 3, 4, 5, 2]
    decoder = IncrementalDecoder(tokenizer)
    assert [decoder.add(token_id) for token_id in ids] == ["a", "é", "🙂", "<unk>", "c"]
    assert decoder.finish() == ""


@pytest.fixture(scope="module")
def char_model():
    tokenizer = CharTokenizer.train("\nROMEO: To be, or not to be.")
    config = GPTConfig(tokenizer.vocab_size, 16, d_model=16, n_layers=2, n_heads=2, d_ff=32)
    model = GPT(config)
    set_gpt(model, gpt_params(np.random.default_rng(2), config))
    return model, tokenizer


def test_stream_text_is_generate_text_in_pieces(char_model):
    model, tokenizer = char_model
    options = dict(temperature=0.9, top_k=8, seed=4)
    pieces = list(stream_text(model, tokenizer, "ROMEO:", 30, **options))
    text = generate_text(model, tokenizer, "ROMEO:", 30, **options)
    assert len(pieces) == 30 and all(len(piece) == 1 for piece in pieces)  # one per character
    assert "".join(pieces) == text
    assert text == tokenizer.decode(generate(model, tokenizer.encode("ROMEO:"), 30, **options))
    assert set(text) <= set(tokenizer.chars)


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("", "The prompt is empty"),
        (
            "JULIET",
            "Character 'J' (U+004A) at position 0 is not in this CharTokenizer's vocabulary",
        ),
        (b"ROMEO", "The prompt must be text (a str), got bytes"),
    ],
)
def test_bad_prompts_are_named(char_model, prompt, message):
    model, tokenizer = char_model
    for function in (stream_text, generate_text):
        with pytest.raises(ValueError) as error:
            function(model, tokenizer, prompt, 5)
        assert message in str(error.value)
