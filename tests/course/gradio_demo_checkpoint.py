"""Makes the run directory that the browser test serves, and the text the page must show.

    python -m tests.course.gradio_demo_checkpoint DIR PROMPT MAX_NEW_TOKENS TEMPERATURE TOP_K SEED [RUN]

Without ``RUN`` it writes ``DIR/model.keras`` and ``DIR/tokenizer/`` (a small character-level GPT on
TinyShakespeare's 65 characters, untrained: random weights from a fixed seed): the server serves
``DIR``. With ``RUN``, a trained run directory (``llm-keras train --out RUN``), nothing is made:
the server serves ``RUN``. Either way it writes ``DIR/expected.txt``, the continuation of
``PROMPT`` with these sampling settings, computed here with ``llm_keras.generation`` without the
web app (the same seed gives the same text on a backend, streamed or not), and ``DIR/model.txt``,
one phrase that says which model is served (the caption of the book's picture of the page). It
runs in its own process with the backend the server will use, so that the test process never
imports Keras. (An untrained model's greedy text repeats one character; a seeded sample shows
more of the page.)
"""

import json
import sys
from pathlib import Path

import keras

from llm_keras.data import load_tiny_shakespeare
from llm_keras.generation import generate_text
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.checkpoint import latest_checkpoint, read_checkpoint
from llm_keras.training.run_directory import load_for_inference, save_for_inference


def main(directory, prompt, max_new_tokens, temperature, top_k, seed, run=None):
    directory = Path(directory)
    if run is None:
        tokenizer = CharTokenizer.train(load_tiny_shakespeare())
        keras.utils.set_random_seed(0)
        model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=64, d_model=32,
                              n_layers=2, n_heads=4))  # fmt: skip
        save_for_inference(directory, model, tokenizer)
    model, tokenizer = load_for_inference(run or directory)  # what the server will load
    text = generate_text(
        model, tokenizer, prompt, max_new_tokens, temperature=temperature, top_k=top_k, seed=seed
    )
    (directory / "expected.txt").write_text(text, encoding="utf-8")
    (directory / "model.txt").write_text(describe(model, run), encoding="utf-8")


def describe(model, run=None) -> str:
    """Which model the page serves, in a phrase: how it was trained, as far as ``run`` says."""
    size = f"{model.num_parameters() / 1e6:.2f} million parameters"
    if run is None:
        return f"an untrained character-level GPT (random weights, {size}): its text is noise"
    run = Path(run)
    checkpoint = latest_checkpoint(run)
    settings = run / "run.json"
    if checkpoint is None or not settings.is_file():
        return f"the GPT of the run directory {run.name} ({size})"
    last = read_checkpoint(checkpoint)[1]["history"]["evaluations"][-1]
    preset = json.loads(settings.read_text())["preset"]
    model_name = f"the {preset} preset" if preset else "the GPT"
    return (
        f"{model_name} trained by llm-keras train for {last['step']:,} steps ({size}, validation "
        f"loss {last['val_loss']:.2f} nats per character)"
    )


if __name__ == "__main__":
    directory, prompt, max_new_tokens, temperature, top_k, seed, *run = sys.argv[1:]
    main(directory, prompt, int(max_new_tokens), float(temperature), int(top_k), int(seed), *run)
