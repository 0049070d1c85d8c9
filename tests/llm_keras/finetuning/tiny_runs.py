"""What the fine-tuning and alignment tests share: the small GPT of the chat tests (chats of a
few letters, with the chat tokens' ids right after them), the weights a last-token head trains,
and a base run directory for the commands."""

import string

import keras

from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.run_directory import load_for_inference, save_for_inference


def small_gpt(vocab_size, seed=0, **changes):
    """The course's CPU preset cut down to one block of width 32 and 16 positions, seeded."""
    keras.utils.set_random_seed(seed)
    config = GPTConfig.preset("shakespeare-char-cpu", vocab_size=vocab_size, context_length=16,
                              d_model=32, n_layers=1, n_heads=2, **changes)  # fmt: skip
    return GPT(config)


def expected_trainable(train_layers, gpt):
    """The path prefixes of the weights ``train_layers`` trains, for a new head on ``gpt``'s
    last token (``classification.set_trainable_layers``; ``gpt``'s name starts them)."""
    body = {
        "head": [],
        "last_block": [f"block_{gpt.config.n_layers - 1}/", "final_norm/"],
        "all": ["token_embedding/", "position_embedding/", "final_norm/"]
        + [f"block_{i}/" for i in range(gpt.config.n_layers)],
    }[train_layers]
    return ("head/", *(f"{gpt.name}/{prefix}" for prefix in body))


def save_base_run(directory):
    """``directory`` as ``llm-keras train`` leaves it: an untrained GPT and a character tokenizer
    of the lowercase letters, space and newline (no digits, no chat tokens)."""
    tokenizer = CharTokenizer(string.ascii_lowercase + " \n")
    keras.utils.set_random_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=24, n_layers=1,
                       n_heads=2, d_model=32)  # fmt: skip
    save_for_inference(directory, GPT(config), tokenizer)
    return directory


def save_chat_run(directory, base, characters):
    """``directory`` as ``llm-keras sft`` leaves a run made from the base run ``base``: the chat
    tokens and the task's ``characters`` added, the vocabulary grown; no training (the commands
    that start from it are checked, not the learning)."""
    from llm_keras.finetuning.chat_template import add_chat_tokens, grow_vocabulary

    model, tokenizer = load_for_inference(base)
    tokenizer = add_chat_tokens(tokenizer, characters)
    save_for_inference(directory, grow_vocabulary(model, tokenizer.vocab_size), tokenizer)
    return directory
