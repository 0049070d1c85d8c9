"""`llm-keras train`: outputs, clear errors, and a run killed with SIGKILL that resumes exactly."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from llm_keras.training.command import main
from llm_keras.training.run_directory import load_for_inference

TINY = ["--context-length", "16", "--n-layers", "1", "--d-model", "32", "--n-heads", "2",
        "--batch-size", "8", "--eval-batches", "2", "--warmup-steps", "5", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def data_file(tmp_path_factory, tiny_shakespeare):
    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text(tiny_shakespeare[:20_000], encoding="utf-8")
    return path


def train_args(data_file, out, steps, *more):
    return ["--data", str(data_file), "--out", str(out), "--steps", str(steps), *TINY, *more]


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, data_file):
    steps, interval = 240, 30
    common = ["--eval-interval", str(interval), "--sample-tokens", "0"]
    assert main(train_args(data_file, tmp_path / "whole", steps, *common)) == 0

    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as this process's PyTorch (conftest)
    command = [sys.executable, "-m", "llm_keras.training.command",
               *train_args(data_file, out, steps, *common)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = out / "checkpoints" / f"step-{interval:08d}.npz"
    deadline = time.monotonic() + 600  # a busy machine can take minutes to start and compile
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.exists() and process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()

    # Whatever was written is whole: every checkpoint loads, and so does model.keras.
    saved = list_checkpoints(out)
    assert saved and saved[-1].name != f"step-{steps:08d}.npz"
    for checkpoint in saved:
        with np.load(checkpoint) as archive:
            assert "state" in archive.files and all(archive[n].size for n in archive.files)
    if (out / "model.keras").exists():
        load_for_inference(out)

    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = np.load(latest_checkpoint(tmp_path / "whole"))
    after = np.load(latest_checkpoint(out))
    assert latest_checkpoint(out).name == f"step-{steps:08d}.npz"
    for name in whole.files:  # bit for bit: weights, optimizer state, step
        if name != "state":
            np.testing.assert_array_equal(whole[name], after[name], err_msg=name)
    import json

    history = [json.loads(str(a["state"]))["history"]["evaluations"] for a in (whole, after)]
    assert [r["val_loss"] for r in history[0]] == [r["val_loss"] for r in history[1]]
    assert len(history[1]) == steps // interval  # the curve covers the whole run


def test_outputs_of_a_run(tmp_path, data_file, capsys):
    out = tmp_path / "run"
    assert main(train_args(data_file, out, 40, "--eval-interval", "10", "--sample-tokens", "8",
                           "--keep-checkpoints", "2")) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "Done: step 40, validation loss" in printed
    assert [p.name for p in list_checkpoints(out)] == ["step-00000030.npz", "step-00000040.npz"]
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "samples.txt").read_text(encoding="utf-8").count("--- sample after step") == 4
    assert list((out / "logs" / "train").iterdir()) and list(
        (out / "logs" / "validation").iterdir()
    )
    model, tokenizer = load_for_inference(out)
    characters = len(set(data_file.read_text(encoding="utf-8")))  # 58 of TinyShakespeare's 65
    assert tokenizer.vocab_size == model.config.vocab_size == characters
    logits = model(np.array([tokenizer.encode("ROMEO:")]))
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "gpt3"], "Unknown preset 'gpt3'"),
        (["--batch-size", "20000"], "--batch-size 20000 is larger than the"),
        (
            ["--steps", "45", "--eval-interval", "10"],
            "--steps 45 is not a multiple of --eval-interval 10",
        ),
        (["--dtype-policy", "float8"], "Unknown --dtype-policy 'float8'"),
    ],
)
def test_bad_settings_are_named(tmp_path, data_file, capsys, args, message):
    assert main(train_args(data_file, tmp_path / "run", 20, "--eval-interval", "10", *args)) == 2
    assert message in capsys.readouterr().err


def test_resume_and_data_errors(tmp_path, data_file, capsys):
    assert main(["--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "no run to resume" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "x")]) == 2
    assert "nope.txt: no such file" in capsys.readouterr().err
    out = tmp_path / "run"
    assert (
        main(train_args(data_file, out, 10, "--eval-interval", "10", "--sample-tokens", "0")) == 0
    )
    capsys.readouterr()
    assert main(train_args(data_file, out, 10, "--eval-interval", "10")) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["--out", str(out), "--resume", "--batch-size", "4"]) == 2
    assert "--batch-size 4 differs from the run's --batch-size 8" in capsys.readouterr().err


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_a_run_and_says_what_it_keeps(tmp_path, data_file, number):
    # Started as a shell starts a background job: with SIGINT ignored. Python then leaves it
    # ignored unless the command sets its own handlers (JAX runs went on to "Done" before).
    out = tmp_path / "run"
    interval = 10
    command = [sys.executable, "-m", "llm_keras.training.command",
               *train_args(data_file, out, 100_000, "--eval-interval", str(interval),
                           "--sample-tokens", "0")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    first = out / "checkpoints" / f"step-{interval:08d}.npz"
    deadline = time.monotonic() + 600  # a busy machine can take minutes to start and compile
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.exists() and process.poll() is None, process.stderr.read()[-2000:]
    process.send_signal(number)
    try:
        stdout, stderr = process.communicate(timeout=120)  # seconds, on a busy machine
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{signal.Signals(number).name} did not stop the run within 120 s")
    assert process.returncode == 130, stderr[-2000:]
    kept = latest_checkpoint(out)
    step = int(kept.stem.split("-")[1])
    assert f"keeps the checkpoint of step {step} ({kept.name})" in stdout
    assert f"llm-keras train --out {out} --resume" in stdout
    assert "llm-keras: interrupted" in stderr and "Traceback" not in stderr


def test_output_to_a_file_is_one_line_per_interval(tmp_path, data_file, capsys):
    # No --quiet; pytest's captured stdout is not a terminal, like a redirect to a file.
    args = [a for a in train_args(data_file, tmp_path / "run", 30, "--eval-interval", "10",
                                  "--sample-tokens", "0") if a != "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out  # no bar redrawn in place
    intervals = [line for line in out.splitlines() if line.startswith("10/10 - ")]
    assert len(intervals) == 3, out[-2000:]
    assert len(out) < 5_000
