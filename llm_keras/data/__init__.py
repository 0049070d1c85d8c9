"""Week 1, "Text as data": getting a corpus and holding part of it out.

One idea per module, read beside the chapter:

- ``download``: checksums and atomic downloads, so a corpus is exactly the bytes expected;
- ``corpora``: the course's corpora (TinyShakespeare, the Gutenberg Shakespeare), found in a
  given path, ``$LLM_KERAS_DATA`` or the cache, and checked every time;
- ``splits``: the deterministic train/validation split.

Example:
    >>> from llm_keras.data import load_tiny_shakespeare, train_val_split
    >>> train, val = train_val_split(load_tiny_shakespeare())  # doctest: +SKIP
    >>> len(train), len(val)  # doctest: +SKIP
    (1003854, 111540)
"""

from llm_keras.data.corpora import (
    CORPORA,
    Corpus,
    cache_dir,
    corpus_path,
    load_corpus,
    load_tiny_shakespeare,
)
from llm_keras.data.download import (
    DownloadError,
    atomic_output,
    download_file,
    file_digest,
    verify_file,
)
from llm_keras.data.splits import train_val_split

__all__ = [
    "CORPORA",
    "Corpus",
    "DownloadError",
    "atomic_output",
    "cache_dir",
    "corpus_path",
    "download_file",
    "file_digest",
    "load_corpus",
    "load_tiny_shakespeare",
    "train_val_split",
    "verify_file",
]
