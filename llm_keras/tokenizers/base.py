"""The interface every tokenizer of the course shares (week 1, "Text as data").

A tokenizer turns text into a list of integer ids and back:

    ids = tokenizer.encode("To be, or not to be")   # list[int], each in [0, vocab_size)
    text = tokenizer.decode(ids)                    # str

and saves itself to a folder that ``Tokenizer.load`` reads back, whatever its class.

The saved format is one UTF-8 JSON file, ``llm_keras_tokenizer.json``:

    {"format": "llm_keras.tokenizer", "version": 1,
     "class": "CharTokenizer",           # which tokenizer wrote it
     "config": {...}}                    # that class's get_config(): everything needed to rebuild it

Each class documents its own ``config`` fields.
"""

from __future__ import annotations

import json
import operator
import os
from pathlib import Path
from typing import Iterable, Iterator

from llm_keras.files import atomic_output

FILE_NAME = "llm_keras_tokenizer.json"
# Training shows progress bars by default when the corpus is longer than this (in characters).
PROGRESS_MIN_CHARS = 1_000_000
FORMAT = "llm_keras.tokenizer"
VERSION = 1
# GPT-2's special token between documents: generation stops at it, exports name it.
END_OF_TEXT = "<|endoftext|>"

_CLASSES: dict[str, type["Tokenizer"]] = {}


class Tokenizer:
    """Base class: ``encode``, ``decode``, ``vocab_size``, ``save`` and ``load``.

    Subclasses implement ``encode``, ``decode``, ``vocab_size``, ``get_config`` and
    (when ``cls(**config)`` is not enough) ``from_config``.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _CLASSES[cls.__name__] = cls

    # --- the interface -------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def encode_iterable(self, texts: Iterable[str]) -> Iterator[int]:
        """Encode a stream of strings (e.g. the lines of an open file), yielding ids one by one.

        Each string is encoded on its own, which equals encoding their concatenation when no
        token can span two of them: true of characters, and of words when each string ends in
        whitespace (a file's lines). ``ByteLevelBPETokenizer`` cuts the stream itself.
        """
        for text in texts:
            yield from self.encode(text)

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "Tokenizer":
        return cls(**config)

    # --- saving and loading ----------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``directory/llm_keras_tokenizer.json`` (the folder is created) and return its path.

        The file is written atomically, so an interrupted save never leaves a half-written
        tokenizer behind.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FILE_NAME
        document = {
            "format": FORMAT,
            "version": VERSION,
            "class": type(self).__name__,
            "config": self.get_config(),
        }
        with atomic_output(path, "w", encoding="utf-8") as file:
            # ASCII escapes: a vocabulary may hold characters (lone surrogates) that UTF-8 cannot write.
            json.dump(document, file, ensure_ascii=True, indent=1)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Read a tokenizer saved by ``save`` from its folder (or the JSON file itself).

        ``Tokenizer.load(path)`` returns whichever class saved it; ``CharTokenizer.load(path)``
        also checks that the file holds a ``CharTokenizer``.
        """
        path = Path(path)
        if path.is_dir():
            path = path / FILE_NAME
        if not path.is_file():
            raise ValueError(
                f"No saved tokenizer at {str(path)!r}: expected the folder written by "
                f"tokenizer.save(folder), which holds {FILE_NAME}."
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"{str(path)!r} is not a saved tokenizer (not valid UTF-8 JSON: {error}). "
                "Save the tokenizer again with tokenizer.save(folder)."
            ) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(
                f"{str(path)!r} is not an llm_keras tokenizer file (its 'format' field is "
                f"{document.get('format') if isinstance(document, dict) else None!r}, "
                f"expected {FORMAT!r})."
            )
        if document.get("version") != VERSION:
            raise ValueError(
                f"{str(path)!r} has format version {document.get('version')!r}; this version of "
                f"llm_keras reads version {VERSION}. Upgrade llm_keras or save the tokenizer again."
            )
        name = document.get("class")
        klass = _CLASSES.get(name)
        if klass is None:
            raise ValueError(
                f"{str(path)!r} holds a tokenizer of unknown class {name!r}; "
                f"known classes: {sorted(_CLASSES)}."
            )
        if not issubclass(klass, cls):
            raise ValueError(
                f"{str(path)!r} holds a {name}, not a {cls.__name__}: "
                f"load it with {name}.load(...) or Tokenizer.load(...)."
            )
        return klass.from_config(document["config"])

    # --- helpers shared by the subclasses ---------------------------------------------------
    def _check_ids(self, ids: Iterable[int]) -> list[int]:
        """Return ``ids`` as a list of Python ints, or raise a ValueError naming the bad id."""
        ids = list(ids)
        try:
            values = [operator.index(i) for i in ids]
        except TypeError:
            position, bad = next((p, i) for p, i in enumerate(ids) if not _is_integer(i))
            raise ValueError(
                f"decode() takes integer token ids; got {bad!r} at position {position}."
            ) from None
        size = self.vocab_size
        if values and (min(values) < 0 or max(values) >= size):
            position, bad = next((p, i) for p, i in enumerate(values) if not 0 <= i < size)
            raise ValueError(
                f"Token id {bad} at position {position} is out of range: this "
                f"{type(self).__name__} has ids 0 to {size - 1} (vocab_size={size})."
            )
        return values

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


# --- helpers shared by the tokenizers of the course ----------------------------------------------


def check_text(text) -> str:
    """Return ``text`` if it is a ``str``; otherwise raise a ValueError saying what is expected."""
    if not isinstance(text, str):
        hint = " (decode it first, e.g. data.decode('utf-8'))" if isinstance(text, bytes) else ""
        raise ValueError(f"Expected text as a str; got {type(text).__name__} {text!r:.60}{hint}.")
    return text


def iter_corpus(corpus: str | Iterable[str]) -> Iterator[str]:
    """Yield the texts of a training corpus: ``corpus`` itself if it is a ``str``, else its items.

    An iterable lets a large corpus be read piece by piece (an open file yields its lines).
    """
    if isinstance(corpus, str):
        yield corpus
        return
    if isinstance(corpus, (bytes, bytearray)):
        raise ValueError(
            "A corpus is text (str), not bytes: decode it first, e.g. data.decode('utf-8')."
        )
    try:
        texts = iter(corpus)
    except TypeError:
        raise ValueError(
            f"A corpus is a str or an iterable of str; got {type(corpus).__name__} {corpus!r:.60}."
        ) from None
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(
                f"Item {position} of the corpus is {type(text).__name__} {text!r:.60}, not str: a "
                "corpus is a str or an iterable of str."
            )
        yield text


def unseen_character_error(text: str, position: int, tokenizer: Tokenizer) -> ValueError:
    """The error for ``text[position]``, a character that ``tokenizer`` has no token for."""
    char = text[position]
    name = type(tokenizer).__name__
    return ValueError(
        f"Character {char!r} (U+{ord(char):04X}) at position {position} is not in this {name}'s "
        f"vocabulary. Build the vocabulary from text that contains it ({name}.train(text)), or "
        f"give the tokenizer an unknown token that unseen characters map to "
        f"({name}.train(text, unk_token='<unk>'))."
    )


def _is_integer(value) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def end_of_text_id(tokenizer) -> int | None:
    """The id of ``<|endoftext|>`` in ``tokenizer``, or ``None`` when it has none."""
    return getattr(tokenizer, "special_tokens", {}).get(END_OF_TEXT)
