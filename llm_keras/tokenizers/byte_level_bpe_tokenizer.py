"""GPT-2's byte-level BPE tokenizer: train, encode, decode, save, load (week 1).

Byte-level BPE works on the UTF-8 *bytes* of the text, so every string can be encoded (there is
no unknown token) with a vocabulary that starts at only 256 symbols:

1. Pre-tokenise: cut the text into words with GPT-2's regex (``pretokenization.py``), after
   cutting out the special tokens, which are never merged.
2. Train: start from the 256 single bytes and repeatedly merge the most frequent adjacent pair
   into a new token (``bpe_merges.py``); ties go to the lexicographically greatest pair of byte
   strings. Ids: 0-255 are the bytes, then one id per merge, then the special tokens.
3. Encode a word: start from its bytes and apply the learned merges, lowest rank (earliest
   learned) first, until no learned pair is left.
4. Decode: concatenate the tokens' bytes and decode them as UTF-8 (invalid sequences, which a
   cut-off id sequence can produce, become U+FFFD instead of raising).

Encoding gives the same ids as tiktoken and Hugging Face ``tokenizers`` with the same vocabulary
(the tests check this on all of TinyShakespeare), including GPT-2's own files
(``from_gpt2_files``).

The saved ``config`` (see ``base.py``) holds: ``vocab`` ({token in GPT-2's printable form: id},
special tokens excluded), ``merges`` (["first second", ...] in the same form, in merge order),
``special_tokens`` ({text: id}) and ``pattern`` (the pre-tokenisation regex).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import AbstractSet, Collection, Iterable, Iterator, Literal

import regex
from tqdm.auto import tqdm

from llm_keras.tokenizers.base import PROGRESS_MIN_CHARS, Tokenizer, check_text, iter_corpus
from llm_keras.tokenizers.bpe_merges import learn_merges, merge_pair
from llm_keras.tokenizers.gpt2_files import (
    read_gpt2_files,
    text_to_token,
    token_to_text,
    write_gpt2_files,
)
from llm_keras.tokenizers.pretokenization import (
    GPT2_SPLIT_PATTERN,
    count_pretokens,
    safe_pieces,
    special_tokens_pattern,
)

# Encoded words are remembered (a word like " the" is encoded once, then looked up); the memory
# this takes is bounded by forgetting everything when the cache reaches this many words.
_CACHE_LIMIT = 100_000

SpecialSet = AbstractSet[str] | Collection[str] | Literal["all"]


class ByteLevelBPETokenizer(Tokenizer):
    """GPT-2-style byte-level BPE.

    Usually made by ``ByteLevelBPETokenizer.train(corpus, vocab_size)``,
    ``ByteLevelBPETokenizer.from_gpt2_files(vocab_json, merges_txt)`` or ``Tokenizer.load(folder)``.

    Args:
        merges: the merges in the order they were learned, as pairs of byte strings.
        special_tokens: the special tokens, as ``{text: id}``, or a list of texts (then they get
            the ids after the merges, in order).
        vocab: ``{id: bytes}`` for the non-special tokens. Default: the 256 bytes as ids 0-255
            followed by one id per merge, which is how ``train`` numbers them. GPT-2's own files
            number the bytes differently, which is why this can be given.
        pattern: the pre-tokenisation regex (GPT-2's by default).

    Attributes:
        merges: ``list[tuple[bytes, bytes]]`` in merge order.
        vocab: ``dict[int, bytes]`` for every id, special tokens included (as their UTF-8 bytes).
        special_tokens: ``dict[str, int]``.

    Example:
        >>> tok = ByteLevelBPETokenizer.train("low lower lowest " * 50, vocab_size=260)
        >>> tok.decode(tok.encode("lowest"))
        'lowest'
    """

    def __init__(
        self,
        merges: Iterable[tuple[bytes, bytes]],
        special_tokens: dict[str, int] | Iterable[str] = (),
        vocab: dict[int, bytes] | None = None,
        pattern: str = GPT2_SPLIT_PATTERN,
    ):
        self.merges = [(bytes(a), bytes(b)) for a, b in merges]
        self.pattern = pattern
        self._splitter = regex.compile(pattern)

        if vocab is None:
            vocab = {i: bytes([i]) for i in range(256)}
            for a, b in self.merges:
                vocab[len(vocab)] = a + b
        token_to_id = {}
        for i, token in vocab.items():
            if token in token_to_id:
                raise ValueError(
                    f"The vocabulary gives the token {token!r} two ids, {token_to_id[token]} "
                    f"and {i}; each token must have one id."
                )
            token_to_id[token] = i

        if not isinstance(special_tokens, dict):
            special_tokens = _numbered_specials(special_tokens, first_id=len(vocab))
        for text, i in special_tokens.items():
            if i in vocab:
                raise ValueError(
                    f"Special token {text!r} has id {i}, which the vocabulary already gives to "
                    f"{vocab[i]!r}."
                )
        self.special_tokens = dict(special_tokens)

        self.vocab = dict(vocab)
        self.vocab.update({i: text.encode("utf-8") for text, i in self.special_tokens.items()})
        size = len(self.vocab)
        if sorted(self.vocab) != list(range(size)):
            missing = sorted(set(range(size)) - set(self.vocab))[:5]
            raise ValueError(
                f"Token ids must run from 0 to {size - 1} without gaps; missing ids {missing}."
            )

        # Tables for encoding in id space: byte -> id, (id, id) -> merge rank, rank -> new id.
        missing_bytes = [b for b in range(256) if bytes([b]) not in token_to_id]
        if missing_bytes:
            raise ValueError(
                f"A byte-level vocabulary needs all 256 single bytes; missing {missing_bytes[:5]}."
            )
        self._token_to_id = token_to_id
        self._byte_ids = [token_to_id[bytes([b])] for b in range(256)]
        self._merge_ranks: dict[tuple[int, int], int] = {}
        self._merged_ids: list[int] = []
        for rank, (a, b) in enumerate(self.merges):
            try:
                pair = (token_to_id[a], token_to_id[b])
                merged = token_to_id[a + b]
            except KeyError as error:
                raise ValueError(
                    f"Merge {rank} ({a!r}, {b!r}) uses or makes a token that is not in the "
                    f"vocabulary: {error.args[0]!r}."
                ) from None
            self._merge_ranks[pair] = rank
            self._merged_ids.append(merged)
        self._id_to_bytes = [self.vocab[i] for i in range(size)]
        self._cache: dict[str, tuple[int, ...]] = {}

    # --- training ----------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        corpus: str | Iterable[str] | os.PathLike,
        vocab_size: int,
        special_tokens: Iterable[str] = (),
        *,
        pattern: str = GPT2_SPLIT_PATTERN,
        progress: bool | None = None,
    ) -> "ByteLevelBPETokenizer":
        """Learn a byte-level BPE vocabulary of ``vocab_size`` ids from ``corpus``.

        Args:
            corpus: one text, an iterable of texts (documents; pre-tokens never span two), or
                the path of a UTF-8 file (a ``pathlib.Path``), which is read in pieces so that a
                corpus larger than memory can be used.
            vocab_size: 256 bytes + number of merges + number of special tokens.
            special_tokens: texts such as "<|endoftext|>" that get their own ids, are cut out of
                the corpus before counting and are never merged.
            pattern: the pre-tokenisation regex.
            progress: show progress bars; by default only for corpora over a million characters.

        Returns:
            The trained tokenizer. If the corpus runs out of pairs before ``vocab_size`` is
            reached, a warning says so and the vocabulary is smaller.
        """
        special_tokens = _check_special_tokens(special_tokens)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise ValueError(f"vocab_size must be an int, got {vocab_size!r}.")
        smallest = 256 + len(special_tokens)
        if vocab_size < smallest:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: byte-level BPE needs 256 ids for the "
                f"bytes plus {len(special_tokens)} for the special tokens, so at least {smallest}."
            )

        texts, size = _corpus_texts(corpus, special_tokens)
        show = progress if progress is not None else (size or 0) > PROGRESS_MIN_CHARS
        bar = tqdm(total=size, unit="char", unit_scale=True, desc="Counting words", disable=not show)
        seen = 0

        def counted(texts):
            nonlocal seen
            for text in texts:
                yield text
                seen += len(text)
                bar.update(len(text))

        counts = count_pretokens(counted(texts), special_tokens, pattern)
        bar.close()
        if not counts:
            raise ValueError(
                "The corpus is empty (no text outside the special tokens): give text to train on."
            )
        if progress is None:
            progress = seen > PROGRESS_MIN_CHARS

        words = [tuple(word.encode("utf-8")) for word in counts]
        num_merges = vocab_size - smallest
        merge_ids = learn_merges(
            words,
            list(counts.values()),
            symbol_codes=[(b,) for b in range(256)],
            num_merges=num_merges,
            progress=progress,
        )
        tokens = [bytes([b]) for b in range(256)]
        merges = []
        for a, b in merge_ids:
            merges.append((tokens[a], tokens[b]))
            tokens.append(tokens[a] + tokens[b])
        if len(merges) < num_merges:
            warnings.warn(
                f"The corpus has no pair left to merge after {len(merges)} merges: the "
                f"vocabulary has {smallest + len(merges)} ids instead of vocab_size={vocab_size}.",
                stacklevel=2,
            )
        return cls(merges, special_tokens, pattern=pattern)

    # --- GPT-2's files -----------------------------------------------------------------------
    @classmethod
    def from_gpt2_files(
        cls, vocab_json: str | os.PathLike, merges_txt: str | os.PathLike
    ) -> "ByteLevelBPETokenizer":
        """Load GPT-2's ``vocab.json`` (``encoder.json``) and ``merges.txt`` (``vocab.bpe``).

        Entries of ``vocab.json`` that are neither a byte nor made by a merge (GPT-2 has one,
        ``<|endoftext|>``, id 50256) become special tokens.
        """
        vocab_text, merges_text = read_gpt2_files(vocab_json, merges_txt)
        merges = [(text_to_token(a), text_to_token(b)) for a, b in merges_text]
        buildable = {bytes([b]) for b in range(256)} | {a + b for a, b in merges}
        vocab, specials = {}, {}
        for text, i in vocab_text.items():
            try:
                token = text_to_token(text)
            except ValueError:
                token = None
            if token in buildable:
                vocab[i] = token
            else:
                specials[text] = i
        return cls(merges, specials, vocab=vocab)

    def save_gpt2_files(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``vocab.json`` and ``merges.txt`` in GPT-2's format (readable by Hugging Face
        and by ``from_gpt2_files``); returns their paths."""
        merges = [(token_to_text(a), token_to_text(b)) for a, b in self.merges]
        return write_gpt2_files(folder, self._printable_vocab(), merges)

    # --- encoding ----------------------------------------------------------------------------
    def encode(
        self,
        text: str,
        allowed_special: SpecialSet = frozenset(),
        disallowed_special: SpecialSet = "all",
    ) -> list[int]:
        """Encode ``text`` to ids, with tiktoken's rules for special tokens.

        Args:
            text: the text.
            allowed_special: special tokens that, when found in the text, are encoded as their
                own id ("all" for every one). Others are not looked for.
            disallowed_special: special tokens whose presence in the text is an error ("all",
                the default, means every special token not allowed). Pass ``()`` to encode them
                as ordinary text instead.

        Returns:
            ``list[int]`` of ids.

        Raises:
            ValueError: if the text holds a disallowed special token (the message says how to
                allow it), or a name in ``allowed_special`` is not a special token.
        """
        check_text(text)
        allowed = self._special_set(allowed_special, "allowed_special")
        if disallowed_special == "all":
            disallowed = set(self.special_tokens) - allowed
        else:
            disallowed = self._special_set(disallowed_special, "disallowed_special")
        if disallowed:
            found = special_tokens_pattern(disallowed).search(text)
            if found:
                raise ValueError(
                    f"The text contains the special token {found.group()!r} at character "
                    f"{found.start()}, which is not allowed here. To encode it as its special id "
                    f"pass allowed_special={{{found.group()!r}}} (or 'all'); to encode it as "
                    "ordinary text pass disallowed_special=()."
                )
        if not allowed:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for match in special_tokens_pattern(allowed).finditer(text):
            ids += self.encode_ordinary(text[start : match.start()])
            ids.append(self.special_tokens[match.group()])
            start = match.end()
        ids += self.encode_ordinary(text[start:])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` treating special tokens as ordinary text (tiktoken's name)."""
        check_text(text)
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        ids: list[int] = []
        for word in self._splitter.findall(text):
            tokens = cache.get(word)
            if tokens is None:
                tokens = cache[word] = self._encode_word(word.encode("utf-8"))
            ids += tokens
        return ids

    def encode_iterable(
        self,
        texts: Iterable[str],
        allowed_special: SpecialSet = frozenset(),
        disallowed_special: SpecialSet = "all",
    ) -> Iterator[int]:
        """Encode a stream of strings (e.g. an open file, line by line), yielding ids one by one.

        The ids equal ``encode("".join(texts))``, but memory stays bounded: the stream is cut
        into pieces only where pre-tokenisation allows (``pretokenization.safe_pieces``).
        """
        for piece in safe_pieces(texts, special_tokens=self.special_tokens):
            yield from self.encode(piece, allowed_special, disallowed_special)

    def _encode_word(self, word: bytes) -> tuple[int, ...]:
        """BPE on one pre-token: apply the earliest-learned merge present until none is left."""
        whole = self._token_to_id.get(word)
        if whole is not None:  # the whole word is a token (tiktoken takes the same short cut)
            return (whole,)
        ids = [self._byte_ids[b] for b in word]
        ranks = self._merge_ranks
        while len(ids) > 1:
            best_rank = None
            for pair in zip(ids, ids[1:]):
                rank = ranks.get(pair)
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank, best = rank, pair
            if best_rank is None:
                break
            ids = merge_pair(ids, *best, self._merged_ids[best_rank])
        return tuple(ids)

    # --- decoding ----------------------------------------------------------------------------
    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text. Byte sequences that are not valid UTF-8 become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Ids -> the exact bytes they stand for."""
        table = self._id_to_bytes
        return b"".join([table[i] for i in self._check_ids(ids)])

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_bytes)

    # --- other libraries ---------------------------------------------------------------------
    def to_tiktoken(self, name: str = "llm_keras"):
        """The same tokenizer as a ``tiktoken.Encoding`` (needs ``pip install tiktoken``).

        tiktoken numbers tokens by merge priority, so this needs a vocabulary whose ids grow
        with merge order (true of every trained tokenizer and of GPT-2's).
        """
        tiktoken = _require("tiktoken")
        previous = 255
        for rank, ((a, b), merged) in enumerate(zip(self.merges, self._merged_ids)):
            parts = (self._token_to_id[a], self._token_to_id[b])
            if merged <= previous or merged <= max(parts):
                raise ValueError(
                    f"Merge {rank} makes id {merged}, out of merge order: tiktoken needs ids that "
                    "grow with the merges."
                )
            previous = merged
        return tiktoken.Encoding(
            name,
            pat_str=self.pattern,
            mergeable_ranks=dict(self._token_to_id),
            special_tokens=self.special_tokens,
        )

    def to_huggingface(self):
        """The same tokenizer as a Hugging Face ``tokenizers.Tokenizer`` (BPE model, byte-level
        pre-tokeniser and decoder; special tokens as added tokens with their ids)."""
        hf = _require("tokenizers")
        merges = [(token_to_text(a), token_to_text(b)) for a, b in self.merges]
        tokenizer = hf.Tokenizer(hf.models.BPE(vocab=self._printable_vocab(), merges=merges))
        if self.pattern == GPT2_SPLIT_PATTERN:
            tokenizer.pre_tokenizer = hf.pre_tokenizers.ByteLevel(
                add_prefix_space=False, use_regex=True
            )
        else:
            tokenizer.pre_tokenizer = hf.pre_tokenizers.Sequence(
                [
                    hf.pre_tokenizers.Split(hf.Regex(self.pattern), behavior="isolated"),
                    hf.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
                ]
            )
        tokenizer.decoder = hf.decoders.ByteLevel()
        tokenizer.add_special_tokens(
            [
                hf.AddedToken(text, special=True, normalized=False)
                for text, _ in sorted(self.special_tokens.items(), key=lambda item: item[1])
            ]
        )
        return tokenizer

    # --- saving --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {
            "vocab": {token_to_text(token): i for token, i in self._token_to_id.items()},
            "merges": [f"{token_to_text(a)} {token_to_text(b)}" for a, b in self.merges],
            "special_tokens": dict(self.special_tokens),
            "pattern": self.pattern,
        }

    @classmethod
    def from_config(cls, config: dict) -> "ByteLevelBPETokenizer":
        vocab = {int(i): text_to_token(text) for text, i in config["vocab"].items()}
        merges = []
        for line in config["merges"]:
            a, b = line.split(" ")
            merges.append((text_to_token(a), text_to_token(b)))
        return cls(merges, config["special_tokens"], vocab=vocab, pattern=config["pattern"])

    # --- helpers -------------------------------------------------------------------------------
    def _printable_vocab(self) -> dict[str, int]:
        """{token as GPT-2's files write it: id}, special tokens included as their text."""
        vocab = {token_to_text(token): i for token, i in self._token_to_id.items()}
        vocab.update(self.special_tokens)
        return vocab

    def _special_set(self, tokens: SpecialSet, argument: str) -> set[str]:
        if tokens == "all":
            return set(self.special_tokens)
        if isinstance(tokens, str):
            raise ValueError(
                f"{argument} takes a set of special tokens or 'all', got the string {tokens!r}; "
                f"write {{{tokens!r}}} for a set of one."
            )
        tokens = set(tokens)
        unknown = tokens - set(self.special_tokens)
        if unknown:
            raise ValueError(
                f"{argument} names {sorted(unknown)}, which are not special tokens of this "
                f"tokenizer; its special tokens are {sorted(self.special_tokens)}."
            )
        return tokens


def _check_special_tokens(special_tokens: Iterable[str]) -> list[str]:
    if isinstance(special_tokens, str):
        raise ValueError(
            f"special_tokens takes a list of strings, got the string {special_tokens!r}; "
            f"write [{special_tokens!r}] for a list of one."
        )
    tokens = list(special_tokens)
    for token in tokens:
        if not isinstance(token, str) or not token:
            raise ValueError(f"Each special token must be a non-empty str, got {token!r}.")
    duplicates = sorted({t for t in tokens if tokens.count(t) > 1})
    if duplicates:
        raise ValueError(f"special_tokens lists {duplicates} more than once.")
    return tokens


def _numbered_specials(tokens: Iterable[str], first_id: int) -> dict[str, int]:
    return {text: first_id + k for k, text in enumerate(_check_special_tokens(tokens))}


def _corpus_texts(corpus, special_tokens: list[str]) -> tuple[Iterable[str], int | None]:
    """The corpus as an iterable of texts, and its size in characters when known.

    A long text is cut into pieces and a file is read in pieces (``safe_pieces``), which gives
    the progress bar something to count and keeps memory bounded for files.
    """
    if isinstance(corpus, os.PathLike):
        path = Path(corpus)
        if not path.is_file():
            raise ValueError(f"Corpus file not found: {str(path)!r}.")
        return _read_pieces(path, special_tokens), path.stat().st_size
    if isinstance(corpus, str):
        return safe_pieces([corpus], min_chars=1 << 20, special_tokens=special_tokens), len(corpus)
    return iter_corpus(corpus), None


def _read_pieces(path: Path, special_tokens: list[str]) -> Iterator[str]:
    with open(path, encoding="utf-8", newline="") as file:
        yield from safe_pieces(file, special_tokens=special_tokens)


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(
            f"This needs the {module!r} package: pip install {module}"
        ) from None
