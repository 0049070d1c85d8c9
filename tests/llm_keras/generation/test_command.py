"""`llm-keras generate` on a run directory made with save_for_inference."""

import os
import subprocess
import sys

import numpy as np
import pytest

from llm_keras.cli import main
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import ByteLevelBPETokenizer, CharTokenizer
from llm_keras.training.run_directory import save_for_inference
from tests.conftest import REPO
from tests.llm_keras.models.numpy_gpt import gpt_params, set_gpt

CORPUS = "ROMEO:\nBut, soft! what light through yonder window breaks?\n"


@pytest.fixture(scope="module")
def run_directory(tmp_path_factory):
    """A tiny GPT and its CharTokenizer saved as `llm-keras train` saves them."""
    tokenizer = CharTokenizer.train(CORPUS)
    config = GPTConfig(tokenizer.vocab_size, 64, d_model=16, n_layers=2, n_heads=2, d_ff=32)
    model = GPT(config)
    set_gpt(model, gpt_params(np.random.default_rng(2), config))
    directory = tmp_path_factory.mktemp("run")
    save_for_inference(directory, model, tokenizer)
    return directory, tokenizer


def generate_command(directory, *options):
    return main(["generate", "--checkpoint", str(directory), *options])


def test_generate_prints_the_prompt_and_the_continuation(run_directory, capsys):
    directory, tokenizer = run_directory
    options = ["--prompt", "ROMEO:", "--max-new-tokens", "40", "--temperature", "0.8",
               "--top-k", "10", "--seed", "7"]  # fmt: skip
    assert generate_command(directory, *options) == 0
    captured = capsys.readouterr()
    streamed = captured.out
    assert streamed.startswith("ROMEO:") and streamed.endswith("\n")
    continuation = streamed[len("ROMEO:") : -1]
    assert len(continuation) == 40 and set(continuation) <= set(tokenizer.chars)
    assert "40 tokens in" in captured.err and "tokens/s" in captured.err
    assert generate_command(directory, *options, "--no-stream") == 0
    assert capsys.readouterr().out == streamed  # the same seed, streamed or not


def test_generate_stops_at_the_end_token(run_directory, capsys):
    directory, _ = run_directory
    assert generate_command(directory, "--max-new-tokens", "40", "--temperature", "0") == 0
    greedy = capsys.readouterr().out[1:-1]  # after the default prompt, a newline
    end = next(c for i, c in enumerate(greedy) if i > 2 and c not in greedy[:i])
    argv = ["--max-new-tokens", "40", "--temperature", "0", "--end-token", end]
    assert generate_command(directory, *argv) == 0
    assert capsys.readouterr().out == "\n" + greedy[: greedy.index(end)] + "\n"


def test_the_byte_level_end_of_text_token_is_the_default_end(tmp_path, capsys):
    tokenizer = ByteLevelBPETokenizer.train(CORPUS * 5, 260, ["<|endoftext|>"])
    end = tokenizer.special_tokens["<|endoftext|>"]
    config = GPTConfig(tokenizer.vocab_size, 16, d_model=16, n_layers=1, n_heads=2, d_ff=32)
    model = GPT(config)
    # Every position's final hidden vector becomes v (norm gain 0, bias v), and the table row of
    # <|endoftext|> 10 v: its logit is 10, the others about 0.02. The text ends at once.
    v = np.random.default_rng(0).normal(size=16)
    v /= np.linalg.norm(v)
    model.final_norm.gamma.assign(np.zeros(16))
    model.final_norm.beta.assign(v)
    table = np.array(model.token_embedding.embeddings)
    table[end] = 10 * v
    model.token_embedding.embeddings.assign(table)
    save_for_inference(tmp_path, model, tokenizer)
    assert generate_command(tmp_path, "--prompt", "ROMEO:", "--temperature", "0") == 0
    assert capsys.readouterr().out == "ROMEO:\n"


@pytest.mark.parametrize(
    "options, message",
    [
        (["--prompt", ""], "The prompt is empty"),
        (["--prompt", "JULIET:"], "Character 'J' (U+004A) at position 0 is not in this"),
        (["--max-new-tokens", "0"], "--max-new-tokens 0: give a number of tokens >= 1"),
        (["--top-p", "2"], "--top-p 2.0 is outside (0, 1]"),
        (["--top-k", "0"], "--top-k 0 is not a number of likeliest tokens to keep"),
        (["--temperature", "-1"], "--temperature -1.0 must be a finite number >= 0"),
        (["--end-token", "ROMEO"], "--end-token 'ROMEO' is 5 tokens for this tokenizer"),
    ],
)
def test_mistakes_are_one_line_errors(run_directory, capsys, options, message):
    directory, _ = run_directory
    assert generate_command(directory, *options) == 2
    error = capsys.readouterr().err
    assert error.startswith("llm-keras: error: ") and message in error
    assert len(error.strip().splitlines()) == 1


def test_a_directory_without_a_model_is_named(tmp_path, capsys):
    assert generate_command(tmp_path) == 2
    error = capsys.readouterr().err
    assert f"No trained model in {str(tmp_path)!r}: expected model.keras there" in error


def test_train_then_generate_as_a_new_user_would(trained_run, data_file):
    """`llm-keras train` (a tiny model, a few steps: the run the training tests share) then
    `llm-keras generate` on its directory, in a new process as a user would run it: nothing that
    training imported is there to help loading (a model saved with its compile set-up once failed
    to load in a fresh process)."""
    run, _ = trained_run
    program = "import sys; from llm_keras.cli import main; sys.exit(main(sys.argv[1:]))"
    generate = [sys.executable, "-c", program, "generate", "--checkpoint", str(run),
                "--prompt", "ROMEO:", "--max-new-tokens", "50"]  # fmt: skip
    done = subprocess.run(generate, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    continuation = text[len("ROMEO:") : -1]
    assert text.startswith("ROMEO:") and len(continuation) == 50
    assert set(continuation) <= set(data_file.read_text(encoding="utf-8"))
