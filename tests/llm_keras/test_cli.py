"""The command line: `llm-keras data ...`, `llm-keras tokenize ...`, `llm-course check`."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llm_keras.cli import main
from llm_keras.tokenizers import ByteLevelBPETokenizer, CharTokenizer, Tokenizer, WordBPETokenizer

BIN = Path(sys.executable).parent


def test_console_scripts_are_installed():
    for name in ("llm-keras", "llm-course"):
        result = subprocess.run([BIN / name, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "usage:" in result.stdout


def test_tokenize_train_encode_decode(tmp_path, data_dir, capsys):
    corpus = data_dir / "tinyshakespeare.txt"
    out = tmp_path / "tok"
    assert main(["tokenize", "train", "--corpus", str(corpus), "--vocab-size", "300",
                 "--special", "<|endoftext|>", "--out", str(out)]) == 0
    assert "ByteLevelBPETokenizer with 300 ids" in capsys.readouterr().out

    # The CLI's tokenizer is the library's, trained on the same file.
    expected = ByteLevelBPETokenizer.train(corpus, 300, ["<|endoftext|>"], progress=False)
    saved = Tokenizer.load(out)
    assert saved.merges == expected.merges

    text = "To be, or not to be<|endoftext|>"
    assert main(["tokenize", "encode", "--tokenizer", str(out), "--text", text, "--allow-special"]) == 0
    ids = [int(i) for i in capsys.readouterr().out.split()]
    assert ids == expected.encode(text, allowed_special="all") and ids[-1] == 299

    assert main(["tokenize", "decode", "--tokenizer", str(out), "--ids", *map(str, ids)]) == 0
    assert capsys.readouterr().out == text + "\n"


@pytest.mark.parametrize("kind, vocab, klass", [("char", None, CharTokenizer),
                                                ("word-bpe", "200", WordBPETokenizer)])
def test_tokenize_train_other_kinds(kind, vocab, klass, tmp_path, data_dir, capsys):
    corpus = data_dir / "tinyshakespeare.txt"
    argv = ["tokenize", "train", "--type", kind, "--corpus", str(corpus), "--out", str(tmp_path)]
    assert main(argv + (["--vocab-size", vocab] if vocab else [])) == 0
    saved = Tokenizer.load(tmp_path)
    text = corpus.read_text()
    expected = klass.train(text) if vocab is None else klass.train(text, int(vocab))
    assert type(saved) is klass and saved.vocab_size == expected.vocab_size
    sample = text[:2000]
    assert saved.encode(sample) == expected.encode(sample)
    capsys.readouterr()
    assert main(["tokenize", "encode", "--tokenizer", str(tmp_path), "--file", str(corpus)]) == 0
    assert [int(i) for i in capsys.readouterr().out.split()] == expected.encode(text)


def test_tokenize_a_file_to_npy_and_back(tmp_path, data_dir, capsys):
    out = tmp_path / "tok"
    sample = tmp_path / "sample.txt"
    sample.write_text((data_dir / "tinyshakespeare.txt").read_text()[:50_000])
    main(["tokenize", "train", "--corpus", str(sample), "--vocab-size", "400", "--out", str(out)])
    ids_path = tmp_path / "ids.npy"
    assert main(["tokenize", "encode", "--tokenizer", str(out), "--file", str(sample),
                 "--out", str(ids_path)]) == 0
    ids = np.load(ids_path)
    assert ids.dtype == np.uint16
    assert ids.tolist() == Tokenizer.load(out).encode(sample.read_text())
    capsys.readouterr()
    assert main(["tokenize", "decode", "--tokenizer", str(out), "--file", str(ids_path)]) == 0
    assert capsys.readouterr().out == sample.read_text() + "\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tokenize", "train", "--corpus", "/no/such.txt", "--vocab-size", "300", "--out", "x"],
         "Corpus file not found: '/no/such.txt'"),
        (["tokenize", "train", "--corpus", "{corpus}", "--vocab-size", "100", "--out", "x"],
         "--vocab-size 100 is too small"),
        (["tokenize", "decode", "--tokenizer", "{tok}", "--ids", "5000"], "Token id 5000 at position 0"),
        (["tokenize", "encode", "--tokenizer", "{tok}", "--text", "a<|endoftext|>"],
         "special token '<|endoftext|>'"),
        (["tokenize", "encode", "--tokenizer", "/no/tok", "--text", "a"], "No saved tokenizer"),
        (["data", "path", "nope"], "Unknown corpus 'nope'"),
        (["tokenize", "train", "--type", "char", "--corpus", "{corpus}", "--special", "<s>",
          "--out", "x"], "--special works with --type byte-bpe only"),
        (["tokenize", "train", "--type", "word-bpe", "--corpus", "{corpus}", "--out", "x"],
         "needs --vocab-size"),
        # Library errors are said in the command's words: the option the user typed, not the
        # Python argument behind it.
        (["tokenize", "train", "--corpus", "{latin1}", "--vocab-size", "300", "--out", "x"],
         "--corpus {latin1} is not UTF-8 text (byte 0xe9 at offset 3)"),
        (["data", "clean", "{latin1}", "{out}"], "or pass --encoding-errors replace to read"),
        (["train", "--data", "{corpus}", "--out", "{out}", "--steps", "100"],
         "--steps 100 is not a multiple of --eval-interval 250"),
        (["train", "--data", "{corpus}", "--out", "{out}", "--batch-size", "100000"],
         "reads --eval-batches 20 batches of --batch-size 100000 windows (2,000,000 windows)"),
        (["train", "--out", "{run}", "--resume", "--batch-size", "4"],
         "--batch-size 4 differs from the run's --batch-size 12"),
        (["generate", "--checkpoint", "{out}", "--prompt", "a", "--top-k", "0"],
         "--top-k 0 is not a number of likeliest tokens to keep: give an integer >= 1, or leave "
         "--top-k out"),
    ],
)
def test_bad_input_is_one_plain_error_line(argv, message, tmp_path, data_dir, capsys):
    tok = tmp_path / "tok"
    ByteLevelBPETokenizer.train("hello world " * 20, 260, ["<|endoftext|>"]).save(tok)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 bad\n".encode("latin-1"))
    run = tmp_path / "run"  # a run started from the preset's settings, to resume
    run.mkdir()
    (run / "run.json").write_text('{"preset": "shakespeare-char-cpu", "data": "x", '
                                  '"tokenizer": null, "training": {}, "model": {}}')
    names = dict(corpus=data_dir / "tinyshakespeare.txt", tok=tok, latin1=latin1,
                 out=tmp_path / "out", run=run)
    argv = [a.format(**names) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # (after a progress bar, if the command showed one)
    assert last.startswith("llm-keras: error: ") and message.format(**names) in last
    assert "Traceback" not in err


def test_data_path_and_clean(tmp_path, data_dir, capsys):
    assert main(["data", "path", "tiny_shakespeare", "--path", str(data_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(data_dir / "tinyshakespeare.txt")
    raw = tmp_path / "raw.txt"
    raw.write_text("a\n\nb\na\n  \nccc\n")
    assert main(["data", "clean", str(raw), str(tmp_path / "clean.txt")]) == 0
    assert (tmp_path / "clean.txt").read_text() == "a\nb\nccc\n"
    out = capsys.readouterr().out
    assert "kept 3 of 6 documents" in out
