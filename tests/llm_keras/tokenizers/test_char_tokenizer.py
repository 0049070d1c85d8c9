"""CharTokenizer: nanoGPT's character vocabulary and ids on TinyShakespeare, round trips, errors.

The oracles are nanoGPT's own: the two lines of ``data/shakespeare_char/prepare.py`` that build
its vocabulary (written out below), and the outputs printed in Karpathy's "Let's build GPT"
notebook (gpt-dev.ipynb): the 65-character vocabulary, ``encode("hii there")`` and the first ids
of the corpus. The 90/10 split sizes come from the course data's README.
"""

import doctest
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llm_keras.tokenizers.char_tokenizer as char_tokenizer_module
from llm_keras.tokenizers.base import Tokenizer
from llm_keras.tokenizers.char_tokenizer import CharTokenizer
from llm_keras.tokenizers.word_bpe_tokenizer import WordBPETokenizer

# Printed by gpt-dev.ipynb: print(''.join(chars)).
NANOGPT_CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Printed by gpt-dev.ipynb: encode("hii there"), and the start of data[:1000] ("First Citizen:\n").
HII_THERE_IDS = [46, 47, 47, 1, 58, 46, 43, 56, 43]
FIRST_IDS = [18, 47, 56, 57, 58, 1, 15, 47, 58, 47, 64, 43, 52, 10, 0]


@pytest.fixture(scope="module")
def shakespeare_chars(tiny_shakespeare) -> CharTokenizer:
    return CharTokenizer.train(tiny_shakespeare)


@pytest.fixture(scope="module")
def shakespeare_chars_unk(tiny_shakespeare) -> CharTokenizer:
    return CharTokenizer.train(tiny_shakespeare, unk_token="<unk>")


# --- nanoGPT's vocabulary and ids --------------------------------------------------------------


def test_tiny_shakespeare_has_nanogpts_65_characters(shakespeare_chars):
    assert shakespeare_chars.vocab_size == 65
    assert shakespeare_chars.chars == NANOGPT_CHARS


def test_ids_equal_nanogpts_on_all_of_tiny_shakespeare(shakespeare_chars, tiny_shakespeare):
    # nanoGPT's data/shakespeare_char/prepare.py:
    chars = sorted(list(set(tiny_shakespeare)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    expected = [stoi[c] for c in tiny_shakespeare]

    ids = shakespeare_chars.encode(tiny_shakespeare)

    assert ids == expected
    assert ids[:15] == FIRST_IDS
    assert shakespeare_chars.encode("hii there") == HII_THERE_IDS
    n = int(0.9 * len(ids))  # nanoGPT's train/val split
    assert (n, len(ids) - n) == (1_003_854, 111_540)
    assert shakespeare_chars.decode(ids) == tiny_shakespeare


def test_train_on_lines_equals_train_on_the_whole_text(tiny_shakespeare):
    lines = tiny_shakespeare.splitlines(keepends=True)
    assert CharTokenizer.train(iter(lines)).chars == NANOGPT_CHARS


def test_ids_follow_the_given_order_of_chars():
    tokenizer = CharTokenizer("zay")
    assert tokenizer.encode("yaz") == [2, 1, 0]
    assert tokenizer.decode([0, 2, 1]) == "zya"


def test_decode_takes_numpy_ids(shakespeare_chars):
    assert shakespeare_chars.decode(np.array(HII_THERE_IDS, dtype=np.int32)) == "hii there"


# --- round trips (property tests) --------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=NANOGPT_CHARS, max_size=200))
def test_decode_inverts_encode_on_vocabulary_strings(shakespeare_chars, text):
    ids = shakespeare_chars.encode(text)
    assert len(ids) == len(text)
    assert ids == [NANOGPT_CHARS.index(c) for c in text]
    assert shakespeare_chars.decode(ids) == text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_unk_token_stands_for_every_unseen_character(shakespeare_chars_unk, text):
    ids = shakespeare_chars_unk.encode(text)
    # The unknown token takes the id after nanoGPT's 65: 65.
    assert ids == [NANOGPT_CHARS.index(c) if c in NANOGPT_CHARS else 65 for c in text]
    assert shakespeare_chars_unk.decode(ids) == "".join(
        c if c in NANOGPT_CHARS else "<unk>" for c in text
    )


def test_unk_token_example():
    tokenizer = CharTokenizer.train("hello", unk_token="<unk>")
    assert tokenizer.vocab_size == 5  # e h l o <unk>
    assert tokenizer.encode("hé!lo") == [1, 4, 4, 2, 3]
    assert tokenizer.decode([1, 4, 4, 2, 3]) == "h<unk><unk>lo"


# --- errors --------------------------------------------------------------------------------------


def test_unseen_character_error_names_it_and_says_what_to_do(shakespeare_chars):
    with pytest.raises(ValueError) as error:
        shakespeare_chars.encode("To be, or not to bé, 🙃")
    message = str(error.value)
    assert "'é' (U+00E9) at position 18 " in message  # T=0, o=1, ..., b=17, é=18
    assert "CharTokenizer.train(text)" in message and "unk_token" in message


def test_unseen_character_beyond_the_basic_plane(shakespeare_chars):
    with pytest.raises(ValueError, match=r"U\+1F643\) at position 2\b"):
        shakespeare_chars.encode("ab🙃")


@pytest.mark.parametrize("corpus", ["", [], ["", ""]])
def test_empty_corpus_is_rejected(corpus):
    with pytest.raises(ValueError, match="corpus is empty"):
        CharTokenizer.train(corpus)


@pytest.mark.parametrize(
    "corpus, message",
    [
        (42, "got int 42"),
        (b"bytes", r"not bytes: decode it first"),
        (["ok", b"bytes"], "Item 1 of the corpus is bytes b'bytes', not str"),
        ([None], "Item 0 of the corpus is NoneType None, not str"),
    ],
)
def test_corpus_that_is_not_text_is_rejected(corpus, message):
    with pytest.raises(ValueError, match=message):
        CharTokenizer.train(corpus)


@pytest.mark.parametrize(
    "text, message",
    [
        (b"hii", r"got bytes b'hii' \(decode it first"),
        (None, "got NoneType None"),
        ([1], "got list"),
    ],
)
def test_encode_takes_only_str(shakespeare_chars, text, message):
    with pytest.raises(ValueError, match=message):
        shakespeare_chars.encode(text)


@pytest.mark.parametrize(
    "ids, message",
    [
        ([1, 65], "Token id 65 at position 1 is out of range: .* ids 0 to 64"),
        ([-1], "Token id -1 at position 0 is out of range"),
        ([0, 1.5], "integer token ids; got 1.5 at position 1"),
        (["a"], "integer token ids; got 'a' at position 0"),
    ],
)
def test_decode_rejects_bad_ids(shakespeare_chars, ids, message):
    with pytest.raises(ValueError, match=message):
        shakespeare_chars.decode(ids)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"chars": ""}, "chars is empty"),
        ({"chars": ["a", "bc"]}, "single characters; got 'bc'"),
        ({"chars": "abca"}, "lists 'a' more than once"),
        ({"chars": "abc", "unk_token": ""}, "non-empty string; got ''"),
        ({"chars": "abc", "unk_token": 0}, "non-empty string; got 0"),
        ({"chars": "abc", "unk_token": "b"}, "unk_token='b' is a character of the vocabulary"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CharTokenizer(**kwargs)


# --- saving and loading --------------------------------------------------------------------------


@pytest.mark.parametrize("unk_token", [None, "<unk>"])
def test_save_and_load_give_identical_encodings(tmp_path, tiny_shakespeare, unk_token):
    tokenizer = CharTokenizer.train(tiny_shakespeare, unk_token=unk_token)
    path = tokenizer.save(tmp_path / "chars")

    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["class"] == "CharTokenizer"
    assert saved["config"] == {"chars": NANOGPT_CHARS, "unk_token": unk_token}
    for loaded in (Tokenizer.load(tmp_path / "chars"), CharTokenizer.load(tmp_path / "chars")):
        assert type(loaded) is CharTokenizer
        assert loaded.vocab_size == tokenizer.vocab_size
        text = tiny_shakespeare[:5000] + ("é" if unk_token else "")
        assert loaded.encode(text) == tokenizer.encode(text)


def test_char_tokenizer_load_refuses_another_class(tmp_path):
    WordBPETokenizer.train("low lower newest", num_merges=2).save(tmp_path)
    with pytest.raises(ValueError, match="holds a WordBPETokenizer, not a CharTokenizer"):
        CharTokenizer.load(tmp_path)


def test_docstring_examples():
    result = doctest.testmod(char_tokenizer_module)
    assert result.attempted > 0 and result.failed == 0
