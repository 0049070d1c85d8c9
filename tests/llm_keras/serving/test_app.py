"""The Gradio demo's server side: request checks, streaming, the app's wiring, the serve command.

The page itself, in a real browser, is tested once in ``tests/course/test_gradio_demo_browser.py``.
"""

import argparse
import itertools

import keras
import pytest

from llm_keras.generation import generate_text
from llm_keras.models import GPT, GPTConfig
from llm_keras.serving import DemoError, DemoLimits, check_request, stream_reply
from llm_keras.serving.command import add_serve_command
from llm_keras.tokenizers import CharTokenizer

LIMITS = DemoLimits(max_prompt_chars=20, max_new_tokens_limit=30)


@pytest.fixture(scope="module")
def model_and_tokenizer():
    tokenizer = CharTokenizer("\n abcdefghijklmnopqrstuvwxyz:ROME")
    keras.utils.set_random_seed(0)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size, context_length=16, d_model=16, n_layers=1, n_heads=2
    )
    return GPT(config), tokenizer


def test_a_request_becomes_generation_options():
    assert check_request("ROMEO:", 12.0, 0.8, 0, 1.0, 5, LIMITS) == (
        12,
        {"temperature": 0.8, "top_k": None, "top_p": None, "seed": 5},
    )  # top-k 0 and top-p 1 are "off"
    assert check_request("a", 1, 0, 40, 0.9, 3, LIMITS)[1] == {
        "temperature": 0.0,
        "top_k": 40,
        "top_p": 0.9,
        "seed": 3,
    }
    seeds = {check_request("a", 1, 1.0, 0, 1.0, -1, LIMITS)[1]["seed"] for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)  # -1: a new seed each time


@pytest.mark.parametrize(
    "prompt, length, seed, message",
    [
        ("", 5, 0, "The prompt is empty"),
        ("x" * 21, 5, 0, "The prompt has 21 characters; this demo accepts at most 20"),
        ("ROMEO:", 31, 0, "Length 31: choose between 1 and 30 new tokens"),
        ("ROMEO:", 0, 0, "Length 0"),
        ("ROMEO:", "many", 0, "whole number of tokens"),
        ("ROMEO:", 5, 2**31, "Seed 2147483648"),
    ],
)
def test_requests_out_of_limits_are_refused_in_words(prompt, length, seed, message):
    with pytest.raises(DemoError, match=message):
        check_request(prompt, length, 1.0, 0, 1.0, seed, LIMITS)


def test_limits_are_positive_integers():
    with pytest.raises(ValueError, match="concurrency must be a positive integer, got 0"):
        DemoLimits(concurrency=0)


def test_the_reply_streams_the_text_generate_text_gives(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    steps = list(stream_reply(model, tokenizer, "ROMEO:", 10, 0.9, 5, 1.0, 11, LIMITS))
    expected = generate_text(model, tokenizer, "ROMEO:", 10, temperature=0.9, top_k=5, seed=11)
    assert steps[-1] == expected and len(steps) == 10  # one step per character
    assert all(
        later.startswith(earlier) and len(later) > len(earlier)
        for earlier, later in itertools.pairwise(steps)
    )


def test_what_generation_refuses_becomes_a_message(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    with pytest.raises(DemoError, match="Character '!'"):
        list(stream_reply(model, tokenizer, "ROMEO!", 5, 1.0, 0, 1.0, 0, LIMITS))


def test_the_app_has_its_controls_and_a_queue(model_and_tokenizer):
    pytest.importorskip("gradio")
    from llm_keras.serving import build_demo

    model, tokenizer = model_and_tokenizer
    demo = build_demo(model, tokenizer, DemoLimits(concurrency=2, queue_size=5))
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert ids == {
        "prompt",
        "generate",
        "output",
        "max-new-tokens",
        "temperature",
        "top-k",
        "top-p",
        "seed",
    }
    assert demo.analytics_enabled is False
    assert (demo._queue.default_concurrency_limit, demo._queue.max_size) == (2, 5)


def test_serve_command_reads_its_options_and_needs_a_run_directory(tmp_path):
    parser = argparse.ArgumentParser()
    add_serve_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["serve", "--checkpoint", str(tmp_path), "--port", "7000", "--concurrency", "2"]
    )
    assert (args.port, args.concurrency, args.host, args.max_new_tokens) == (
        7000,
        2,
        "127.0.0.1",
        500,
    )
    with pytest.raises(ValueError, match="No trained model in"):
        args.handler(args)
