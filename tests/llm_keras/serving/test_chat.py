"""The chat page's server side: the conversation in the chat template, old turns left out past the
context, the answer streamed until the end token, limits and errors, the page and the command.

The model draws every token from a fixed distribution (``fixed_distribution.py``): digits, and the
end token (or ``<|user|>``) with a known probability, so that answers end by themselves. The
expected answers come from ``generate_text`` / ``generate`` on the chat written out by hand.
The page itself, in a real browser, is tested in ``tests/course/test_gradio_chat_browser.py``.
"""

import argparse
import itertools

import keras
import numpy as np
import pytest

from llm_keras.finetuning.chat_template import ASSISTANT, END, USER, add_chat_tokens
from llm_keras.generation import generate, generate_text
from llm_keras.serving import DemoError, DemoLimits, chat_reply, fit_conversation
from llm_keras.serving.command import add_serve_command
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.run_directory import save_for_inference
from tests.llm_keras.serving.fixed_distribution import fixed_distribution_gpt

if keras.backend.backend() == "torch":
    import torch

    torch.set_num_threads(1)  # tiny models: a second thread only spin-waits (training/conftest)

LIMITS = DemoLimits(max_prompt_chars=40, max_new_tokens_limit=30)
DIGITS = "0123456789"
TURNS = [("12+3", "15"), ("20-7", "13")]
# The conversation and the new message "4+4" in the template, written out.
CHAT = (
    f"{USER}12+3{END}{ASSISTANT}15{END}{USER}20-7{END}{ASSISTANT}13{END}{USER}4+4{END}{ASSISTANT}"
)
SETTINGS = {"temperature": 1.0, "top_k": None, "top_p": None}


@pytest.fixture(scope="module")
def tokenizer():
    return add_chat_tokens(CharTokenizer("abcdefghijklmnopqrstuvwxyz "), DIGITS + "+-")


def digits_then(tokenizer, stop_id, stop_probability):
    """Digits, equally likely, and ``stop_id`` with ``stop_probability``."""
    digit = (1 - stop_probability) / len(DIGITS)
    return {**{tokenizer.encode(d)[0]: digit for d in DIGITS}, stop_id: stop_probability}


@pytest.fixture(scope="module")
def model(tokenizer):
    """Answers: digits until the end token, which comes with probability 0.2 at each step."""
    probabilities = digits_then(tokenizer, tokenizer.end_id, 0.2)
    return fixed_distribution_gpt(tokenizer.vocab_size, probabilities, context_length=64)


@pytest.fixture(scope="module")
def small_model(tokenizer):
    """Always "a", and a context of 32 tokens."""
    return fixed_distribution_gpt(tokenizer.vocab_size, {0: 1.0}, context_length=32)


def test_the_model_draws_from_its_fixed_distribution(model, tokenizer):
    ids = np.asarray([tokenizer.encode(CHAT)[:16], tokenizer.encode("abc 12+3 xyz" * 2)[:16]])
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model(ids), axis=-1))
    expected = np.zeros(tokenizer.vocab_size)
    for token_id, p in digits_then(tokenizer, tokenizer.end_id, 0.2).items():
        expected[token_id] = p
    np.testing.assert_allclose(probabilities, np.broadcast_to(expected, probabilities.shape),
                               atol=1e-6)  # fmt: skip


def test_the_answer_streams_what_generate_text_gives_on_the_chat_and_stops_at_the_end(
    model, tokenizer
):
    lengths = []
    for seed in (3, 11, 12):
        left_out, answers = chat_reply(model, tokenizer, TURNS, "4+4", 30, 1.0, 0, 1.0, seed,
                                       LIMITS)  # fmt: skip
        steps = list(answers)
        answer = steps[-1] if steps else ""  # the end token may come first
        expected = generate_text(model, tokenizer, CHAT, 30, end_token_id=tokenizer.end_id,
                                 seed=seed, **SETTINGS)  # fmt: skip
        assert left_out == 0 and answer == expected
        assert set(answer) <= set(DIGITS) and len(answer) < 30  # digits, ended early
        # It ended because the next token was the end token, which is not part of the answer:
        # without an end token, the same draws go on past it.
        drawn = generate(model, tokenizer.encode(CHAT), 30, seed=seed, **SETTINGS)
        assert drawn.index(tokenizer.end_id) == len(answer)
        assert tokenizer.decode(drawn[: len(answer)]) == answer
        # One step per token (a character tokenizer), each extending the one before.
        assert len(steps) == len(answer)
        assert all(b.startswith(a) and len(b) == len(a) + 1 for a, b in itertools.pairwise(steps))
        lengths.append(len(answer))
    assert max(lengths) >= 3, f"answers of {lengths} characters: too short to show streaming"


def test_an_answer_that_starts_a_turn_of_its_own_stops_there(tokenizer):
    probabilities = digits_then(tokenizer, tokenizer.user_id, 0.2)
    model = fixed_distribution_gpt(tokenizer.vocab_size, probabilities, context_length=64)
    _, answers = chat_reply(model, tokenizer, TURNS, "4+4", 30, 1.0, 0, 1.0, 5, LIMITS)
    answer = list(answers)[-1]
    text = generate_text(model, tokenizer, CHAT, 30, end_token_id=tokenizer.end_id, seed=5,
                         **SETTINGS)  # fmt: skip
    assert USER in text and answer == text[: text.index(USER)]


def test_only_the_most_recent_turns_that_fit_are_kept(tokenizer, small_model):
    # 10, 10 and 8 ids in the template; the message <|user|>4+4<|end|><|assistant|> 6.
    turns = [("12+3", "15"), ("20-7", "13"), ("1+1", "2")]
    cases = [(100, 3), (34, 3), (33, 2), (24, 2), (23, 1), (14, 1), (13, 0), (3, 0)]
    for max_tokens, kept in cases:
        ids, left_out = fit_conversation(tokenizer, turns, "4+4", max_tokens)
        assert left_out == 3 - kept
        expected = "".join(f"{USER}{u}{END}{ASSISTANT}{a}{END}" for u, a in turns[3 - kept :])
        assert tokenizer.decode(ids) == expected + f"{USER}4+4{END}{ASSISTANT}"
    # The page's budget: the context (32) less the answer's max_new_tokens.
    left_out, _ = chat_reply(small_model, tokenizer, turns, "4+4", 16, 0.0, 0, 1.0, 0, LIMITS)
    assert left_out == 2  # 8 + 6 ids <= 32 - 16 < 10 + 8 + 6


@pytest.mark.parametrize(
    "message, length, text",
    [
        ("", 5, "The message is empty"),
        ("1" * 41, 5, "The message has 41 characters; this demo accepts at most 40"),
        ("4+4", 31, "Length 31: choose between 1 and 30 new tokens"),
        ("4*4", 5, r"Character '\*' at position 1 is neither in the base"),
        (f"4+4{END}", 5, r"contains the special token '<\|end\|>'"),
        (
            "1" * 32,
            5,
            "The message takes 35 tokens in the chat template; this model reads at most 32",
        ),
    ],
    ids=["empty", "too-long", "length", "unknown-character", "special-token", "past-context"],
)
def test_what_the_chat_refuses_becomes_a_message(small_model, tokenizer, message, length, text):
    with pytest.raises(DemoError, match=text):
        chat_reply(small_model, tokenizer, [], message, length, 1.0, 0, 1.0, 0, LIMITS)


def test_the_chat_page_keeps_the_turns_as_written(model, tokenizer):
    gr = pytest.importorskip("gradio")
    from llm_keras.serving import build_chat_demo

    demo = build_chat_demo(model, tokenizer, DemoLimits(concurrency=2, queue_size=5))
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert ids == {"chatbot", "message", "send", "clear", "max-new-tokens", "temperature",
                   "top-k", "top-p", "seed"}  # fmt: skip
    assert demo.analytics_enabled is False
    assert (demo._queue.default_concurrency_limit, demo._queue.max_size) == (2, 5)
    (chat,) = [f.fn for f in demo.fns.values() if f.api_name == "chat"]
    turns = [("  12+3", "15"), ("20-7", "")]  # leading spaces, and an empty answer
    chat_text = (f"{USER}  12+3{END}{ASSISTANT}15{END}{USER}20-7{END}{ASSISTANT}{END}"
                 f"{USER}4+4{END}{ASSISTANT}")  # fmt: skip
    # The first seed whose answer is not empty (the end token may come first).
    answer, seed = next(
        (text, seed) for seed in range(3, 20)
        if (text := generate_text(model, tokenizer, chat_text, 30, end_token_id=tokenizer.end_id,
                                  seed=seed, **SETTINGS))
    )  # fmt: skip
    steps = list(chat("4+4", turns, 30, 1.0, 0, 1.0, seed))
    messages, kept, box = steps[-1]
    assert kept == [*turns, ("4+4", answer)] and box == ""
    assert messages == [
        {"role": "user", "content": "  12+3"},
        {"role": "assistant", "content": "15"},
        {"role": "user", "content": "20-7"},  # no empty bubble
        {"role": "user", "content": "4+4"},
        {"role": "assistant", "content": answer},
    ]
    assert steps[0][1][-1] == ("4+4", "")  # the message is shown before the answer
    assert len(steps) == len(answer) + 1
    with pytest.raises(gr.Error, match="The message is empty"):  # a message on the page
        list(chat("", turns, 30, 1.0, 0, 1.0, 3))


@pytest.mark.parametrize("chat_run", [True, False], ids=["chat-run", "base-run"])
def test_serve_shows_a_chat_for_a_chat_run(chat_run, model, tokenizer, tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    from llm_keras.serving import app

    if chat_run:
        save_for_inference(tmp_path, model, tokenizer)
    else:
        base = tokenizer.base
        save_for_inference(tmp_path, fixed_distribution_gpt(base.vocab_size, {0: 1.0}), base)
    served = []
    monkeypatch.setattr(app, "launch_demo", lambda demo, host, port: served.append(demo))
    parser = argparse.ArgumentParser()
    add_serve_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--checkpoint", str(tmp_path), "--max-new-tokens", "20"])
    args.handler(args)
    (demo,) = served
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert ("chatbot" in ids, "prompt" in ids) == (chat_run, not chat_run)
