"""The command-line tools: ``llm-keras`` (the library) and ``llm-course`` (the course tooling).

    llm-keras data path tiny_shakespeare
    llm-keras data clean RAW.txt CLEAN.txt [--unit line|paragraph] [--max-chars N] ...
    llm-keras data curate RAW... --out DIR [--tokenizer char|DIR] [--engine dask] [--resume] ...
    llm-keras tokenize train --corpus FILE --vocab-size N [--special TOKEN ...] --out DIR
    llm-keras tokenize encode --tokenizer DIR (--text TEXT | --file FILE) [--out IDS.npy]
    llm-keras tokenize decode --tokenizer DIR (--ids ID ... | --file IDS)
    llm-keras train --preset shakespeare-char-cpu --data PATH --out DIR [--resume]
    llm-keras generate --checkpoint DIR --prompt TEXT [--max-new-tokens N] [--temperature T] ...
    llm-keras serve --checkpoint DIR [--port 7860]
    llm-keras sft --base RUN --task arithmetic --out DIR [--lora-rank R] [--resume] ...
    llm-keras evaluate --checkpoint DIR --task arithmetic [--n 200] [--samples K --temperature T]
    llm-keras classify --base RUN --data genre [--train-layers last_block] --out DIR
    llm-keras reward --base SFT_RUN --task arithmetic --out DIR [--sampled] [--resume] ...
    llm-keras dpo --base SFT_RUN --task arithmetic --out DIR [--beta 0.1] [--average-log-probs]
    llm-keras grpo --base SFT_RUN --task arithmetic --out DIR [--reward-model RUN] [--beta B]
    llm-keras budget --preset gpt2-small --tokens 10e9 --device h100 [--utilisation 0.4]

Errors a user can cause (a missing file, a bad value) are printed as one plain sentence and the
command exits with status 2; they never show a traceback. Ctrl-C or SIGTERM stops a command
(status 130); a training loop stops between two steps (``llm_keras.interrupts``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from llm_keras.host_memory import keep_freed_host_memory


def main(argv: list[str] | None = None) -> int:
    keep_freed_host_memory()  # before JAX starts its threads, or it has no effect on them
    parser = argparse.ArgumentParser(
        prog="llm-keras", description="Build a large language model from scratch in Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from llm_keras.data.command import add_data_command

    add_data_command(commands)
    _add_tokenize(commands)
    from llm_keras.alignment.command import add_alignment_commands
    from llm_keras.finetuning.command import add_finetuning_commands
    from llm_keras.generation.command import add_generate_command
    from llm_keras.serving.command import add_serve_command
    from llm_keras.training.budget_command import add_budget_command
    from llm_keras.training.command import add_train_command

    add_train_command(commands)
    add_finetuning_commands(commands)
    add_alignment_commands(commands)
    add_budget_command(commands)
    add_generate_command(commands)
    add_serve_command(commands)
    return _run(parser, argv)


def course_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-course", description="Course tooling: check a set-up, release, grade, build the PDF."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="check the set-up: Python, Keras, the three backends, the data")
    check.set_defaults(handler=_check)
    from autograder.cli import add_course_commands
    from weasyprint_build import add_pdf_command

    add_course_commands(commands)
    add_pdf_command(commands)
    return _run(parser, argv)


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    from llm_keras.interrupts import stop_on_interrupt_and_terminate

    stop_on_interrupt_and_terminate()
    try:
        return args.handler(args) or 0
    except UnicodeDecodeError as error:  # a file that should be UTF-8 text
        print(f"{parser.prog}: error: {_in_options(_not_utf8(error, args), parser, argv)}",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:  # bad values, missing files, failed downloads
        print(f"{parser.prog}: error: {_in_options(str(error), parser, argv)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


def _in_options(message: str, parser: argparse.ArgumentParser, argv) -> str:
    """A library error in the words of the command line: ``warmup_steps=300`` becomes
    ``--warmup-steps 300`` and ``eval_interval`` becomes ``--eval-interval``, for the options of
    the command that ran (the library's messages name its Python arguments)."""
    options = {}
    for action in _command_parser(parser, argv)._actions:
        long = [o for o in action.option_strings if o.startswith("--")]
        if long and action.dest not in ("help",):
            options[action.dest] = long[0]
    for dest, option in sorted(options.items(), key=lambda item: -len(item[0])):
        message = re.sub(rf"(?<![\w.-]){dest}=(['\"]?)([^\s,;:()'\"]+)\1", rf"{option} \2", message)
        if "_" in dest:  # a Python identifier, never a plain word of the sentence
            message = re.sub(rf"(?<![\w.-]){dest}(?!\w)", option, message)
    return message


def _command_parser(parser, argv):
    """The sub-parser that handled ``argv`` (``llm-keras tokenize train ...``: train's)."""
    words = list(sys.argv[1:] if argv is None else argv)
    while True:
        choices = next((a.choices for a in parser._actions
                        if isinstance(a, argparse._SubParsersAction)), None)
        if not choices:
            return parser
        word = next((w for w in words if w in choices), None)
        if word is None:
            return parser
        parser, words = choices[word], words[words.index(word) + 1:]


def _not_utf8(error: UnicodeDecodeError, args) -> str:
    files = [f"--{name.replace('_', '-')} {value}" for name, value in vars(args).items()
             if isinstance(value, Path) and value.is_file()]
    where = " or ".join(files) or "the input file"
    return (f"{where} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}): convert it first, e.g. `iconv -f latin1 -t utf-8 FILE > FILE.txt`.")


# --- llm-keras tokenize ---------------------------------------------------------------------


def _add_tokenize(commands) -> None:
    tokenize = commands.add_parser("tokenize", help="train a tokenizer, encode or decode text")
    actions = tokenize.add_subparsers(dest="action", required=True, metavar="ACTION")

    train = actions.add_parser("train", help="train a tokenizer on a text file and save it")
    train.add_argument("--corpus", type=Path, required=True, help="UTF-8 text file to train on")
    train.add_argument("--type", choices=sorted(_TOKENIZER_TYPES), default="byte-bpe",
                       help="byte-bpe (GPT-2's byte-level BPE, the default), word-bpe (Sennrich's "
                            "word-level BPE) or char (one id per character)")
    train.add_argument("--vocab-size", type=int,
                       help="number of ids (byte-bpe: 256 bytes + merges + special tokens); "
                            "required except for char")
    train.add_argument("--special", action="append", default=[], metavar="TOKEN",
                       help="byte-bpe: a special token such as '<|endoftext|>' (repeat for more)")
    train.add_argument("--out", type=Path, required=True, help="folder to save the tokenizer in")
    train.set_defaults(handler=_tokenize_train)

    encode = actions.add_parser("encode", help="text -> ids")
    encode.add_argument("--tokenizer", type=Path, required=True, help="folder of a saved tokenizer")
    source = encode.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to encode")
    source.add_argument("--file", type=Path, help="a UTF-8 file to encode (streamed)")
    encode.add_argument("--allow-special", action="store_true",
                        help="encode special tokens found in the text as their ids")
    encode.add_argument("--out", type=Path, help="write the ids to this .npy file instead of printing them")
    encode.set_defaults(handler=_tokenize_encode)

    decode = actions.add_parser("decode", help="ids -> text")
    decode.add_argument("--tokenizer", type=Path, required=True, help="folder of a saved tokenizer")
    source = decode.add_mutually_exclusive_group(required=True)
    source.add_argument("--ids", type=int, nargs="+", help="the ids to decode")
    source.add_argument("--file", type=Path, help="a .npy file of ids, or a text file of ids")
    decode.set_defaults(handler=_tokenize_decode)


_TOKENIZER_TYPES = {
    "byte-bpe": "ByteLevelBPETokenizer",
    "word-bpe": "WordBPETokenizer",
    "char": "CharTokenizer",
}


def _tokenize_train(args) -> None:
    from llm_keras import tokenizers

    kind = args.type
    if args.special and kind != "byte-bpe":
        raise ValueError(f"--special works with --type byte-bpe only, not {kind}.")
    if args.vocab_size is None and kind != "char":
        raise ValueError(f"--type {kind} needs --vocab-size.")
    try:
        if kind == "byte-bpe":
            tokenizer = tokenizers.ByteLevelBPETokenizer.train(args.corpus, args.vocab_size,
                                                               args.special)  # fmt: skip
        else:
            _require_file(args.corpus)
            with open(args.corpus, encoding="utf-8") as corpus:
                if kind == "char":
                    tokenizer = tokenizers.CharTokenizer.train(corpus)
                else:
                    tokenizer = tokenizers.WordBPETokenizer.train(corpus, args.vocab_size)
    except KeyboardInterrupt:  # a tokenizer is whole only with all its merges: none is saved
        print(f"\nStopped before the tokenizer was trained: nothing was written to {args.out}; "
              "run the command again to train it.")  # fmt: skip
        raise
    path = tokenizer.save(args.out)
    print(f"Trained a {_TOKENIZER_TYPES[kind]} with {tokenizer.vocab_size} ids; saved to {path}")


def _tokenize_encode(args) -> None:
    import numpy as np

    tokenizer = _load_tokenizer(args.tokenizer)
    special = {}
    if args.allow_special:
        if not getattr(tokenizer, "special_tokens", None):
            raise ValueError(f"--allow-special: this {type(tokenizer).__name__} has no special tokens.")
        special = {"allowed_special": "all"}
    if args.file is not None:
        _require_file(args.file)
        with open(args.file, encoding="utf-8", newline="") as file:
            ids = list(tokenizer.encode_iterable(file, **special))
    else:
        ids = tokenizer.encode(args.text, **special)
    if args.out is not None:
        dtype = np.uint16 if tokenizer.vocab_size <= 2**16 else np.uint32
        np.save(args.out, np.asarray(ids, dtype=dtype))
        print(f"Wrote {len(ids)} ids ({np.dtype(dtype).name}) to {args.out}")
    else:
        print(" ".join(map(str, ids)))


def _tokenize_decode(args) -> None:
    import numpy as np

    tokenizer = _load_tokenizer(args.tokenizer)
    if args.file is not None:
        _require_file(args.file)
        if args.file.suffix == ".npy":
            ids = np.load(args.file, allow_pickle=False).tolist()
        else:
            try:
                ids = [int(word) for word in args.file.read_text().split()]
            except ValueError as error:
                raise ValueError(f"{args.file} must hold whitespace-separated integer ids ({error}).") from None
    else:
        ids = args.ids
    sys.stdout.write(tokenizer.decode(ids) + "\n")


def _load_tokenizer(folder: Path):
    from llm_keras.tokenizers import Tokenizer

    return Tokenizer.load(folder)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"File not found: {path}")


# --- llm-course check -----------------------------------------------------------------------


def _check(args) -> int:
    from llm_keras.environment import check_setup

    report, ok = check_setup()
    print(report)
    return 0 if ok else 1
