"""Makes the chat run that the chat browser test serves, and the answers the page must show.

    python -m tests.course.gradio_chat_checkpoint DIR OUT MAX_NEW_TOKENS TEMPERATURE TOP_K
        MESSAGE SEED [MESSAGE SEED ...]

Without ``DIR/model.keras``, it writes a chat run there: a ``ChatTokenizer`` (TinyShakespeare's 65
characters plus the arithmetic task's) and a GPT that draws every token from one distribution,
digits and, with probability 1/16, the end token (``fixed_distribution.py`` of the serving tests):
it answers a few digits and stops, as a fine-tuned model does, without any training. A run already
in ``DIR`` (a real ``llm-keras sft`` run, for the book's figure) is used as it is.

Then it writes ``OUT`` (JSON), for each ``MESSAGE`` in turn: ``answer``, what ``generate_text``
gives with these settings and that message's ``SEED`` on the conversation written out in the chat
template, and ``left_out``,
how many of the oldest turns that conversation leaves out: the page keeps the most recent turns
whose chat, with room for ``MAX_NEW_TOKENS`` more tokens, fits in the context. An answer ends at
the end token or at the first other special token, as on the page. It runs in its own process with
the server's backend, so that the test process never imports Keras.
"""

import json
import sys
from pathlib import Path

from llm_keras.data import load_tiny_shakespeare
from llm_keras.finetuning.chat_template import ASSISTANT, END, USER, add_chat_tokens
from llm_keras.finetuning.tasks import get_task
from llm_keras.generation import generate_text
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.run_directory import load_for_inference, save_for_inference
from tests.llm_keras.serving.fixed_distribution import fixed_distribution_gpt

END_PROBABILITY = 1 / 16
CONTEXT_LENGTH = 64


def make_run(directory: Path):
    tokenizer = add_chat_tokens(CharTokenizer.train(load_tiny_shakespeare()),
                                get_task("arithmetic").characters)  # fmt: skip
    digit = (1 - END_PROBABILITY) / 10
    probabilities = {tokenizer.encode(d)[0]: digit for d in "0123456789"}
    probabilities[tokenizer.end_id] = END_PROBABILITY
    model = fixed_distribution_gpt(tokenizer.vocab_size, probabilities, CONTEXT_LENGTH)
    save_for_inference(directory, model, tokenizer)


def main(directory, out, max_new_tokens, temperature, top_k, messages_and_seeds):
    directory = Path(directory)
    if not (directory / "model.keras").is_file():
        make_run(directory)
    model, tokenizer = load_for_inference(directory)  # what the server will load
    context = model.config.context_length
    turns, results = [], []
    for message, seed in messages_and_seeds:
        chats = [f"{USER}{user}{END}{ASSISTANT}{answer}{END}" for user, answer in turns]
        chats.append(f"{USER}{message}{END}{ASSISTANT}")
        left_out = 0
        while left_out < len(turns):
            length = len(tokenizer.encode("".join(chats[left_out:])))
            if length + max_new_tokens <= context:
                break
            left_out += 1
        answer = generate_text(model, tokenizer, "".join(chats[left_out:]), max_new_tokens,
                               temperature=temperature, top_k=top_k or None, seed=seed,
                               end_token_id=tokenizer.end_id)  # fmt: skip
        for special in tokenizer.special_tokens:
            answer = answer.split(special)[0]
        turns.append((message, answer))
        results.append({"message": message, "seed": seed, "answer": answer, "left_out": left_out})
    Path(out).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    directory, out, max_new_tokens, temperature, top_k, *rest = sys.argv[1:]
    pairs = [(message, int(seed)) for message, seed in zip(rest[::2], rest[1::2], strict=True)]
    main(directory, out, int(max_new_tokens), float(temperature), int(top_k), pairs)
