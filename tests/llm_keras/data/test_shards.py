"""Token shards: llm.c's header read back by hand, the stream equal to the documents' ids, the
same bytes with 1 or 4 workers, damaged shards named, windows across shards, memory kept low."""

import hashlib
import json
import struct
import tracemalloc

import numpy as np
import pytest

from llm_keras.data.shards import (
    ShardedTokens,
    ShardError,
    read_shard,
    shard_tokens,
    write_manifest,
    write_shard,
    write_shards,
)
from llm_keras.data.windows import NextTokenWindows, evaluation_windows, random_batch
from llm_keras.tokenizers import ByteLevelBPETokenizer, CharTokenizer


def make_documents(count=300, seed=0):
    rng = np.random.default_rng(seed)
    words = ["the", "king", "of", "night", "sings", "a", "song", "Hamlet", "rose", "déjà-vu"]
    return [" ".join(rng.choice(words, size=rng.integers(1, 40))) for _ in range(count)]


def read_llm_c_shard(path):
    """llm.c's dev/data/data_common.py layout, read with struct: 256 int32 (magic, version,
    count, zeros), then the ids: uint16 for (20240520, 1), uint32 for (20240801, 7)."""
    data = path.read_bytes()
    magic, version, count = struct.unpack("<3i", data[:12])
    assert struct.unpack("<253i", data[12:1024]) == (0,) * 253
    width = {(20240520, 1): 2, (20240801, 7): 4}[magic, version]
    assert len(data) == 1024 + count * width
    ids = struct.unpack(f"<{count}{'H' if width == 2 else 'I'}", data[1024:])
    return magic, version, list(ids)


@pytest.fixture(scope="module")
def documents():
    return make_documents()


@pytest.fixture(scope="module")
def tokenizer(documents):
    return CharTokenizer.train("\n\n".join(documents))


@pytest.fixture(scope="module")
def written(tmp_path_factory, documents, tokenizer):
    out = tmp_path_factory.mktemp("shards")
    manifest = write_shards(documents, tokenizer, out, shard_tokens=1000, progress=False)
    return out, manifest


def test_the_shards_hold_the_documents_ids_in_llm_c_layout(written, documents, tokenizer):
    out, manifest = written
    # The expected stream, from the tokenizer's own encode, a blank line after each document.
    blank = tokenizer.encode("\n\n")
    expected = [i for text in documents for i in (*tokenizer.encode(text), *blank)]
    assert manifest["separator"] == blank and manifest["tokens"] == len(expected)
    assert [s["file"] for s in manifest["shards"]] == [
        f"shard-{k:05d}.bin" for k in range(-(-len(expected) // 1000))
    ]
    stream = []
    for entry in manifest["shards"]:
        path = out / entry["file"]
        magic, version, ids = read_llm_c_shard(path)
        assert (magic, version) == (20240520, 1)  # uint16: 20-odd characters fit
        assert entry["tokens"] == len(ids) == shard_tokens(path)
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        stream += ids
    assert stream == expected
    assert [len(read_llm_c_shard(out / s["file"])[2]) for s in manifest["shards"][:-1]] == [
        1000
    ] * (len(manifest["shards"]) - 1)
    saved = json.loads((out / "manifest.json").read_text())
    assert saved == manifest and saved["dtype"] == "uint16"
    assert saved["tokenizer"]["vocab_size"] == tokenizer.vocab_size
    tokenizer_file = out / "tokenizer" / "llm_keras_tokenizer.json"
    assert saved["tokenizer"]["sha256"] == hashlib.sha256(tokenizer_file.read_bytes()).hexdigest()
    # The views: the whole stream, and the validation part as the last tenth of it.
    everything = ShardedTokens(out, "all")
    train, val = ShardedTokens(out, "train"), ShardedTokens(out, "val")
    assert everything[:].tolist() == expected
    cut = len(expected) - round(len(expected) * 0.1)
    assert train[:].tolist() == expected[:cut] and val[:].tolist() == expected[cut:]
    assert isinstance(read_shard(out / "shard-00000.bin"), np.memmap)


def test_slices_across_shard_boundaries(written, documents, tokenizer):
    out, _ = written
    tokens = ShardedTokens(out, "all")
    stream = np.asarray(tokens)  # all of it, to compare with
    for low, high in [(990, 1010), (0, 3001), (1999, 2000), (2500, 2400), (-30, None)]:
        np.testing.assert_array_equal(tokens[low:high], stream[low:high])
    assert tokens[1000] == stream[1000] and tokens[-1] == stream[-1]
    with pytest.raises(IndexError, match="outside"):
        tokens[len(stream)]
    val = ShardedTokens(out, "val")
    np.testing.assert_array_equal(val[5:2000], stream[len(stream) - len(val) + 5 :][:1995])


def test_one_or_four_workers_write_the_same_bytes(tmp_path, documents, tokenizer):
    for workers in (1, 4):
        write_shards(documents, tokenizer, tmp_path / str(workers), shard_tokens=1000,
                     workers=workers, progress=False)  # fmt: skip
    names = sorted(p.name for p in (tmp_path / "1").iterdir() if p.is_file())
    assert "manifest.json" in names and len(names) > 3
    for name in names:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "4" / name).read_bytes(), name


def test_the_end_of_text_id_separates_documents_and_big_vocabularies_take_uint32(tmp_path):
    bpe = ByteLevelBPETokenizer({}, ["<|endoftext|>"])  # bytes 0-255, then <|endoftext|> = 256
    manifest = write_shards(["ab", "c"], bpe, tmp_path / "bpe", progress=False)
    assert manifest["separator"] == [256]
    assert ShardedTokens(tmp_path / "bpe", "all")[:].tolist() == [97, 98, 256, 99, 256]

    write_shard(tmp_path / "big.bin", [0, 70_000, 65_536], vocab_size=70_001)
    assert read_llm_c_shard(tmp_path / "big.bin") == (20240801, 7, [0, 70_000, 65_536])
    assert read_shard(tmp_path / "big.bin").dtype == np.uint32
    with pytest.raises(ValueError, match=r"vocab_size=70001"):
        write_shard(tmp_path / "bad.bin", [70_001], vocab_size=70_001)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "missing"])
def test_a_damaged_shard_is_named(tmp_path, documents, tokenizer, damage):
    write_shards(documents[:50], tokenizer, tmp_path, shard_tokens=500, progress=False)
    path = tmp_path / "shard-00001.bin"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:-2])
    elif damage == "flipped":  # the header still whole: only the checksum can tell
        path.write_bytes(data[:1100] + bytes([data[1100] ^ 1]) + data[1101:])
    else:
        path.unlink()
    message = {"truncated": "not a whole token shard", "flipped": "changed since its manifest",
               "missing": "no such shard"}[damage]  # fmt: skip
    with pytest.raises(ShardError, match=rf"shard-00001\.bin.*{message}|{message}.*shard-00001"):
        ShardedTokens(tmp_path, "train")
    val = ShardedTokens(tmp_path, "val")  # its shards are whole: the damaged one is not opened
    assert val.shards[1] is None and len(val[:]) == len(val) > 0
    with pytest.raises(ShardError, match="no manifest.json"):
        ShardedTokens(tmp_path / "elsewhere")


def test_windows_read_from_shards_equal_windows_of_the_array(written):
    out, _ = written
    tokens = ShardedTokens(out, "train")
    ids = np.asarray(tokens)
    for step in (0, 7):
        for a, b in zip(random_batch(tokens, 16, 64, seed=3, step=step),
                        random_batch(ids, 16, 64, seed=3, step=step)):  # fmt: skip
            assert a.dtype == np.int32
            np.testing.assert_array_equal(a, b)
    batches, reference = (
        NextTokenWindows(tokens, 8, 600, 1, 5, 3),
        NextTokenWindows(ids, 8, 600, 1, 5, 3),
    )
    for index in range(3):  # windows of 601 ids: most cross a 1000-id shard boundary
        for a, b in zip(batches[index], reference[index]):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(evaluation_windows(tokens, 32, 10, seed=2), evaluation_windows(ids, 32, 10, 2)):
        np.testing.assert_array_equal(a, b)


def test_training_windows_do_not_read_the_whole_corpus(tmp_path):
    """The batches of 100 steps over 8 MB of shards allocate a constant few hundred kilobytes
    (the chunks in which the shards are hashed), not a copy of the corpus."""

    rng = np.random.default_rng(0)
    shards = [write_shard(tmp_path / f"shard-{k:05d}.bin", rng.integers(0, 65, 500_000), 65)
              for k in range(8)]  # fmt: skip
    write_manifest(tmp_path, CharTokenizer(["\n", *map(chr, range(65, 129))]), shards)
    corpus_bytes = sum(p.stat().st_size for p in tmp_path.glob("shard-*.bin"))
    assert corpus_bytes > 8_000_000
    tracemalloc.start()
    try:
        tokens = ShardedTokens(tmp_path, "train")
        batches = NextTokenWindows(tokens, 8, 64, seed=0, start_step=0, num_steps=100)
        seen = sum(int(batches[i][1].sum()) for i in range(100))
        evaluation_windows(ShardedTokens(tmp_path, "val"), 64, 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen > 0 and len(tokens) == 3_600_000
    assert peak < corpus_bytes / 20, peak
