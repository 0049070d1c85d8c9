"""Word-level byte-pair encoding (week 1, "Byte-pair encoding, with an end-of-word marker": BPE as Sennrich et al. made it).

What it teaches: how a subword vocabulary is *learned*. Rico Sennrich, Barry Haddow and Alexandra
Birch (2016), "Neural Machine Translation of Rare Words with Subword Units" (ACL), start from
characters and repeatedly merge the most frequent pair of adjacent symbols into a new symbol.
On the corpus "low low lower newest newest widest", four merges go:

    word (count)       low (2)     lower (1)       newest (2)        widest (1)
    characters         l o w</w>   l o w e r</w>   n e w e s t</w>   w i d e s t</w>
    merge 1: w e       l o w</w>   l o we r</w>    n e we s t</w>    w i d e s t</w>
    merge 2: s t</w>   l o w</w>   l o we r</w>    n e we st</w>     w i d e st</w>
    merge 3: l o       lo w</w>    lo we r</w>     n e we st</w>     w i d e st</w>
    merge 4: we st</w> lo w</w>    lo we r</w>     n e west</w>      w i d e st</w>

(Merge 1: "l o", "w e", "e s" and "s t</w>" all occur 3 times; the greatest pair wins the tie.)

The end-of-word marker ``</w>`` is glued to the last character of each word, so that ``st</w>``
(the end of "newest") and ``st`` (the start of "strong") are different symbols. Encoding a new word
applies the learned merges to it in the order they were learned.

Conventions, those of Sennrich's own ``subword-nmt`` (``learn_bpe.py``, ``apply_bpe.py``), which the
tests compare against:

- words are the pieces of ``text.split()``; whitespace is not part of any token, so
  ``decode(encode(text)) == " ".join(text.split())`` (newlines and runs of spaces become one space).
  (subword-nmt splits lines on the space character only; the two agree on text whose only
  whitespace is spaces and newlines, like TinyShakespeare.)
- training merges the most frequent pair; a tie goes to the greatest pair in Python's ordering
  of ``(str, str)`` tuples (the symbols' text, ``</w>`` included); training stops early when no
  pair occurs ``min_frequency`` times (2 by default). The merges are learned by
  ``bpe_merges.learn_merges``, shared with the byte-level BPE: each distinct word is counted once,
  and after a merge only the words that contain the merged pair, and their pairs' counts, are
  updated instead of recounting the corpus.
- the vocabulary (ids) is: every character seen in training, alone and with ``</w>``, sorted; then
  the unknown token's two symbols, if there is one; then the symbol each merge makes, in merge
  order. (A symbol that two different merges make keeps one id, the first.)
  (subword-nmt has no ids: it writes subwords as text with ``@@`` separators.)

Characters never seen in training: by default ``encode`` raises a ValueError naming the character;
with ``unk_token="<unk>"`` each such character becomes the symbol ``<unk>`` (``<unk></w>`` at the
end of a word) and ``decode`` writes ``<unk>`` in its place. The text ``</w>`` itself is reserved:
a corpus or text that contains it is rejected, because its tokens could not be told apart from
word ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

from llm_keras.tokenizers.base import (
    PROGRESS_MIN_CHARS,
    Tokenizer,
    check_text,
    iter_corpus,
    unseen_character_error,
)
from llm_keras.tokenizers.bpe_merges import learn_merges, merge_pair

END_OF_WORD = "</w>"
# Encoded words are remembered; the memory this takes is bounded by forgetting them all when the
# cache holds this many words.
CACHE_LIMIT = 100_000


def word_to_symbols(word: str) -> list[str]:
    """Split a word into its initial symbols: its characters, ``</w>`` glued to the last one.

    >>> word_to_symbols("low")
    ['l', 'o', 'w</w>']
    """
    return list(word[:-1]) + [word[-1] + END_OF_WORD]


class WordBPETokenizer(Tokenizer):
    """Sennrich et al.'s word-level BPE: characters with an end-of-word marker, plus learned merges.

    Usually built with ``WordBPETokenizer.train``; the constructor rebuilds one from its parts.

    Args:
        alphabet: the characters seen in training (a ``str`` or iterable of characters; their
            order does not matter: the vocabulary sorts them).
        merges: the learned merges in order, each a pair of symbols ``(first, second)``; each
            symbol must be in the alphabet (with or without ``</w>``) or made by an earlier merge.
        unk_token: ``None`` (default) to reject unseen characters with a ValueError, or a
            non-empty string without whitespace or ``</w>`` (e.g. ``"<unk>"``) that stands for
            every unseen character.

    Attributes:
        symbols: ``list[str]``, the text of each id (``symbols[i]`` is id ``i``'s symbol).
        merges: ``list[tuple[str, str]]``, the merges in the order they were learned.

    Saved configuration (``get_config()``, written by ``save``):
        ``alphabet``: the characters as one sorted string;
        ``merges``: ``[[first, second], ...]`` in merge order;
        ``unk_token``: the unknown token's string, or ``null``.

    Example:
        >>> tokenizer = WordBPETokenizer.train("low low lower newest newest widest", num_merges=4)
        >>> tokenizer.merges
        [('w', 'e'), ('s', 't</w>'), ('l', 'o'), ('we', 'st</w>')]
        >>> [tokenizer.symbols[i] for i in tokenizer.encode("lowest")]
        ['lo', 'west</w>']
        >>> tokenizer.decode(tokenizer.encode("low   newest\\n"))
        'low newest'
    """

    def __init__(
        self,
        alphabet: str | Iterable[str],
        merges: Iterable[Sequence[str]] = (),
        unk_token: str | None = None,
    ):
        alphabet = list(alphabet)
        if not alphabet:
            raise ValueError("alphabet is empty: a WordBPETokenizer needs at least one character.")
        bad = [c for c in alphabet if not (isinstance(c, str) and len(c) == 1 and not c.isspace())]
        if bad:
            raise ValueError(
                f"alphabet must hold single non-whitespace characters; got {bad[0]!r}."
            )
        alphabet = sorted(set(alphabet))
        if unk_token is not None and not (
            isinstance(unk_token, str)
            and unk_token
            and not any(c.isspace() for c in unk_token)
            and END_OF_WORD not in unk_token
        ):
            raise ValueError(
                f"unk_token must be None or a non-empty string without whitespace or "
                f"{END_OF_WORD!r}; got {unk_token!r}."
            )
        if unk_token in alphabet:
            raise ValueError(
                f"unk_token={unk_token!r} is a character of the alphabet; choose a string that "
                "is not, such as '<unk>'."
            )
        self._alphabet = frozenset(alphabet)
        self._unk_token = unk_token
        # The symbols before any merge sort as 'a', 'a</w>', 'b', 'b</w>', ...
        self.symbols: list[str] = sorted(alphabet + [c + END_OF_WORD for c in alphabet])
        if unk_token is not None:
            self.symbols += [unk_token, unk_token + END_OF_WORD]
        self._ids = {symbol: i for i, symbol in enumerate(self.symbols)}  # symbol -> id
        self.merges: list[tuple[str, str]] = []
        # For encoding, in ids: (first, second) -> rank (the merge's place in the list; a pair
        # learned twice keeps its first rank, as in subword-nmt), and rank -> (first, second,
        # merged).
        self._ranks: dict[tuple[int, int], int] = {}
        self._merge_steps: list[tuple[int, int, int]] = []
        for rank, merge in enumerate(merges):
            first, second = self._check_merge(rank, merge)
            self.merges.append((first, second))
            if first + second not in self._ids:
                self._ids[first + second] = len(self.symbols)
                self.symbols.append(first + second)
            step = (self._ids[first], self._ids[second], self._ids[first + second])
            self._ranks.setdefault(step[:2], rank)
            self._merge_steps.append(step)
        self._cache: dict[str, list[int]] = {}  # word -> its ids: each distinct word merged once

    def _check_merge(self, rank: int, merge) -> tuple[str, str]:
        if not (
            isinstance(merge, (list, tuple))
            and len(merge) == 2
            and all(isinstance(symbol, str) for symbol in merge)
        ):
            raise ValueError(
                f"Merge {rank} is {merge!r}; a merge is a pair of strings (first, second)."
            )
        for symbol in merge:
            if symbol not in self._ids:
                raise ValueError(
                    f"Merge {rank} {tuple(merge)!r} uses the symbol {symbol!r}, which is neither "
                    "in the alphabet nor made by an earlier merge: merges must be listed in the "
                    "order they were learned."
                )
        return merge[0], merge[1]

    @classmethod
    def train(
        cls,
        corpus: str | Iterable[str],
        vocab_size: int | None = None,
        *,
        num_merges: int | None = None,
        min_frequency: int = 2,
        unk_token: str | None = None,
        progress: bool | None = None,
    ) -> WordBPETokenizer:
        """Learn the alphabet and merges from a corpus.

        Give either ``vocab_size`` or ``num_merges``. Training stops earlier when no pair of
        symbols occurs at least ``min_frequency`` times, so the vocabulary may be smaller than
        asked for.

        Args:
            corpus: one ``str``, or an iterable of ``str`` (e.g. the lines of an open file).
            vocab_size: the number of ids wanted: the alphabet's ``2 * (distinct characters)``
                ids (plus 2 with an ``unk_token``), then one id per merge.
            num_merges: the number of merges wanted, ``>= 0`` (subword-nmt's ``--symbols``).
            min_frequency: ``>= 1``; stop when the most frequent pair occurs fewer times
                (subword-nmt's ``--min-frequency``, also 2 by default).
            unk_token: see the class docstring.
            progress: show a tqdm progress bar of the merges; by default shown for corpora
                over a million characters.

        Returns:
            A ``WordBPETokenizer``.
        """
        if (vocab_size is None) == (num_merges is None):
            raise ValueError(
                f"Give exactly one of vocab_size and num_merges (got vocab_size={vocab_size!r}, "
                f"num_merges={num_merges!r})."
            )
        if num_merges is not None:
            _check_int("num_merges", num_merges, minimum=0)
        else:
            _check_int("vocab_size", vocab_size, minimum=1)  # the least size needs the corpus
        _check_int("min_frequency", min_frequency, minimum=1)
        word_counts, num_chars = Counter(), 0
        for text in iter_corpus(corpus):
            word_counts.update(text.split())
            num_chars += len(text)
        if not word_counts:
            raise ValueError(
                "The corpus has no words (it is empty or only whitespace): train on some text."
            )
        marked = next((word for word in word_counts if END_OF_WORD in word), None)
        if marked is not None:
            raise ValueError(
                f"The corpus contains the word {marked!r}, with the end-of-word marker "
                f"{END_OF_WORD!r} that this tokenizer reserves: remove or replace that text."
            )
        alphabet = set().union(*word_counts)
        # The tokenizer before any merge: it checks unk_token, and its size is the least vocab_size.
        unmerged = cls(alphabet, unk_token=unk_token)
        if num_merges is None:
            _check_int(
                "vocab_size",
                vocab_size,
                minimum=unmerged.vocab_size,
                why=f"the {len(alphabet)} characters of this corpus take "
                f"{2 * len(alphabet)} ids, each alone and with {END_OF_WORD}"
                + (", and the unknown token 2 more" if unk_token is not None else ""),
            )
            num_merges = vocab_size - unmerged.vocab_size

        # learn_merges works on ids; ties go to the greatest pair of symbol texts (code points).
        words = [
            [unmerged._ids[symbol] for symbol in word_to_symbols(word)] for word in word_counts
        ]
        merge_ids = learn_merges(
            words,
            list(word_counts.values()),
            symbol_codes=[tuple(map(ord, symbol)) for symbol in unmerged.symbols],
            num_merges=num_merges,
            min_frequency=min_frequency,
            progress=progress if progress is not None else num_chars > PROGRESS_MIN_CHARS,
        )
        symbols, merges = list(unmerged.symbols), []
        for first, second in merge_ids:
            merges.append((symbols[first], symbols[second]))
            symbols.append(symbols[first] + symbols[second])
        return cls(alphabet, merges, unk_token=unk_token)

    @property
    def unk_token(self) -> str | None:
        return self._unk_token

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Turn ``text`` into ids: each word is split into characters and merged, as in training.

        Args:
            text: a ``str``; its whitespace only separates words.

        Returns:
            ``list[int]``, the ids of each word's symbols in turn (the last symbol of a word ends
            in ``</w>``). A character not seen in training raises a ValueError, or becomes the
            unknown token when the tokenizer has one.
        """
        text = check_text(text)
        if END_OF_WORD in text:
            raise ValueError(
                f"The text contains {END_OF_WORD!r} (at position {text.index(END_OF_WORD)}), the "
                "end-of-word marker that this tokenizer reserves: remove or replace it."
            )
        ids = []
        for word in text.split():
            word_ids = self._cache.get(word)
            if word_ids is None:
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                word_ids = self._cache[word] = self._encode_word(word, text)
            ids.extend(word_ids)
        return ids

    def _encode_word(self, word: str, text: str) -> list[int]:
        """The ids of one word of ``text`` (``text`` is only used to place an error)."""
        symbols = []
        for char in word:
            if char in self._alphabet:
                symbols.append(char)
            elif self._unk_token is not None:
                symbols.append(self._unk_token)
            else:
                # The first unseen character of the text: any earlier word was encoded already.
                raise unseen_character_error(text, text.index(char), self)
        symbols[-1] += END_OF_WORD
        ids = [self._ids[symbol] for symbol in symbols]
        while len(ids) > 1:
            # Apply the adjacent pair that was learned first, until no learned pair is left.
            ranks = [self._ranks[pair] for pair in pairwise(ids) if pair in self._ranks]
            if not ranks:
                break
            ids = merge_pair(ids, *self._merge_steps[min(ranks)])  # (never None: pair present)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text, with one space between words.

        Args:
            ids: integer ids in ``[0, vocab_size)``.

        Returns:
            The symbols joined, each ``</w>`` replaced by a space, without the space after the
            last word: ``decode(encode(text)) == " ".join(text.split())`` for text of
            characters seen in training.
        """
        text = "".join([self.symbols[i] for i in self._check_ids(ids)])
        return text.replace(END_OF_WORD, " ").removesuffix(" ")

    def get_config(self) -> dict:
        return {
            "alphabet": "".join(sorted(self._alphabet)),
            "merges": [list(pair) for pair in self.merges],
            "unk_token": self._unk_token,
        }


def _check_int(name: str, value, minimum: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int; got {type(value).__name__} {value!r}.")
    if value < minimum:
        because = f": {why}" if why else ""
        raise ValueError(f"{name}={value} is too small; it must be at least {minimum}{because}.")
