"""Pre-tokenisation: GPT-2's regex, and cutting a stream where the result cannot change."""

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_keras.tokenizers.pretokenization import (
    GPT2_SPLIT_PATTERN,
    count_pretokens,
    safe_pieces,
    special_tokens_pattern,
)

SPLIT = regex.compile(GPT2_SPLIT_PATTERN)


def test_gpt2_pattern_cuts_words_with_their_leading_space():
    assert SPLIT.findall("Hello world, it's 2024!\n\n  ok") == [
        "Hello", " world", ",", " it", "'s", " 2024", "!", "\n\n ", " ok",
    ]


def test_counting_drops_special_tokens():
    counts = count_pretokens(["a b<|e|>a b", "b"], special_tokens=["<|e|>"])
    assert counts == {"a": 2, " b": 2, "b": 1}


def test_longest_special_token_wins():
    pattern = special_tokens_pattern(["<|a|>", "<|a|><|a|>"])
    assert pattern.findall("<|a|><|a|><|a|>") == ["<|a|><|a|>", "<|a|>"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("ab \n\r\t'sé1.🙃<|>"), max_size=25), max_size=40),
    st.integers(min_value=1, max_value=40),
)
def test_safe_pieces_pretokenise_like_the_whole(texts, min_chars):
    whole = "".join(texts)
    pieces = list(safe_pieces(texts, min_chars=min_chars, special_tokens=["<|>"]))
    assert "".join(pieces) == whole
    assert all(len(p) >= min_chars for p in pieces[:-1])
    assert [w for p in pieces for w in SPLIT.findall(p)] == SPLIT.findall(whole)
    specials = [m.span() for m in special_tokens_pattern(["<|>"]).finditer(whole)]
    cuts = [sum(map(len, pieces[:k])) for k in range(1, len(pieces))]
    assert not any(start < cut < end for cut in cuts for start, end in specials)


def test_long_text_is_cut_into_many_pieces(tiny_shakespeare):
    pieces = list(safe_pieces([tiny_shakespeare], min_chars=100_000))
    # 1,115,394 characters: 11 pieces of just over 100,000 (cut at the next safe place), then
    # the last 15,000 or so.
    assert len(pieces) == 12
    assert all(100_000 <= len(p) < 100_100 for p in pieces[:-1])
    assert "".join(pieces) == tiny_shakespeare
