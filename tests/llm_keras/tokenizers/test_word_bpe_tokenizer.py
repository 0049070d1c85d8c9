"""WordBPETokenizer: parity with subword-nmt, Sennrich's own implementation of the 2016 paper.

The oracle is the PyPI package ``subword-nmt``: ``learn_bpe`` for the merges (its codes file,
version 0.2: ``</w>`` glued to the last character) and ``apply_bpe.BPE`` for the segmentation of
held-out text (its output marks every subword but a word's last with ``@@``). Training texts are
given to it with spaces and newlines as the only whitespace, where its word splitting (on " ")
and ours (``str.split()``) agree.
"""

import contextlib
import doctest
import io
import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from subword_nmt.apply_bpe import BPE
from subword_nmt.learn_bpe import learn_bpe

import llm_keras.tokenizers.word_bpe_tokenizer as word_bpe_module
from llm_keras.tokenizers.base import Tokenizer
from llm_keras.tokenizers.char_tokenizer import CharTokenizer
from llm_keras.tokenizers.word_bpe_tokenizer import WordBPETokenizer

TRAIN_CHARS = 200_000  # the first 200,000 characters of TinyShakespeare
NUM_MERGES = 500
VAL_START = 1_003_854  # nanoGPT's 90/10 split: the last 111,540 characters are held out


def subword_nmt_merges(text: str, num_merges: int, min_frequency: int = 2) -> list[tuple[str, str]]:
    """The merges that subword-nmt's learn_bpe writes for ``text``, as (first, second) pairs."""
    codes = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar and "Stopping" note
        learn_bpe(io.StringIO(text), codes, num_merges, min_frequency=min_frequency)
    header, *lines = codes.getvalue().splitlines()
    assert header == "#version: 0.2"
    return [tuple(line.split(" ")) for line in lines]


def subword_nmt_symbols(codes: list[tuple[str, str]], words: list[str]) -> list[str]:
    """subword-nmt's apply_bpe segmentation of ``words``, written as our symbols: its "x@@"
    (not the end of a word) is our "x", and its word-final "y" is our "y</w>"."""
    codes_file = io.StringIO("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in codes))
    pieces = BPE(codes_file).segment_tokens(words)
    return [piece[:-2] if piece.endswith("@@") else piece + "</w>" for piece in pieces]


@pytest.fixture(scope="module")
def shakespeare_train(tiny_shakespeare) -> str:
    return tiny_shakespeare[:TRAIN_CHARS]


@pytest.fixture(scope="module")
def reference_merges(shakespeare_train) -> list[tuple[str, str]]:
    return subword_nmt_merges(shakespeare_train, NUM_MERGES)


@pytest.fixture(scope="module")
def shakespeare_bpe(shakespeare_train) -> WordBPETokenizer:
    return WordBPETokenizer.train(shakespeare_train, num_merges=NUM_MERGES)


@pytest.fixture(scope="module")
def shakespeare_bpe_unk(shakespeare_train) -> WordBPETokenizer:
    return WordBPETokenizer.train(shakespeare_train, num_merges=NUM_MERGES, unk_token="<unk>")


# --- parity with subword-nmt -------------------------------------------------------------------


def test_merges_equal_subword_nmt_on_tiny_shakespeare(shakespeare_bpe, reference_merges):
    assert len(reference_merges) == NUM_MERGES
    assert shakespeare_bpe.merges == reference_merges


def test_vocab_size_counts_the_alphabet_then_one_id_per_merge(shakespeare_train, reference_merges):
    # The first 200,000 characters hold 62 distinct characters, 60 of them not whitespace:
    # each alone and with </w>, 120 ids before any merge.
    num_chars = len(set(shakespeare_train) - {" ", "\n"})
    assert num_chars == 60
    tokenizer = WordBPETokenizer.train(shakespeare_train, vocab_size=2 * num_chars + 300)
    assert tokenizer.vocab_size == 2 * num_chars + 300
    assert tokenizer.merges == reference_merges[:300]


def test_segmentation_equals_subword_nmt_on_held_out_text(
    shakespeare_bpe, reference_merges, tiny_shakespeare
):
    words = tiny_shakespeare[VAL_START:].split()
    assert len(words) == 20_153
    expected = subword_nmt_symbols(reference_merges, words)

    ids = shakespeare_bpe.encode(" ".join(words))

    assert [shakespeare_bpe.symbols[i] for i in ids] == expected
    assert len(ids) == 50_122  # ~2.5 symbols per word after 500 merges


@pytest.mark.parametrize("min_frequency", [1, 2, 5])
def test_training_stops_where_subword_nmt_stops(tiny_shakespeare, min_frequency):
    text = tiny_shakespeare[:3000]
    expected = subword_nmt_merges(text, 100_000, min_frequency)
    assert len(expected) < 1000  # it stopped on min_frequency, long before 100,000 merges

    tokenizer = WordBPETokenizer.train(text, num_merges=100_000, min_frequency=min_frequency)

    assert tokenizer.merges == expected


def test_ties_go_to_the_greatest_pair_as_in_subword_nmt():
    # Every pair occurs twice, so the order is decided by ties alone: the greatest pair first.
    text = "ab cd ab cd ba dc ba dc abc abc"
    expected = [
        ("d", "c</w>"),
        ("c", "d</w>"),
        ("b", "c</w>"),
        ("b", "a</w>"),
        ("a", "bc</w>"),
        ("a", "b</w>"),
    ]
    assert subword_nmt_merges(text, 20) == expected
    assert WordBPETokenizer.train(text, num_merges=20).merges == expected


def test_ties_compare_the_symbols_text_with_its_end_of_word_marker():
    # After "c !</w>" (4 times), "b c</w>" and "b c!</w>" tie at 2: "c</w>" > "c!</w>" because
    # "<" > "!" (without the marker, "c!" > "c" would win).
    text = "bc bc bc! bc! c! c!"
    expected = [("c", "!</w>"), ("b", "c</w>"), ("b", "c!</w>")]
    assert subword_nmt_merges(text, 20) == expected
    assert WordBPETokenizer.train(text, num_merges=20).merges == expected


# Small corpora over few letters, where ties, repeated letters ("a a a" -> "aa a") and words
# made of one character are common.
small_corpora = st.lists(
    st.lists(
        st.text(alphabet="abc ", min_size=1, max_size=8).map(str.strip).filter(bool),
        min_size=1,
        max_size=6,
    ).map(" ".join),
    min_size=1,
    max_size=12,
).map("\n".join)


@settings(max_examples=150, deadline=None)
@given(text=small_corpora, num_merges=st.integers(0, 40), min_frequency=st.integers(1, 3))
def test_merges_equal_subword_nmt_on_small_corpora(text, num_merges, min_frequency):
    # subword-nmt fails (max() of an empty sequence) when no word has two characters.
    assume(any(len(word) > 1 for word in text.split()))
    expected = subword_nmt_merges(text, num_merges, min_frequency)
    tokenizer = WordBPETokenizer.train(text, num_merges=num_merges, min_frequency=min_frequency)
    assert tokenizer.merges == expected
    if expected:  # (apply_bpe cannot read a codes file without merges)
        symbols = [tokenizer.symbols[i] for i in tokenizer.encode(text)]
        assert symbols == subword_nmt_symbols(expected, text.split())


# --- the vocabulary, encode and decode -----------------------------------------------------------


def test_sennrich_example_vocabulary_and_ids():
    tokenizer = WordBPETokenizer.train("low low lower newest newest widest", num_merges=4)
    # The alphabet d e i l n o r s t w, each alone and with </w>: ids 0-19; then one id per merge.
    assert tokenizer.symbols[:6] == ["d", "d</w>", "e", "e</w>", "i", "i</w>"]
    assert tokenizer.symbols[20:] == ["we", "st</w>", "lo", "west</w>"]
    assert tokenizer.encode("lowest low") == [22, 23, 22, 19]  # lo west</w> lo w</w>
    assert tokenizer.decode([22, 23, 22, 19]) == "lowest low"
    assert tokenizer.decode([22, 20]) == "lowe"  # no end of word: no space


def test_unk_token_stands_for_unseen_characters():
    tokenizer = WordBPETokenizer.train("low low lower", num_merges=2, unk_token="<unk>")
    # e e</w> l l</w> o o</w> r r</w> w w</w>: ids 0-9; <unk> 10, <unk></w> 11; lo 12, low</w> 13.
    assert tokenizer.symbols[10:] == ["<unk>", "<unk></w>", "lo", "low</w>"]
    assert tokenizer.encode("lé élow") == [2, 11, 10, 13]  # l <unk></w> <unk> low</w>
    assert tokenizer.decode([2, 11, 10, 13]) == "l<unk> <unk>low"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_decode_inverts_encode_up_to_whitespace(shakespeare_bpe, data):
    alphabet = shakespeare_bpe.get_config()["alphabet"]
    words = data.draw(st.lists(st.text(alphabet=alphabet, min_size=1, max_size=12), max_size=20))
    text = " ".join(words)
    assert shakespeare_bpe.decode(shakespeare_bpe.encode(text)) == text
    spaced = data.draw(st.text(alphabet=alphabet + " \n\t\r\u00a0\u3000", max_size=200))
    assert shakespeare_bpe.decode(shakespeare_bpe.encode(spaced)) == " ".join(spaced.split())


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=100))
def test_unk_token_decodes_as_documented_for_any_text(shakespeare_bpe_unk, text):
    assume("</w>" not in text)
    alphabet = set(shakespeare_bpe_unk.get_config()["alphabet"])
    expected = " ".join(
        "".join(c if c in alphabet else "<unk>" for c in word) for word in text.split()
    )
    assert shakespeare_bpe_unk.decode(shakespeare_bpe_unk.encode(text)) == expected


def test_training_on_an_iterable_of_lines_equals_training_on_the_text(
    shakespeare_train, shakespeare_bpe
):
    lines = iter(shakespeare_train.splitlines(keepends=True))
    assert WordBPETokenizer.train(lines, num_merges=NUM_MERGES).merges == shakespeare_bpe.merges


def test_progress_bar(capsys):
    WordBPETokenizer.train("low low lower newest newest widest", num_merges=4, progress=True)
    assert "BPE merges" in capsys.readouterr().err
    WordBPETokenizer.train("low low lower newest newest widest", num_merges=4)
    assert capsys.readouterr().err == ""  # small corpora: no bar by default


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("corpus", ["", " \n\t ", [], ["", "  "]])
def test_empty_corpus_is_rejected(corpus):
    with pytest.raises(ValueError, match="The corpus has no words"):
        WordBPETokenizer.train(corpus, num_merges=10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "Give exactly one of vocab_size and num_merges"),
        ({"vocab_size": 100, "num_merges": 10}, "Give exactly one of vocab_size and num_merges"),
        # "low lower": e l o r w, 10 ids before any merge (12 with an unknown token).
        ({"vocab_size": 9}, "vocab_size=9 is too small; it must be at least 10: the 5 characters"),
        ({"vocab_size": 11, "unk_token": "<unk>"}, "at least 12: .* the unknown token 2 more"),
        ({"vocab_size": 20.0}, "vocab_size must be an int; got float 20.0"),
        ({"vocab_size": "20"}, "vocab_size must be an int; got str '20'"),
        ({"num_merges": -1}, "num_merges=-1 is too small; it must be at least 0"),
        ({"num_merges": True}, "num_merges must be an int; got bool True"),
        ({"num_merges": 5, "min_frequency": 0}, "min_frequency=0 is too small"),
        ({"num_merges": 5, "unk_token": "<un k>"}, "without whitespace or '</w>'; got '<un k>'"),
        ({"num_merges": 5, "unk_token": "o"}, "unk_token='o' is a character of the alphabet"),
    ],
)
def test_bad_training_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WordBPETokenizer.train("low lower", **kwargs)


def test_zero_merges_give_the_alphabet_alone():
    tokenizer = WordBPETokenizer.train("low lower", vocab_size=10)
    assert tokenizer.merges == [] and tokenizer.vocab_size == 10
    assert tokenizer.encode("row") == [6, 4, 9]  # r o w</w>


def test_end_of_word_marker_in_text_is_rejected(shakespeare_bpe):
    with pytest.raises(ValueError, match=r"contains the word 'a</w>b'.* reserves"):
        WordBPETokenizer.train("low a</w>b", num_merges=3)
    with pytest.raises(ValueError, match=r"contains '</w>' \(at position 4\)"):
        shakespeare_bpe.encode("what</w>")


def test_unseen_character_error_names_it_and_says_what_to_do(shakespeare_bpe):
    with pytest.raises(ValueError) as error:
        shakespeare_bpe.encode("To be, or not\nto bé")
    message = str(error.value)
    assert "'é' (U+00E9) at position 18 " in message  # T=0, o=1, ..., b=17, é=18
    assert "WordBPETokenizer.train(text)" in message and "unk_token" in message


@pytest.mark.parametrize(
    "text, message",
    [(b"to be", r"got bytes b'to be' \(decode it first"), (None, "got NoneType None")],
)
def test_encode_takes_only_str(shakespeare_bpe, text, message):
    with pytest.raises(ValueError, match=message):
        shakespeare_bpe.encode(text)


@pytest.mark.parametrize(
    "ids, message",
    [
        ([0, 10**6], "Token id 1000000 at position 1 is out of range"),
        ([-1], "Token id -1 at position 0 is out of range"),
        ([2.0], "integer token ids; got 2.0 at position 0"),
    ],
)
def test_decode_rejects_bad_ids(shakespeare_bpe, ids, message):
    with pytest.raises(ValueError, match=message):
        shakespeare_bpe.decode(ids)


@pytest.mark.parametrize(
    "merges, message",
    [
        ([("l", "o"), ("lo", "x")], r"Merge 1 \('lo', 'x'\) uses the symbol 'x'"),
        ([("lo", "w")], r"Merge 0 \('lo', 'w'\) uses the symbol 'lo'"),
        ([("l", "o", "w")], "a merge is a pair of strings"),
    ],
)
def test_bad_merges_are_rejected(merges, message):
    with pytest.raises(ValueError, match=message):
        WordBPETokenizer("low", merges)


# --- saving and loading --------------------------------------------------------------------------


@pytest.mark.parametrize("unk_token", [None, "<unk>"])
def test_save_and_load_give_identical_encodings(
    tmp_path, shakespeare_train, tiny_shakespeare, unk_token
):
    tokenizer = WordBPETokenizer.train(shakespeare_train, num_merges=200, unk_token=unk_token)
    path = tokenizer.save(tmp_path)

    config = json.loads(path.read_text(encoding="utf-8"))["config"]
    assert sorted(config) == ["alphabet", "merges", "unk_token"]
    assert config["merges"][0] == list(tokenizer.merges[0])
    held_out = tiny_shakespeare[VAL_START:]
    for loaded in (Tokenizer.load(tmp_path), WordBPETokenizer.load(tmp_path)):
        assert type(loaded) is WordBPETokenizer
        assert loaded.merges == tokenizer.merges and loaded.symbols == tokenizer.symbols
        assert loaded.encode(held_out) == tokenizer.encode(held_out)


def test_word_bpe_load_refuses_another_class(tmp_path):
    CharTokenizer.train("hello").save(tmp_path)
    with pytest.raises(ValueError, match="holds a CharTokenizer, not a WordBPETokenizer"):
        WordBPETokenizer.load(tmp_path)


def test_docstring_examples():
    result = doctest.testmod(word_bpe_module)
    assert result.attempted > 0 and result.failed == 0
