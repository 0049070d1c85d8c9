"""The command-line tools: ``llm-keras`` (the library) and ``llm-course`` (the course tooling).

    llm-keras tokenize train --corpus FILE --vocab-size N [--special TOKEN ...] --out DIR
    llm-keras tokenize encode --tokenizer DIR (--text TEXT | --file FILE) [--out IDS.npy]
    llm-keras tokenize decode --tokenizer DIR (--ids ID ... | --file IDS)

Errors a user can cause (a missing file, a bad value) are printed as one plain sentence and the
command exits with status 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-keras", description="Build a large language model from scratch in Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_tokenize(commands)
    return _run(parser, argv)


def course_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-course", description="Course tooling: check a set-up, release, grade, build the PDF."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="check the set-up: Python, Keras, the three backends, the data")
    check.set_defaults(handler=_check)
    return _run(parser, argv)


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, FileNotFoundError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


# --- llm-keras tokenize ---------------------------------------------------------------------


def _add_tokenize(commands) -> None:
    tokenize = commands.add_parser("tokenize", help="train a tokenizer, encode or decode text")
    actions = tokenize.add_subparsers(dest="action", required=True, metavar="ACTION")

    train = actions.add_parser("train", help="train a tokenizer on a text file and save it")
    train.add_argument("--corpus", type=Path, required=True, help="UTF-8 text file to train on")
    train.add_argument("--vocab-size", type=int, required=True,
                       help="number of ids: 256 bytes + merges + special tokens")
    train.add_argument("--special", action="append", default=[], metavar="TOKEN",
                       help="a special token such as '<|endoftext|>' (repeat for more)")
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


def _tokenize_train(args) -> None:
    from llm_keras.tokenizers import ByteLevelBPETokenizer

    tokenizer = ByteLevelBPETokenizer.train(args.corpus, args.vocab_size, args.special)
    path = tokenizer.save(args.out)
    print(f"Trained a byte-level BPE tokenizer with {tokenizer.vocab_size} ids "
          f"({len(tokenizer.merges)} merges); saved to {path}")


def _tokenize_encode(args) -> None:
    import numpy as np

    tokenizer = _load_tokenizer(args.tokenizer)
    allowed = "all" if args.allow_special else frozenset()
    if args.file is not None:
        _require_file(args.file)
        with open(args.file, encoding="utf-8", newline="") as file:
            ids = list(tokenizer.encode_iterable(file, allowed_special=allowed))
    else:
        ids = tokenizer.encode(args.text, allowed_special=allowed)
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
