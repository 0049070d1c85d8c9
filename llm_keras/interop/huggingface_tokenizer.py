"""Our tokenizers as Hugging Face tokenizer files, and back (week 4, "Sharing a model on Hugging Face").

A Hugging Face model folder carries its tokenizer beside the weights. We write:

- a ``ByteLevelBPETokenizer`` (GPT-2's or one you trained) as GPT-2 writes it: ``vocab.json`` and
  ``merges.txt`` (read by every GPT-2 tokenizer), ``tokenizer.json`` (the Rust ``tokenizers``
  library's single file, which also keeps a pre-tokenisation regex other than GPT-2's), and
  ``tokenizer_config.json`` (``tokenizer_class: GPT2Tokenizer``, or the generic
  ``PreTrainedTokenizerFast`` for another regex, since transformers' ``GPT2Tokenizer`` puts GPT-2's
  back; ``<|endoftext|>`` as the beginning, end and unknown token when the vocabulary has it);
- a ``CharTokenizer`` as ``tokenizer.json`` only: a BPE model with no merges is a character
  model (each character of the vocabulary is a token, nothing is merged), with no
  pre-tokeniser and the ``Fuse`` decoder, which joins the tokens without spaces. An unknown token
  (``unk_token``) becomes BPE's ``unk_token``. GPT-2's ``vocab.json``/``merges.txt`` cannot hold
  it: they describe *bytes* in GPT-2's printable form, not characters, so they are not written.
  ``tokenizer_config.json`` names the generic class, ``PreTrainedTokenizerFast``.

``AutoTokenizer.from_pretrained(folder)`` then gives the same ids as our tokenizer (tested).
A ``WordBPETokenizer`` (the end-of-word-marker BPE of week 1) is refused: export the model without
a tokenizer, or train a byte-level one.

Reading a folder back (``load_huggingface_tokenizer``) takes ``tokenizer.json`` when it describes
one of these two kinds, else ``vocab.json`` + ``merges.txt``, else there is no tokenizer (``None``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from llm_keras.tokenizers import GPT2_SPLIT_PATTERN, ByteLevelBPETokenizer, CharTokenizer
from llm_keras.tokenizers.base import END_OF_TEXT, end_of_text_id
from llm_keras.tokenizers.gpt2_files import write_gpt2_files


def save_huggingface_tokenizer(
    tokenizer, folder: str | os.PathLike, *, model_max_length: int
) -> list[Path]:
    """Write ``tokenizer`` into ``folder`` in Hugging Face's formats; returns the files written."""
    folder = Path(folder)
    if isinstance(tokenizer, ByteLevelBPETokenizer):
        files = list(tokenizer.save_gpt2_files(folder))
        hf = tokenizer.to_huggingface()
        end = END_OF_TEXT if end_of_text_id(tokenizer) is not None else None
        tokenizer_config = {
            # transformers' GPT2Tokenizer rebuilds GPT-2's pre-tokenisation: another regex needs
            # the generic class, which reads everything from tokenizer.json.
            "tokenizer_class": (
                "GPT2Tokenizer"
                if tokenizer.pattern == GPT2_SPLIT_PATTERN
                else "PreTrainedTokenizerFast"
            ),
            "bos_token": end,
            "eos_token": end,
            "unk_token": end,
            "add_prefix_space": False,
        }
    elif isinstance(tokenizer, CharTokenizer):
        hf = _char_model(tokenizer)
        files = []
        tokenizer_config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "unk_token": tokenizer.unk_token,
        }
    else:
        raise ValueError(
            f"A {type(tokenizer).__name__} has no Hugging Face counterpart here: only "
            "ByteLevelBPETokenizer (as GPT-2's files) and CharTokenizer can be exported. Export "
            "the model without its tokenizer (tokenizer=None), or train a byte-level BPE "
            "tokenizer for it."
        )
    tokenizer_config.update(model_max_length=model_max_length, clean_up_tokenization_spaces=False)
    path = folder / "tokenizer.json"
    hf.save(str(path))
    config_path = folder / "tokenizer_config.json"
    config_path.write_text(
        json.dumps(tokenizer_config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return [*files, path, config_path]


def _char_model(tokenizer: CharTokenizer):
    import tokenizers as hf

    vocab = {character: i for i, character in enumerate(tokenizer.chars)}
    if tokenizer.unk_token is not None:
        vocab[tokenizer.unk_token] = len(vocab)
    model = hf.Tokenizer(hf.models.BPE(vocab=vocab, merges=[], unk_token=tokenizer.unk_token))
    model.decoder = hf.decoders.Fuse()
    return model


def load_huggingface_tokenizer(folder: str | os.PathLike):
    """The tokenizer saved in a Hugging Face model folder, as one of ours (or ``None``)."""
    folder = Path(folder)
    path = folder / "tokenizer.json"
    gpt2_files = (folder / "vocab.json", folder / "merges.txt")
    has_gpt2_files = all(p.is_file() for p in gpt2_files)
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{str(path)!r} is not valid JSON ({error}).") from None
        try:
            return _from_tokenizer_json(document)
        except ValueError as error:
            if not has_gpt2_files:
                raise ValueError(f"{str(path)!r}: {error}") from None
    if has_gpt2_files:
        return ByteLevelBPETokenizer.from_gpt2_files(*gpt2_files)
    return None


def _from_tokenizer_json(document: dict):
    model = document.get("model") or {}
    if model.get("type") != "BPE":
        raise ValueError(
            f"its model is {model.get('type')!r}; only BPE tokenizers (byte-level, as GPT-2's, "
            "or character-level) can be read."
        )
    if document.get("normalizer") is not None:
        raise ValueError("it normalises the text first, which our tokenizers do not do.")
    decoder = (document.get("decoder") or {}).get("type")
    if decoder == "Fuse" and not model.get("merges") and document.get("pre_tokenizer") is None:
        return _char_tokenizer(model)
    if decoder == "ByteLevel":
        return _byte_level_tokenizer(document, model)
    raise ValueError(
        f"its decoder is {decoder!r}: expected 'ByteLevel' (byte-level BPE) or 'Fuse' (characters)."
    )


def _char_tokenizer(model: dict) -> CharTokenizer:
    by_id = sorted(model["vocab"].items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError("its character ids do not run from 0 without gaps.")
    unk = model.get("unk_token")
    texts = [text for text, _ in by_id]
    if unk is not None:
        if texts[-1] != unk:
            raise ValueError(f"its unknown token {unk!r} does not have the last id.")
        texts = texts[:-1]
    return CharTokenizer(texts, unk_token=unk)


def _byte_level_tokenizer(document: dict, model: dict) -> ByteLevelBPETokenizer:
    pattern = _pre_tokenization_pattern(document.get("pre_tokenizer") or {})
    vocab = dict(model["vocab"])
    for added in document.get("added_tokens", []):
        vocab.setdefault(added["content"], added["id"])
    return byte_level_from_gpt2_tables(vocab, model["merges"], pattern)


def byte_level_from_gpt2_tables(
    vocab: dict[str, int], merges, pattern: str = GPT2_SPLIT_PATTERN
) -> ByteLevelBPETokenizer:
    """A ``ByteLevelBPETokenizer`` from the contents of GPT-2's ``vocab.json`` and ``merges.txt``.

    ``merges`` holds ``"a b"`` strings (``merges.txt``, keras-hub, older ``tokenizer.json``) or
    ``["a", "b"]`` pairs (``tokenizer.json`` since ``tokenizers`` 0.20).
    """
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    with tempfile.TemporaryDirectory() as tmp:  # one reader of GPT-2's format: from_gpt2_files
        tokenizer = ByteLevelBPETokenizer.from_gpt2_files(*write_gpt2_files(tmp, vocab, merges))
    if pattern == GPT2_SPLIT_PATTERN:
        return tokenizer
    specials = tokenizer.special_tokens
    plain = {i: token for i, token in tokenizer.vocab.items() if i not in specials.values()}
    return ByteLevelBPETokenizer(tokenizer.merges, specials, vocab=plain, pattern=pattern)


def _pre_tokenization_pattern(pre_tokenizer: dict) -> str:
    """GPT-2's regex for ``ByteLevel(use_regex=True)``; the regex of a ``Split`` followed by
    ``ByteLevel(use_regex=False)`` (what ``to_huggingface`` writes for another regex)."""
    kind = pre_tokenizer.get("type")
    if kind == "ByteLevel":
        steps = [pre_tokenizer]
    elif kind == "Sequence":
        steps = pre_tokenizer["pretokenizers"]
    else:
        raise ValueError(f"its pre-tokeniser is {kind!r}, not GPT-2's ByteLevel.")
    byte_level = steps[-1]
    if byte_level.get("type") != "ByteLevel" or byte_level.get("add_prefix_space"):
        raise ValueError(
            "it does not end its pre-tokenisation with ByteLevel(add_prefix_space=False), as "
            "GPT-2 does (our byte-level BPE adds no space before the text)."
        )
    if len(steps) == 1 and byte_level.get("use_regex", True):
        return GPT2_SPLIT_PATTERN
    split = steps[0]
    if (
        len(steps) == 2
        and not byte_level.get("use_regex", True)
        and split.get("type") == "Split"
        and split.get("behavior") == "Isolated"
        and "Regex" in split.get("pattern", {})
    ):
        return split["pattern"]["Regex"]
    raise ValueError(
        "its pre-tokeniser is not GPT-2's (ByteLevel, or a regex Split then ByteLevel)."
    )
