"""Makes the run directory that the browser test serves, and the text the page must show.

    python -m tests.course.gradio_demo_checkpoint DIR PROMPT MAX_NEW_TOKENS TEMPERATURE TOP_K SEED

writes ``DIR/model.keras`` and ``DIR/tokenizer/`` (a small character-level GPT on TinyShakespeare's
65 characters, untrained: random weights from a fixed seed) and ``DIR/expected.txt``: the
continuation of ``PROMPT`` with these sampling settings, computed here with
``llm_keras.generation`` without the web app (the same seed gives the same text on a backend,
streamed or not). It runs in its own process with the backend the server will use, so that the
test process never imports Keras. (An untrained model's greedy text repeats one character; a
seeded sample shows more of the page.)
"""

import sys
from pathlib import Path

import keras

from llm_keras.data import load_tiny_shakespeare
from llm_keras.generation import generate_text
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.run_directory import load_for_inference, save_for_inference


def main(directory, prompt, max_new_tokens, temperature, top_k, seed):
    directory = Path(directory)
    tokenizer = CharTokenizer.train(load_tiny_shakespeare())
    keras.utils.set_random_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context_length=64, d_model=32,
                          n_layers=2, n_heads=4))  # fmt: skip
    save_for_inference(directory, model, tokenizer)
    model, tokenizer = load_for_inference(directory)  # what the server will load
    text = generate_text(
        model, tokenizer, prompt, max_new_tokens, temperature=temperature, top_k=top_k, seed=seed
    )
    (directory / "expected.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    directory, prompt, max_new_tokens, temperature, top_k, seed = sys.argv[1:]
    main(directory, prompt, int(max_new_tokens), float(temperature), int(top_k), int(seed))
