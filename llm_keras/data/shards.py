"""Token shards: a tokenised corpus as fixed-size binary files and a manifest (week 1, "Data: from the web to token shards").

A corpus too large for memory is tokenised once and kept as *shards*: binary files of token ids
that training memory-maps and reads a window at a time. The layout is llm.c's
(karpathy/llm.c ``dev/data/data_common.py``, ``write_datafile``): a header of 256 little-endian
int32, of which the first three are a magic number, a version and the number of ids; then the
ids, little-endian. llm.c's two kinds: magic 20240520, version 1 ("gpt-2"): uint16 ids, for a
vocabulary of at most 65,536; magic 20240801, version 7 ("llama-3"): uint32 ids, for a larger
one. (nanoGPT's ``prepare.py`` writes bare uint16 ids, build-nanogpt's ``fineweb.py`` ``.npy``
shards of 100M ids; the header is what lets a reader tell a truncated file from a whole one.)

``manifest.json`` beside the shards says what they hold, so that training can check them:

    {"format": "llm_keras.token_shards", "version": 1, "dtype": "uint16", "tokens": 2400000,
     "separator": [0], "val_fraction": 0.1,
     "tokenizer": {"folder": "tokenizer", "class": "CharTokenizer", "vocab_size": 65,
                   "sha256": "..."},
     "shards": [{"file": "shard-00000.bin", "tokens": 1000000, "sha256": "..."}, ...]}

- ``separator``: the ids written after every document. A tokenizer with ``<|endoftext|>`` (GPT-2's
  convention, nanoGPT's fineweb.py) ends each document with that id; a character tokenizer has
  none, so a document ends with the ids of a blank line ``"\\n\\n"`` (how paragraphs were
  separated in the raw text): the model learns where a document ends either way.
- ``val_fraction``: the validation split is the *last* ``val_fraction`` of the ids, all shards
  put end to end (as ``train_val_split`` cuts a text file 90/10); nanoGPT keeps a separate
  ``val.bin`` instead, nanochat the last shard. Absent: 0.1.
- ``tokenizer``: the saved tokenizer's folder (beside the shards) and the SHA-256 of its file;
  training refuses shards made with another tokenizer.

Writing is atomic (a temporary file renamed, ``llm_keras.files``) and deterministic: documents
are tokenised in parallel by ``workers`` processes, but their ids are written in the documents'
order, so 1 or 4 workers give byte-identical shards.

Public names (what the curation pipeline and ``llm-keras train --data DIR`` use):

    write_shards(documents, tokenizer, out_dir, shard_tokens=1_000_000, workers=1,
                 val_fraction=0.1, progress=True) -> dict      # the manifest, also written
    write_shard(path, ids, vocab_size) -> dict                 # one shard: {file, tokens, sha256}
    write_manifest(out_dir, tokenizer, shards, val_fraction=0.1) -> dict
    separator_ids(tokenizer) -> list[int]
    shard_tokens(path) -> int | None                           # the header's count, if whole
    read_shard(path, sha256=None) -> np.memmap                 # checked; ShardError if not
    read_manifest(directory) -> dict                           # checked; ShardError if not
    ShardedTokens(directory, split="train" | "val" | "all", verify=True)

Example:
    >>> manifest = write_shards(documents, tokenizer, "shards", shard_tokens=100_000)  # doctest: +SKIP
    >>> train_ids = ShardedTokens("shards", "train")  # doctest: +SKIP
    >>> train_ids[999_990:1_000_010]   # crosses a shard boundary  # doctest: +SKIP
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from llm_keras.data.download import file_digest
from llm_keras.files import atomic_output

SHARD_FORMAT = "llm_keras.token_shards"
MANIFEST_FILE = "manifest.json"
TOKENIZER_FOLDER = "tokenizer"
SPLITS = ("train", "val", "all")
DOCUMENT_BREAK = "\n\n"
DEFAULT_VAL_FRACTION = 0.1

# llm.c's header: 256 little-endian int32; magic, version, number of ids, then zeros.
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
SHARD_KINDS = {(20240520, 1): np.dtype("<u2"), (20240801, 7): np.dtype("<u4")}  # (magic, version)


class ShardError(ValueError):
    """A shard or manifest that is not what it should be (truncated, altered, another format)."""


def shard_kind(vocab_size: int) -> tuple[int, int]:
    """The header's ``(magic, version)`` for ``vocab_size`` ids: llm.c's uint16 kind when they
    fit, else its uint32 kind."""
    return (20240520, 1) if vocab_size <= 2**16 else (20240801, 7)


def write_shard(path: str | os.PathLike, ids, vocab_size: int) -> dict:
    """Write ``ids`` (1-D, each in ``[0, vocab_size)``) as one shard at ``path``, atomically.

    Returns:
        The manifest's entry: ``{"file": name, "tokens": len(ids), "sha256": digest}``.
    """
    path = Path(path)
    kind = shard_kind(vocab_size)
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{path.name}: ids must lie in [0, vocab_size={vocab_size}).")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = *kind, ids.size
    with atomic_output(path) as file:
        file.write(header.tobytes())
        file.write(ids.astype(SHARD_KINDS[kind]).tobytes())
    return {"file": path.name, "tokens": int(ids.size), "sha256": file_digest(path)[1]}


def _header(path: Path):
    """``(dtype, count)`` of a whole shard, or ``None`` (an unknown magic number and version, or
    not the size the header announces)."""
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    kind = tuple(int(value) for value in header[:2])
    if len(header) < HEADER_INTS or kind not in SHARD_KINDS:
        return None
    dtype, count = SHARD_KINDS[kind], int(header[2])
    return (dtype, count) if path.stat().st_size == HEADER_BYTES + count * dtype.itemsize else None


def shard_tokens(path: str | os.PathLike) -> int | None:
    """The number of ids a shard's header announces, or ``None`` when the file is not a whole
    shard (a wrong magic number or version, or not the size the header announces)."""
    found = _header(Path(path))
    return None if found is None else found[1]


def read_shard(path: str | os.PathLike, sha256: str | None = None) -> np.memmap:
    """A shard's ids, memory-mapped (read from disk only where indexed): ``(tokens,)`` uint16
    or uint32.

    Args:
        path: the shard file.
        sha256: the digest the manifest gives; when given, the file is hashed (in chunks) and
            must match.

    Raises:
        ShardError: naming the file, when it is missing, truncated, of another format, or
            altered since the manifest was written.
    """
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path}: no such shard (the manifest lists it): write the shards again.")
    found = _header(path)
    if found is None:
        raise ShardError(
            f"{path} is not a whole token shard (its header or its size is wrong, e.g. a "
            "truncated copy): write the shards again."
        )
    if sha256 is not None and file_digest(path)[1] != sha256:
        raise ShardError(
            f"{path} changed since its manifest was written (its SHA-256 differs): write the "
            "shards again."
        )
    dtype, count = found
    if count == 0:
        return np.zeros(0, dtype)  # (numpy cannot map an empty range)
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(count,))


def separator_ids(tokenizer) -> list[int]:
    """What ends each document in the shards: the tokenizer's ``<|endoftext|>`` id when it has
    one, else the ids of a blank line (``"\\n\\n"``)."""
    from llm_keras.tokenizers.base import end_of_text_id

    end = end_of_text_id(tokenizer)
    if end is not None:
        return [end]
    try:
        return list(tokenizer.encode(DOCUMENT_BREAK))
    except ValueError:
        raise ValueError(
            "The tokenizer has no <|endoftext|> and cannot encode a blank line ('\\n\\n'), so "
            "nothing could separate the documents in the shards: give it a vocabulary with "
            "'\\n' or the special token <|endoftext|>."
        ) from None


# --- writing ----------------------------------------------------------------------------------

_worker_tokenizer = None  # the tokenizer of a worker process (set once by _start_worker)


def _start_worker(tokenizer):
    global _worker_tokenizer
    _worker_tokenizer = tokenizer


def _document_ids(text: str) -> np.ndarray:
    """One document's ids followed by the separator, in a worker: ``(n,)`` int64."""
    tokenizer = _worker_tokenizer
    return np.asarray([*tokenizer.encode(text), *separator_ids(tokenizer)], dtype=np.int64)


def _tokenised(documents: Iterable[str], tokenizer, workers: int):
    """Each document's ids, in the documents' order, tokenised by ``workers`` processes."""
    if workers == 1:
        _start_worker(tokenizer)
        yield from map(_document_ids, documents)
        return
    # "spawn", not Linux's default "fork": a process forked from one whose JAX, XLA or PyTorch
    # threads hold a lock can wait on that lock for ever (the shard tests hung so on JAX).
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, _start_worker, (tokenizer,)) as pool:
        yield from pool.imap(_document_ids, documents, chunksize=64)  # imap keeps the order


def write_shards(
    documents: Iterable[str],
    tokenizer,
    out_dir: str | os.PathLike,
    shard_tokens: int = 1_000_000,
    workers: int = 1,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    progress: bool = True,
) -> dict:
    """Tokenise ``documents`` and write them to ``out_dir`` as shards with a manifest.

    The documents are read one at a time (any iterable, e.g. ``streaming.read_documents``); at
    most one shard of ids is held in memory. ``out_dir`` receives ``shard-00000.bin``, ...,
    ``tokenizer/`` and ``manifest.json`` (written last: its presence means the shards are whole).

    Args:
        documents: the texts, in order.
        tokenizer: an ``llm_keras.tokenizers`` tokenizer (saved beside the shards).
        out_dir: the folder (created); shards of an earlier write there are replaced.
        shard_tokens: ids per shard; the last shard holds the rest.
        workers: processes that tokenise (the shards do not depend on it).
        val_fraction: the last fraction of the ids that ``ShardedTokens(..., "val")`` reads.
        progress: show a tqdm bar of the documents.

    Returns:
        The manifest (a dict, as written to ``manifest.json``).
    """
    for name, value in (("shard_tokens", shard_tokens), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).unlink(missing_ok=True)  # no manifest until the shards are whole
    for old in out.glob("shard-*.bin"):
        old.unlink()
    buffer = np.empty(shard_tokens, dtype=np.int64)  # the shard being filled
    filled, shards = 0, []

    def flush(count):
        shards.append(write_shard(out / f"shard-{len(shards):05d}.bin", buffer[:count],
                                  tokenizer.vocab_size))  # fmt: skip

    bar = tqdm(documents, desc="tokenising", unit="doc", disable=not progress)
    for ids in _tokenised(bar, tokenizer, workers):
        while ids.size:
            taken = min(shard_tokens - filled, ids.size)
            buffer[filled : filled + taken] = ids[:taken]
            filled, ids = filled + taken, ids[taken:]
            if filled == shard_tokens:
                flush(filled)
                filled = 0
    if filled or not shards:
        flush(filled)
    return write_manifest(out, tokenizer, shards, val_fraction)


def write_manifest(
    out_dir: str | os.PathLike, tokenizer, shards: list[dict], val_fraction=DEFAULT_VAL_FRACTION
) -> dict:
    """Save ``tokenizer`` in ``out_dir/tokenizer`` and write ``manifest.json`` for ``shards``
    (their entries, in order, as ``write_shard`` returns them). Returns the manifest."""
    from llm_keras.tokenizers.base import FILE_NAME

    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction!r} must lie strictly between 0 and 1.")
    out = Path(out_dir)
    tokenizer.save(out / TOKENIZER_FOLDER)
    manifest = {
        "format": SHARD_FORMAT,
        "version": 1,
        "dtype": SHARD_KINDS[shard_kind(tokenizer.vocab_size)].name,
        "tokens": sum(shard["tokens"] for shard in shards),
        "separator": separator_ids(tokenizer),
        "val_fraction": val_fraction,
        "tokenizer": {
            "folder": TOKENIZER_FOLDER,
            "class": type(tokenizer).__name__,
            "vocab_size": tokenizer.vocab_size,
            "sha256": file_digest(out / TOKENIZER_FOLDER / FILE_NAME)[1],
        },
        "shards": shards,
    }
    with atomic_output(out / MANIFEST_FILE, "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=1)
    return manifest


# --- reading ----------------------------------------------------------------------------------


def is_shard_directory(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding a ``manifest.json``."""
    return (Path(path) / MANIFEST_FILE).is_file()


def read_manifest(directory: str | os.PathLike) -> dict:
    """The manifest of the shards in ``directory``, checked for its format and its counts.

    Raises:
        ShardError: no manifest, another format, or counts that do not add up.
    """
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise ShardError(f"{directory} holds no {MANIFEST_FILE}: it is not a folder of shards "
                         "(write_shards or `llm-keras data curate` makes one).")  # fmt: skip
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != SHARD_FORMAT or manifest.get("version") != 1:
        raise ShardError(f"{path} is not a manifest of {SHARD_FORMAT} version 1.")
    if sum(shard["tokens"] for shard in manifest["shards"]) != manifest["tokens"]:
        raise ShardError(f"{path}: the shards' token counts do not add up to its 'tokens'.")
    return manifest


def manifest_digest(directory: str | os.PathLike) -> str:
    """The SHA-256 of ``manifest.json``: it names every shard's digest and the tokenizer's, so
    equal digests mean the same shards (what a run records and ``--resume`` checks)."""
    return file_digest(Path(directory) / MANIFEST_FILE)[1]


class ShardedTokens:
    """The ids of a folder of shards as one 1-D sequence, read from disk only where indexed.

    ``len(tokens)`` and ``tokens[i]``, ``tokens[a:b]`` work as on a NumPy array of all the ids
    put end to end (a slice may span shards; it returns a new ``(b - a,)`` array); nothing else
    is loaded (each shard is memory-mapped). ``NextTokenWindows``, ``random_batch`` and
    ``evaluation_windows`` accept it where they accept an array of ids.

    Args:
        directory: the folder with ``manifest.json``.
        split: ``"train"`` (all but the last ``val_fraction`` of the ids), ``"val"`` (that last
            part) or ``"all"``.
        verify: hash the split's shards against the manifest when opening (reads each file
            once, in chunks); a missing, truncated or altered shard raises ``ShardError``
            naming it. The shards of the other split are not opened.
    """

    def __init__(self, directory: str | os.PathLike, split: str = "train", verify: bool = True):
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not one of {SPLITS}.")
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        self.split = split
        entries = self.manifest["shards"]
        # starts[k]: the position of shard k's first id in the whole sequence.
        self.starts = np.concatenate([[0], np.cumsum([entry["tokens"] for entry in entries])])
        total = int(self.starts[-1])
        cut = total - round(total * self.manifest.get("val_fraction", DEFAULT_VAL_FRACTION))
        self.first, self.stop = {"train": (0, cut), "val": (cut, total), "all": (0, total)}[split]
        # Only the shards of this split are opened (and hashed); the others stay None.
        self.shards = [None] * len(entries)
        for k in tqdm(range(len(entries)), desc="checking shards", unit="shard",
                      disable=not verify or len(entries) < 20):  # fmt: skip
            if self.starts[k] < self.stop and self.starts[k + 1] > self.first:
                entry = entries[k]
                shard = read_shard(
                    self.directory / entry["file"], entry["sha256"] if verify else None
                )
                if len(shard) != entry["tokens"] or shard.dtype.name != self.manifest["dtype"]:
                    raise ShardError(f"{self.directory / entry['file']}: its header disagrees "
                                     "with the manifest (count or dtype): write the shards again.")  # fmt: skip
                self.shards[k] = shard
        self.dtype = np.dtype(self.manifest["dtype"])

    def __len__(self) -> int:
        return self.stop - self.first

    def __getitem__(self, index):
        if isinstance(index, slice):
            low, high, step = index.indices(len(self))
            if step != 1:
                raise ValueError("ShardedTokens slices take consecutive ids (a step of 1).")
            return self._range(low, max(high, low))
        position = int(index) + (len(self) if int(index) < 0 else 0)
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} is outside a sequence of {len(self)} ids.")
        return self._range(position, position + 1)[0]

    def _range(self, low: int, high: int) -> np.ndarray:
        """The ids ``low:high`` of this split, copied out of the shards they lie in."""
        low, high = low + self.first, high + self.first
        pieces = []
        shard = int(np.searchsorted(self.starts, low, side="right")) - 1
        while low < high:
            start = int(self.starts[shard])
            end = min(high, int(self.starts[shard + 1]))
            pieces.append(self.shards[shard][low - start : end - start])
            low, shard = end, shard + 1
        return np.concatenate(pieces) if pieces else np.zeros(0, self.dtype)

    def __array__(self, dtype=None, copy=None):
        """All the ids as one array (reads the whole split: what this class exists to avoid)."""
        return self._range(0, len(self)).astype(dtype or self.dtype)

    def __repr__(self):
        return (f"ShardedTokens({str(self.directory)!r}, split={self.split!r}): {len(self):,} "
                f"ids in {len(self.shards)} shards")  # fmt: skip
