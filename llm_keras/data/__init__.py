"""Week 1, "Text as data": getting a corpus, holding part of it out, and cleaning raw text.

One idea per module, read beside the chapter:

- ``download``: checksums and atomic downloads, so a corpus is exactly the bytes expected;
- ``corpora``: the course's corpora (TinyShakespeare, the Gutenberg Shakespeare), found in a
  given path, ``$LLM_KERAS_DATA`` or the cache, and checked every time;
- ``splits``: the deterministic train/validation split;
- ``cleaning``: normalisation, filters, deduplication, and a report of what was dropped;
- ``streaming``: the same cleaning for files larger than memory;
- ``quality``, ``pii``, ``language``: Gopher's and C4's quality rules, PII scrubbing, a language
  filter (week 1, "Data: from the web to token shards", as the rest below);
- ``minhash``, ``lsh``, ``planted``: near-duplicates by MinHash and locality-sensitive hashing,
  and corpora with planted copies to measure them;
- ``shards``: token ids in binary shards with a manifest, streamed by training;
- ``pipeline``, ``engine``, ``command``: ``llm-keras data curate``, on one machine or on Dask.

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
from llm_keras.data.language import LanguageIdentifier, LanguageSettings, language_drop_reason
from llm_keras.data.lsh import (
    LSHIndex,
    NearDuplicateReport,
    candidate_pairs,
    lsh_parameters,
    near_duplicates,
    s_curve,
)
from llm_keras.data.minhash import MinHasher, estimate_jaccard, jaccard, shingles
from llm_keras.data.pii import scrub_pii
from llm_keras.data.planted import pair_precision_recall, planted_near_duplicates
from llm_keras.data.quality import QualitySettings, quality_drop_reason
from llm_keras.data.shards import ShardedTokens, ShardError, read_shard, write_shards
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
    "LSHIndex",
    "LanguageIdentifier",
    "LanguageSettings",
    "MinHasher",
    "NearDuplicateReport",
    "QualitySettings",
    "ShardError",
    "ShardedTokens",
    "cache_dir",
    "candidate_pairs",
    "clean_documents",
    "clean_file",
    "corpus_path",
    "download_file",
    "estimate_jaccard",
    "file_digest",
    "jaccard",
    "language_drop_reason",
    "load_corpus",
    "load_tiny_shakespeare",
    "lsh_parameters",
    "near_duplicates",
    "normalize_text",
    "pair_precision_recall",
    "planted_near_duplicates",
    "quality_drop_reason",
    "read_documents",
    "read_shard",
    "s_curve",
    "scrub_pii",
    "shingles",
    "train_val_split",
    "verify_file",
    "write_shards",
]
