"""`llm-keras data curate`: the pipeline from the command line (llm_keras.data.command)."""

import json
import math

import numpy as np
import pytest

from llm_keras.cli import main


def _raw(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "To be, or not to be: that is the question.\n\nTo be, or not to be: that is "
        "the question.\n\nWhether 'tis nobler in the mind to suffer.\n",
        encoding="utf-8",
    )
    return raw


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["{missing}", "--out", "{out}"],
            "{missing} is not a file or folder: give the path of a raw UTF-8 text file",
        ),
        (
            ["{latin1}", "--out", "{out}"],
            (
                "{latin1} is not valid UTF-8 (invalid continuation byte a little before byte 13): "
                "convert it to UTF-8, or pass --encoding-errors replace"
            ),
        ),
        (
            ["{raw}", "--out", "{other}"],
            "--out {other} is not an empty folder: choose a new or empty folder for the run",
        ),
        (
            ["{raw}", "--out", "{out}", "--resume"],
            "--out {out} holds no curation run to resume (no curate.json): leave out --resume to start one",
        ),
        (
            ["{raw}", "--out", "{out}", "--near-dup-threshold", "1.5"],
            "--near-dup-threshold 1.5 must be a Jaccard similarity strictly between 0 and 1",
        ),
        (
            ["{raw}", "--out", "{out}", "--tokenizer", "{missing}"],
            "No saved tokenizer at '{missing}': expected the folder written by tokenizer.save",
        ),
        (
            ["{raw}", "--out", "{out}", "--languages", "en,ja"],
            "--languages ja: the language identifier knows de, en, es, fr, it, nl, pt; keep some",
        ),
        (
            ["{raw}", "--out", "{out}", "--workers", "2"],
            "--workers needs --engine dask: the local engine runs in this process",
        ),
        (
            ["{raw}", "--out", "{out}", "--languages", "en,english"],
            "--languages english: each language is a two-letter ISO 639-1 code such as 'en'",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(argv, message, tmp_path, capsys):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a run")
    names = {
        "missing": tmp_path / "missing.txt",
        "latin1": latin1,
        "raw": _raw(tmp_path),
        "out": tmp_path / "out",
        "other": other,
    }
    argv = ["data", "curate", *(a.format(**names) for a in argv), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("llm-keras: error: ") and message.format(**names) in last, last
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not names["out"].exists() and [p.name for p in other.iterdir()] == ["notes.txt"]


def test_curate_then_train_from_the_shards(tmp_path, data_dir, capsys):
    from llm_keras.data.shards import ShardedTokens
    from llm_keras.data.streaming import read_documents
    from llm_keras.training.checkpoint import latest_checkpoint

    paragraphs = list(read_documents(data_dir / "tinyshakespeare.txt", "paragraph"))[:400]
    raw = tmp_path / "raw.txt"
    raw.write_text("\n\n".join(paragraphs + paragraphs[:50]) + "\n", encoding="utf-8")
    curated = tmp_path / "curated"
    argv = ["data", "curate", str(raw), "--out", str(curated), "--no-quality", "--no-pii",
            "--languages", "any", "--shard-tokens", "5000", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((curated / "report.json").read_text())
    assert report["dropped"]["duplicate"]["documents"] >= 50
    assert f"{report['dropped']['duplicate']['documents']:,}" in printed
    manifest = json.loads((curated / "manifest.json").read_text())
    assert len(manifest["shards"]) == math.ceil(manifest["tokens"] / 5000) >= 3

    run = tmp_path / "run"
    tiny = ["--context-length", "16", "--n-layers", "1", "--d-model", "32", "--n-heads", "2",
            "--batch-size", "8", "--eval-batches", "2", "--warmup-steps", "5", "--quiet",
            "--sample-tokens", "0", "--eval-interval", "20", "--steps", "20",
            "--learning-rate", "3e-3"]  # fmt: skip
    assert main(["train", "--data", str(curated), "--out", str(run), *tiny]) == 0
    name = "tokenizer/llm_keras_tokenizer.json"
    assert (run / name).read_bytes() == (curated / name).read_bytes()
    with np.load(latest_checkpoint(run)) as checkpoint:
        evaluations = json.loads(str(checkpoint["state"]))["history"]["evaluations"]
    vocab_size = manifest["tokenizer"]["vocab_size"]
    assert evaluations[-1]["val_loss"] < math.log(vocab_size) - 0.3  # it learnt from the shards
    assert (
        len(ShardedTokens(curated, "train")) + len(ShardedTokens(curated, "val"))
        == (manifest["tokens"])
    )
