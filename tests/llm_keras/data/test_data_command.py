"""`llm-keras data curate`: the pipeline from the command line (llm_keras.data.command)."""

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
