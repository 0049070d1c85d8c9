"""`llm-keras train --data DIR_OF_SHARDS`: the shards' tokenizer, the manifest's digest in
run.json, a resumed run equal to the uninterrupted one bit for bit, changed shards refused."""

import hashlib
import json
import math
import shutil

import numpy as np
import pytest

from llm_keras.data.shards import ShardedTokens, write_shards
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from llm_keras.training.command import main

TINY = ["--context-length", "16", "--n-layers", "1", "--d-model", "32", "--n-heads", "2",
        "--batch-size", "8", "--eval-batches", "2", "--warmup-steps", "5", "--quiet",
        "--sample-tokens", "0", "--eval-interval", "20"]  # fmt: skip
STEPS = 40


@pytest.fixture(scope="module")
def shards(tmp_path_factory, tiny_shakespeare):
    text = tiny_shakespeare[:20_000]
    out = tmp_path_factory.mktemp("shards")
    write_shards(text.split("\n\n"), CharTokenizer.train(text), out, shard_tokens=3000,
                 progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory, shards):
    out = tmp_path_factory.mktemp("runs") / "whole"
    assert main(["--data", str(shards), "--out", str(out), "--steps", str(STEPS), *TINY]) == 0
    return out


def test_a_run_resumed_from_shards_repeats_the_uninterrupted_run(tmp_path, shards, whole_run):
    run = json.loads((whole_run / "run.json").read_text())
    assert run["data"] == str(shards.resolve())
    assert run["data_sha256"] == hashlib.sha256((shards / "manifest.json").read_bytes()).hexdigest()
    name = "tokenizer/llm_keras_tokenizer.json"
    assert (whole_run / name).read_bytes() == (shards / name).read_bytes()
    whole = np.load(latest_checkpoint(whole_run))
    history = json.loads(str(whole["state"]))["history"]["evaluations"]
    vocab_size = json.loads((shards / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    assert history[-1]["val_loss"] < math.log(vocab_size) - 0.3  # it learnt from the shards

    # The run as it was when stopped at step 20: its last checkpoint gone, then resumed.
    cut = tmp_path / "cut"
    shutil.copytree(whole_run, cut)
    list_checkpoints(cut)[-1].unlink()
    assert latest_checkpoint(cut).name == "step-00000020.npz"
    assert main(["--out", str(cut), "--resume"]) == 0
    after = np.load(latest_checkpoint(cut))
    assert latest_checkpoint(cut).name == f"step-{STEPS:08d}.npz"
    for name in whole.files:  # bit for bit: weights, optimizer state, step
        if name != "state":
            np.testing.assert_array_equal(whole[name], after[name], err_msg=name)
    resumed = json.loads(str(after["state"]))["history"]["evaluations"]
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in history]


def test_resume_refuses_changed_shards(tmp_path, tiny_shakespeare, shards, whole_run, capsys):
    moved = tmp_path / "shards"
    shutil.copytree(shards, moved)
    run = tmp_path / "run"
    shutil.copytree(whole_run, run)
    saved = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**saved, "data": str(moved)}))

    # A shard altered in place (its manifest unchanged): the checksum names it.
    path = moved / "shard-00002.bin"
    data = path.read_bytes()
    path.write_bytes(data[:2000] + bytes([data[2000] ^ 1]) + data[2001:])
    assert main(["--out", str(run), "--resume"]) == 2
    assert "shard-00002.bin changed since its manifest was written" in capsys.readouterr().err

    # The shards written again (another size): the manifest's digest differs from run.json's.
    text = tiny_shakespeare[:20_000]
    write_shards(text.split("\n\n"), CharTokenizer.train(text), moved, shard_tokens=5000,
                 progress=False)  # fmt: skip
    assert main(["--out", str(run), "--resume"]) == 2
    assert "changed since the run" in capsys.readouterr().err
    assert len(ShardedTokens(moved, "all")) == len(ShardedTokens(shards, "all"))


def test_a_tokenizer_other_than_the_shards_is_refused(tmp_path, shards, capsys):
    CharTokenizer.train("abc\n").save(tmp_path / "other")
    args = ["--data", str(shards), "--out", str(tmp_path / "run"), "--steps", "20", *TINY]
    assert main([*args, "--tokenizer", str(tmp_path / "other")]) == 2
    message = capsys.readouterr().err
    assert f"--tokenizer {tmp_path / 'other'} is not the tokenizer the shards" in message
    assert not (tmp_path / "run" / "checkpoints").exists()
