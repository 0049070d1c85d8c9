"""GPT-2's tokenizer files, ``vocab.json`` and ``merges.txt`` (week 1, "GPT-2's byte-level BPE").

A byte-level BPE token is a byte string, and many bytes are not printable. GPT-2's files store
each token as a *printable* string instead: every byte is mapped to one Unicode character by a
fixed table (``bytes_to_unicode``), printable ASCII to itself and the rest to characters from
U+0100 on. The space byte becomes "Ġ" and the newline "Ċ", which is why GPT-2's vocabulary is
full of "Ġthe" and "ĠĠ".

- ``vocab.json`` maps each token, written this way, to its id.
- ``merges.txt`` lists the merges in the order they were learned, one "first second" pair per
  line, after an optional ``#version`` header line.

The same representation is used by Hugging Face ``tokenizers`` and by our own saved files.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte (0-255) to the printable character that stands for it."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return table


@lru_cache(maxsize=None)
def unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def token_to_text(token: bytes) -> str:
    """b" the" -> "Ġthe"."""
    table = bytes_to_unicode()
    return "".join(table[b] for b in token)


def text_to_token(text: str) -> bytes:
    """"Ġthe" -> b" the"; a character outside GPT-2's table raises a ValueError."""
    table = unicode_to_bytes()
    try:
        return bytes(table[c] for c in text)
    except KeyError as error:
        raise ValueError(
            f"{text!r} is not a token in GPT-2's byte-to-unicode form: the character "
            f"{error.args[0]!r} stands for no byte."
        ) from None


def read_gpt2_files(
    vocab_json: str | os.PathLike, merges_txt: str | os.PathLike
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Read ``vocab.json`` and ``merges.txt`` as they are written (no byte decoding yet).

    Returns the vocabulary ({token text: id}) and the merges ([(first text, second text)]).
    """
    vocab_json, merges_txt = Path(vocab_json), Path(merges_txt)
    for path in (vocab_json, merges_txt):
        if not path.is_file():
            raise ValueError(
                f"GPT-2 tokenizer file not found: {str(path)!r}. Pass the paths of GPT-2's "
                "vocab.json (encoder.json) and merges.txt (vocab.bpe)."
            )
    try:
        vocab = json.loads(vocab_json.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{str(vocab_json)!r} is not a JSON vocabulary: {error}") from None
    if not isinstance(vocab, dict) or not all(isinstance(i, int) for i in vocab.values()):
        raise ValueError(f"{str(vocab_json)!r} must map token strings to integer ids.")
    merges = []
    lines = merges_txt.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if (number == 1 and line.startswith("#version")) or not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(
                f"{str(merges_txt)}:{number}: expected a merge as two tokens separated by one "
                f"space, got {line!r}."
            )
        merges.append((parts[0], parts[1]))
    return vocab, merges


def write_gpt2_files(
    folder: str | os.PathLike, vocab: dict[str, int], merges: list[tuple[str, str]]
) -> tuple[Path, Path]:
    """Write ``vocab.json`` and ``merges.txt`` into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_path.write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    return vocab_path, merges_path
