"""The character tokenizer (week 1, "Characters as tokens": the simplest tokenizer there is).

What it teaches: a vocabulary can be nothing more than the distinct characters of a corpus. As in
nanoGPT's ``data/shakespeare_char/prepare.py``, the vocabulary is ``sorted(set(text))`` and a
character's id is its index in that list, so TinyShakespeare gives 65 ids, the same ids as nanoGPT:

    tokenizer = CharTokenizer.train(tiny_shakespeare)
    tokenizer.vocab_size             # 65
    tokenizer.encode("hii there")    # [46, 47, 47, 1, 58, 46, 43, 56, 43]

One token per character: sequences are long, but nothing is ever out of vocabulary... except a
character that the corpus never contained. What to do with one is a choice, made when the
tokenizer is created:

- ``unk_token=None`` (the default): ``encode`` raises a ValueError that names the character and its
  position, so that nothing is silently lost;
- ``unk_token="<unk>"`` (any non-empty string that is not a character of the vocabulary): one
  more id, ``vocab_size - 1``, stands for every unseen character, and ``decode`` writes the
  ``unk_token`` string in its place. ``decode(encode(text))`` is then ``text`` with each unseen
  character replaced by ``unk_token``.

The helpers ``iter_corpus``, ``check_text`` and ``unseen_character_error`` are shared with the other
tokenizers of the course.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from llm_keras.tokenizers.base import Tokenizer, check_text, iter_corpus, unseen_character_error


class CharTokenizer(Tokenizer):
    """One token per character; ids are indices into the vocabulary string ``chars``.

    Args:
        chars: the vocabulary, one character per id in id order: a ``str`` such as
            ``"\\n !$&',-.3:;?AB..."``, or an iterable of one-character strings.
            ``CharTokenizer.train(text)`` builds it as ``sorted(set(text))``.
        unk_token: ``None`` (default) to reject characters outside ``chars`` with a ValueError,
            or a non-empty string (e.g. ``"<unk>"``) that gets the extra id ``len(chars)``:
            ``encode`` maps every unseen character to it and ``decode`` writes ``unk_token``
            for it.

    Saved configuration (``get_config()``, written by ``save``):
        ``chars``: the vocabulary as one string, character ``i`` having id ``i``;
        ``unk_token``: the unknown token's string, or ``null``.

    Example:
        >>> tokenizer = CharTokenizer("abc", unk_token="?")
        >>> tokenizer.encode("cab!")
        [2, 0, 1, 3]
        >>> tokenizer.decode([2, 0, 1, 3])
        'cab?'
    """

    def __init__(self, chars: str | Iterable[str], unk_token: str | None = None):
        chars = list(chars)
        if not chars:
            raise ValueError("chars is empty: a CharTokenizer needs at least one character.")
        not_a_char = [c for c in chars if not (isinstance(c, str) and len(c) == 1)]
        if not_a_char:
            raise ValueError(
                f"chars must hold single characters; got {not_a_char[0]!r}. Pass a str such as "
                "'abc' or a list of one-character strings."
            )
        if len(set(chars)) != len(chars):
            repeated = next(c for i, c in enumerate(chars) if c in chars[:i])
            raise ValueError(
                f"chars lists {repeated!r} more than once: each character needs one id."
            )
        if unk_token is not None and not (isinstance(unk_token, str) and unk_token):
            raise ValueError(f"unk_token must be None or a non-empty string; got {unk_token!r}.")
        if unk_token in chars:
            raise ValueError(
                f"unk_token={unk_token!r} is a character of the vocabulary, so it would have two "
                "ids; choose a string that is not in chars, such as '<unk>'."
            )
        self._chars = chars
        self._unk_token = unk_token
        # id -> text, for decode: the characters, then the unknown token if there is one.
        self._texts = chars + ([unk_token] if unk_token is not None else [])
        # A lookup table indexed by code point, for encode: _id_of[ord(c)] is c's id, -1 for
        # characters outside the vocabulary. Its last entry, also -1, stands for every code point
        # above the largest one in chars. Shape (max code point + 2,).
        codepoints = [ord(c) for c in chars]
        self._id_of = np.full(max(codepoints) + 2, -1, dtype=np.int32)
        self._id_of[codepoints] = np.arange(len(chars), dtype=np.int32)

    @classmethod
    def train(cls, corpus: str | Iterable[str], unk_token: str | None = None) -> CharTokenizer:
        """Build the vocabulary from a corpus: its distinct characters, sorted by code point.

        Args:
            corpus: one ``str``, or an iterable of ``str`` (e.g. the lines of an open file).
            unk_token: see the class docstring; ``None`` (default) rejects unseen characters.

        Returns:
            A ``CharTokenizer`` whose character ``c`` has id ``sorted(set(corpus)).index(c)``
            (nanoGPT's ids); with ``unk_token``, the unknown token has the last id.
        """
        chars = set()
        for text in iter_corpus(corpus):
            chars.update(text)
        if not chars:
            raise ValueError(
                "The corpus is empty: a CharTokenizer's vocabulary is the corpus's characters, "
                "so train it on some text."
            )
        return cls(sorted(chars), unk_token=unk_token)

    @property
    def chars(self) -> str:
        """The vocabulary as one string: character ``i`` has id ``i``."""
        return "".join(self._chars)

    @property
    def unk_token(self) -> str | None:
        return self._unk_token

    @property
    def vocab_size(self) -> int:
        return len(self._texts)

    def encode(self, text: str) -> list[int]:
        """Turn ``text`` into one id per character.

        Args:
            text: a ``str`` of ``n`` characters.

        Returns:
            ``n`` ids (``list[int]``). A character outside the vocabulary raises a ValueError, or
            becomes the unknown token's id when the tokenizer has one.
        """
        text = check_text(text)
        # The text as an array of code points, shape (n,): UTF-32 has one 4-byte unit per
        # character ("surrogatepass" keeps a lone surrogate, which no vocabulary holds, as a
        # character so that the error below can name it).
        codepoints = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = self._id_of[np.minimum(codepoints, len(self._id_of) - 1)]  # (n,), -1 = unseen
        unseen = ids < 0
        if unseen.any():
            if self._unk_token is None:
                raise unseen_character_error(text, int(np.argmax(unseen)), self)
            ids[unseen] = len(self._chars)  # the unknown token's id
        return ids.tolist()

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text: ``decode(encode(text)) == text`` for text over ``chars``.

        Args:
            ids: integer ids in ``[0, vocab_size)`` (a list, or any iterable of ints).

        Returns:
            One character per id (``unk_token`` for the unknown token's id).
        """
        return "".join([self._texts[i] for i in self._check_ids(ids)])

    def get_config(self) -> dict:
        return {"chars": self.chars, "unk_token": self._unk_token}
