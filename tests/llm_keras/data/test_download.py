"""Checksums, atomic writes and downloads, against a local HTTP server (no internet)."""

import socket

import pytest

from llm_keras.data import (
    CORPORA,
    DownloadError,
    download_file,
    file_digest,
    verify_file,
)
from llm_keras.files import atomic_output

TINY = CORPORA["tiny_shakespeare"]


@pytest.fixture
def tiny_bytes(data_dir) -> bytes:
    return (data_dir / "tinyshakespeare.txt").read_bytes()


def _download(url, destination, **kwargs):
    return download_file(url, destination, sha256=TINY.sha256, size=TINY.size, progress=False,
                         **kwargs)


def test_file_digest_matches_the_registry(data_dir):
    assert file_digest(data_dir / "tinyshakespeare.txt") == (1_115_394, TINY.sha256)
    gutenberg = CORPORA["shakespeare_gutenberg"]
    assert file_digest(data_dir / gutenberg.filename) == (5_057_198, gutenberg.sha256)


def test_verify_file_names_the_file_sizes_digests_and_advice(tmp_path, tiny_bytes):
    truncated = tmp_path / "tinyshakespeare.txt"
    truncated.write_bytes(tiny_bytes[:1000])
    with pytest.raises(ValueError) as err:
        verify_file(truncated, sha256=TINY.sha256, size=TINY.size, advice="Fetch a new copy.")
    message = str(err.value)
    assert str(truncated) in message
    assert "truncated" in message and "has 1,000 bytes" in message
    assert "expected 1,115,394 bytes" in message and TINY.sha256 in message
    assert message.endswith("Fetch a new copy.")

    same_size = tmp_path / "edited.txt"
    same_size.write_bytes(tiny_bytes.replace(b"First Citizen", b"First Senator", 1))
    with pytest.raises(ValueError, match=r"looks modified.*has 1,115,394 bytes"):
        verify_file(same_size, sha256=TINY.sha256, size=TINY.size, advice="")


def test_download_writes_the_checked_file_and_nothing_else(file_server, tmp_path, tiny_bytes,
                                                           capsys):
    (file_server.root / "input.txt").write_bytes(tiny_bytes)
    cache = tmp_path / "cache"
    cache.mkdir()
    path = download_file(file_server.url("input.txt"), cache / "tinyshakespeare.txt",
                         sha256=TINY.sha256, size=TINY.size, progress=True)
    assert path == cache / "tinyshakespeare.txt"
    assert path.read_bytes() == tiny_bytes
    assert [p.name for p in cache.iterdir()] == ["tinyshakespeare.txt"]
    assert "100%" in capsys.readouterr().err  # the progress bar reached Content-Length


def test_truncated_download_fails_the_checksum_and_leaves_nothing(file_server, tmp_path,
                                                                   tiny_bytes):
    (file_server.root / "input.txt").write_bytes(tiny_bytes[:500_000])
    url = file_server.url("input.txt")
    with pytest.raises(ValueError) as err:
        _download(url, tmp_path / "tinyshakespeare.txt", advice="Or download it by hand.")
    message = str(err.value)
    assert url in message and "has 500,000 bytes" in message and "expected 1,115,394" in message
    assert "Nothing was saved" in message and message.endswith("Or download it by hand.")
    assert list(tmp_path.iterdir()) == [file_server.root]


def test_connection_cut_mid_download_leaves_nothing(file_server, tmp_path, tiny_bytes):
    (file_server.root / "input.txt").write_bytes(tiny_bytes)
    with pytest.raises(DownloadError, match="connection closed after 557,697 of 1,115,394 bytes"):
        _download(file_server.url("cut/input.txt"), tmp_path / "tinyshakespeare.txt")
    assert list(tmp_path.iterdir()) == [file_server.root]


def test_http_error_is_reported_in_words(file_server, tmp_path):
    with pytest.raises(DownloadError, match="the server answered HTTP 404 File not found"):
        _download(file_server.url("missing.txt"), tmp_path / "tinyshakespeare.txt")
    assert list(tmp_path.iterdir()) == [file_server.root]


def test_server_down_gives_a_plain_words_error(dead_url, tmp_path):
    with pytest.raises(DownloadError) as err:
        _download(dead_url, tmp_path / "tinyshakespeare.txt", advice="Pass path=... instead.")
    message = str(err.value)
    assert f"Could not download {dead_url}" in message and "Connection refused" in message
    assert "Is this machine offline?" in message and message.endswith("Pass path=... instead.")
    assert list(tmp_path.iterdir()) == []


def test_silent_server_times_out(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        host, port = silent.getsockname()
        with pytest.raises(DownloadError, match=r"no answer within 0\.2 s"):
            _download(f"http://{host}:{port}/input.txt", tmp_path / "x.txt", timeout=0.2)
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_replaces_only_when_the_block_ends_normally(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target, "w") as f:
        f.write("half of the new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

    with atomic_output(target, "w") as f:
        f.write("new")
        assert target.read_text() == "old"  # not visible before the block ends
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
