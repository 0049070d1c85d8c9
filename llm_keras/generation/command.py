"""``llm-keras generate``: text from a trained run directory (week 4, "Generating text: from scores to a token").

    llm-keras generate --checkpoint DIR --prompt "ROMEO:" --max-new-tokens 200 \\
        --temperature 0.8 --top-k 40 [--top-p 0.95] [--seed 1337] [--end-token TEXT] [--no-stream]

``DIR`` is what ``llm-keras train --out DIR`` leaves (``DIR/model.keras`` and ``DIR/tokenizer/``,
see ``llm_keras.training.run_directory``). The prompt is printed, then the generated text, piece by
piece as it is produced (``--no-stream``: all at once at the end). The defaults are nanoGPT's
``sample.py``'s: a newline as the prompt, temperature 0.8, seed 1337 (the same seed gives the same
text on a backend; change it for another sample). A line on stderr gives the speed.

Mistakes (a folder without ``model.keras``, a prompt with characters the tokenizer does not know,
an empty prompt, ``--max-new-tokens 0``, ``--top-p 2``...) raise ``ValueError``s in plain words,
which ``llm-keras`` prints as one line (exit status 2).
"""

import sys
import time


def add_generate_command(commands):
    """Add ``generate`` to the ``llm-keras`` sub-commands (an ``argparse`` subparsers object)."""
    generate = commands.add_parser(
        "generate",
        help="generate text with a trained model",
        description="Generate text with the model of a training run directory.",
    )
    generate.add_argument(
        "--checkpoint", required=True, metavar="DIR",
        help="the run directory of `llm-keras train --out DIR` (holds model.keras and tokenizer/)",
    )  # fmt: skip
    generate.add_argument(
        "--prompt", default="\n", help="the text to continue (default: a newline)"
    )
    generate.add_argument(
        "--max-new-tokens", type=int, default=200, help="tokens to generate (default 200)"
    )
    generate.add_argument(
        "--temperature", type=float, default=0.8,
        help="0 picks the likeliest token (greedy); lower is safer, higher is wilder (default 0.8)",
    )  # fmt: skip
    generate.add_argument("--top-k", type=int, help="sample among the k likeliest tokens only")
    generate.add_argument(
        "--top-p", type=float, help="sample among the likeliest tokens of total probability p"
    )
    generate.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    generate.add_argument(
        "--end-token", metavar="TEXT",
        help="stop when this token is produced (a special token such as '<|endoftext|>', or any "
             "text that the tokenizer encodes as one token); default: the tokenizer's "
             "'<|endoftext|>' if it has one",
    )  # fmt: skip
    generate.add_argument(
        "--no-stream", dest="stream", action="store_false",
        help="print the text once it is all generated, instead of as it comes",
    )  # fmt: skip
    generate.set_defaults(handler=run_generate)


def run_generate(args):
    """The handler of ``llm-keras generate``: load the run, print the prompt and the text."""
    out = sys.stdout
    from llm_keras.generation.decode import generate, stream_ids
    from llm_keras.generation.samplers import check_sampling_options
    from llm_keras.generation.streaming import IncrementalDecoder, encode_prompt
    from llm_keras.training.run_directory import load_for_inference

    if args.max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens {args.max_new_tokens}: give a number of tokens >= 1.")
    check_sampling_options(args.temperature, args.top_k, args.top_p)
    model, tokenizer = load_for_inference(args.checkpoint)
    prompt_ids = encode_prompt(tokenizer, args.prompt)
    options = dict(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        end_token_id=end_token_id(tokenizer, args.end_token),
    )
    out.write(args.prompt)
    out.flush()
    start = time.perf_counter()
    count = 0
    if args.stream:
        decoder = IncrementalDecoder(tokenizer)
        for token_id in stream_ids(model, prompt_ids, args.max_new_tokens, **options):
            out.write(decoder.add(token_id))
            out.flush()
            count += 1
        out.write(decoder.finish())
    else:
        token_ids = generate(model, prompt_ids, args.max_new_tokens, **options)
        out.write(tokenizer.decode(token_ids))
        count = len(token_ids)
    out.write("\n")
    seconds = time.perf_counter() - start
    print(
        f"[{count} tokens in {seconds:.2f} s, {count / seconds:.1f} tokens/s, compilation "
        "included]",
        file=sys.stderr,
    )


def end_token_id(tokenizer, text):
    """The id of the end token ``text`` (``None``: ``'<|endoftext|>'`` if the tokenizer has it)."""
    from llm_keras.tokenizers.base import end_of_text_id

    if text is None:
        return end_of_text_id(tokenizer)
    special = getattr(tokenizer, "special_tokens", {})
    if text in special:
        return special[text]
    ids = tokenizer.encode(text)
    if len(ids) != 1:
        raise ValueError(
            f"--end-token {text!r} is {len(ids)} tokens for this tokenizer; it must be one "
            "token (a special token, or a single character for a character model)."
        )
    return ids[0]
