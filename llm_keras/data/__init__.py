"""Week 1, "Text as data": getting a corpus, holding part of it out, and cleaning raw text.

One idea per module, read beside the chapter:

- ``download``: checksums and atomic downloads, so a corpus is exactly the bytes expected;
- ``corpora``: the course's corpora (TinyShakespeare, the Gutenberg Shakespeare), found in a
  given path, ``$LLM_KERAS_DATA`` or the cache, and checked every time;
- ``splits``: the deterministic train/validation split;
- ``cleaning``: normalisation, filters, deduplication, and a report of what was dropped;
- ``streaming``: the same cleaning for files larger than memory.

Example:
    >>> from llm_keras.data import load_tiny_shakespeare, train_val_split
    >>> train, val = train_val_split(load_tiny_shakespeare())  # doctest: +SKIP
    >>> len(train), len(val)  # doctest: +SKIP
    (1003854, 111540)
"""

from llm_keras.data.cleaning import (
    DROP_REASONS,
    UNICODE_FORMS,
    CleaningReport,
    clean_documents,
    normalize_text,
)
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
    download_file,
    file_digest,
    verify_file,
)
from llm_keras.data.splits import train_val_split
from llm_keras.data.streaming import UNITS, clean_file, read_documents

__all__ = [
    "CORPORA",
    "DROP_REASONS",
    "UNICODE_FORMS",
    "UNITS",
    "CleaningReport",
    "Corpus",
    "DownloadError",
    "cache_dir",
    "clean_documents",
    "clean_file",
    "corpus_path",
    "download_file",
    "file_digest",
    "load_corpus",
    "load_tiny_shakespeare",
    "normalize_text",
    "read_documents",
    "train_val_split",
    "verify_file",
]
