"""Probe for week 1 (data curation), exercise 5: ``write_shard(path, ids)`` and
``read_shard(path)``, the token shard of llm.c's ``write_datafile`` (a header of 256
little-endian int32: magic 20240520, version 1, token count; then the ids as little-endian
uint16); the references are ``llm_keras.data.shards.write_shard`` (with ``vocab_size=65536``)
and ``read_shard``.

The ids span the whole uint16 range (ids above 255 catch a one-byte or big-endian writer).
The reader is given shards the grader wrote byte by byte: a good one, one cut short, one with
another magic number and one with another version; it must return the ids of the first and
refuse the others with ValueError.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="shards",
    answer_cells=("shards-answer",),
    grade_cell="shards-check",
    names=("write_shard", "read_shard"),
    graded=("llm_keras.data.shards.write_shard", "llm_keras.data.shards.read_shard"),
)

MAGIC, VERSION, HEADER_INTS = 20240520, 1, 256
CHECKS = (
    Check("bytes of a written shard", output="written", dtype="int", exact=True, weight=2,
          hint="256 little-endian int32 (magic, version, count, then zeros), then each id as a "
               "little-endian uint16."),
    Check("ValueError for an id that does not fit in uint16", output="write_refuses",
          dtype="int", exact=True, hint="Check the ids' range before astype, which wraps."),
    Check("ids read from a shard", output="read", dtype="uint16", exact=True, weight=2,
          hint="`np.memmap(path, dtype='<u2', mode='r', offset=1024, shape=(count,))`."),
    Check("ValueError for a shard cut short, another magic number, another version",
          output="read_refuses", dtype="int", exact=True,
          hint="Compare the magic number, the version and the file's size with the header."),
)


def shard_bytes(ids, magic=MAGIC, version=VERSION):
    """A shard as llm.c's write_datafile writes it, as a uint8 array."""
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = magic, version, len(ids)
    return np.frombuffer(header.tobytes() + np.asarray(ids).astype("<u2").tobytes(), np.uint8)


def inputs(rng):
    ids = rng.integers(0, 1 << 16, size=int(rng.integers(5, 300)))
    other = rng.integers(0, 1 << 16, size=int(rng.integers(5, 300)))
    good = shard_bytes(other)
    return {"ids": ids, "too_large": np.array([1, int(rng.integers(1 << 16, 1 << 20))]),
            "good": good, "short": good[:-2 * int(rng.integers(1, 4))],
            "magic": shard_bytes(other, magic=MAGIC + 1), "version": shard_bytes(other, version=2)}


def probe(learner, inputs):
    import tempfile
    from pathlib import Path

    import numpy as np

    folder = Path(tempfile.mkdtemp())

    def refuses(call, *args):
        try:
            call(*args)
        except ValueError:
            return 1
        return 0

    learner.write_shard(folder / "written.bin", inputs["ids"].tolist())
    written = np.frombuffer((folder / "written.bin").read_bytes(), np.uint8).astype(np.int64)
    for name in ("good", "short", "magic", "version"):
        (folder / f"{name}.bin").write_bytes(inputs[name].tobytes())
    read = learner.read_shard(folder / "good.bin")
    return {"written": written,
            "write_refuses": np.array([refuses(learner.write_shard, folder / "large.bin",
                                               inputs["too_large"].tolist())]),
            "read": np.array(read) if isinstance(read, np.ndarray) else read,
            "read_refuses": np.array([refuses(learner.read_shard, folder / f"{name}.bin")
                                      for name in ("short", "magic", "version")])}


def reference(inputs):
    from llm_keras.data.shards import read_shard, write_shard

    def write_uint16_shard(path, ids):
        write_shard(path, ids, vocab_size=1 << 16)

    return probe(SimpleNamespace(write_shard=write_uint16_shard, read_shard=read_shard), inputs)
