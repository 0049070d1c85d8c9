"""`llm-keras train`: outputs, clear errors, and a run killed with SIGKILL that resumes exactly."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from llm_keras.training.command import main
from llm_keras.training.run_directory import load_for_inference
from tests.llm_keras.conftest import TINY_TRAIN_ARGS


def train_args(data_file, out, steps, *more):
    return ["--data", str(data_file), "--out", str(out), "--steps", str(steps), *TINY_TRAIN_ARGS,
            *more]  # fmt: skip


def command(*args):
    """``llm-keras train ARGS`` in a new process, as a user starts it."""
    return [sys.executable, "-m", "llm_keras.training.command", *args]


CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # as this process's PyTorch (conftest)


def signal_at_the_first_checkpoint(runs, timeout=600):
    """Send each of ``runs``, ``[(run directory, process, signal)]``, its signal as soon as its
    directory has a checkpoint (a busy machine can take minutes to start and compile). Returns,
    for each, whether it had one and still ran when signalled."""
    sent = [None] * len(runs)
    deadline = time.monotonic() + timeout
    while None in sent and time.monotonic() < deadline:
        for i, (out, process, number) in enumerate(runs):
            if sent[i] is None and (list_checkpoints(out) or process.poll() is not None):
                sent[i] = process.poll() is None
                if sent[i]:
                    process.send_signal(number)
        time.sleep(0.01)
    return [bool(s) for s in sent]


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, data_file):
    steps, interval = 80, 10
    args = ["--eval-interval", str(interval), "--sample-tokens", "0"]
    out = tmp_path / "killed"
    killed = command(*train_args(data_file, out, steps, *args))
    process = subprocess.Popen(killed, env=CHILD_ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip

    def kill_at_the_first_checkpoint():
        [running] = signal_at_the_first_checkpoint([(out, process, signal.SIGKILL)])
        process.kill()  # (if it had no checkpoint after 10 minutes)
        process.wait()
        return running

    # The uninterrupted run trains here while the other process starts and is killed.
    with ThreadPoolExecutor(1) as pool:
        killer = pool.submit(kill_at_the_first_checkpoint)
        assert main(train_args(data_file, tmp_path / "whole", steps, *args)) == 0
        assert killer.result(), process.stderr.read().decode()[-2000:]
    process.stderr.close()

    # Whatever was written is whole: every checkpoint loads, and so does model.keras.
    saved = list_checkpoints(out)
    assert saved and saved[-1].name != f"step-{steps:08d}.npz"
    for checkpoint in saved:
        with np.load(checkpoint) as archive:
            assert "state" in archive.files and all(archive[n].size for n in archive.files)
    if (out / "model.keras").exists():
        load_for_inference(out)

    resumed = subprocess.run([*killed, "--resume"], env=CHILD_ENV, capture_output=True,
                             text=True, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = np.load(latest_checkpoint(tmp_path / "whole"))
    after = np.load(latest_checkpoint(out))
    assert latest_checkpoint(out).name == f"step-{steps:08d}.npz"
    for name in whole.files:  # bit for bit: weights, optimizer state, step
        if name != "state":
            np.testing.assert_array_equal(whole[name], after[name], err_msg=name)
    history = [json.loads(str(a["state"]))["history"]["evaluations"] for a in (whole, after)]
    assert [r["val_loss"] for r in history[0]] == [r["val_loss"] for r in history[1]]
    assert len(history[1]) == steps // interval  # the curve covers the whole run


def test_outputs_of_a_run(trained_run, data_file):
    out, printed = trained_run
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


SIGNALS = {"Ctrl-C": signal.SIGINT, "SIGTERM": signal.SIGTERM}


@pytest.fixture(scope="module")
def stopped_runs(tmp_path_factory, data_file):
    """Two runs started at once as a shell starts a background job, with SIGINT ignored (Python
    then leaves it ignored unless the command sets its own handlers; JAX runs went on to "Done"
    before), each sent its signal after its first checkpoint: ``{name: (its directory, exit
    code, stdout, stderr)}``. Their outputs go to files, so that neither blocks on a full pipe."""
    interval = 10
    runs = {}
    for name in SIGNALS:
        folder = tmp_path_factory.mktemp("stopped")
        args = train_args(data_file, folder / "run", 100_000, "--eval-interval", str(interval),
                          "--sample-tokens", "0")  # fmt: skip
        ignoring = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child inherits it
        try:
            with open(folder / "stdout", "w") as stdout, open(folder / "stderr", "w") as stderr:
                process = subprocess.Popen(command(*args), env=CHILD_ENV, stdout=stdout,
                                           stderr=stderr)  # fmt: skip
        finally:
            signal.signal(signal.SIGINT, ignoring)
        runs[name] = folder, process
    sent = signal_at_the_first_checkpoint(
        [(folder / "run", process, SIGNALS[name]) for name, (folder, process) in runs.items()]
    )
    results = {}
    for running, (name, (folder, process)) in zip(sent, runs.items(), strict=True):
        try:
            process.wait(timeout=120)  # seconds, on a busy machine
            stopped = ""
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            stopped = f"\n(the run did not stop within 120 s of {name})"
        stdout, stderr = ((folder / f).read_text() for f in ("stdout", "stderr"))
        results[name] = (folder / "run", process.returncode if running else None, stdout,
                         stderr + stopped)  # fmt: skip
    return results


@pytest.mark.parametrize("name", SIGNALS)
def test_ctrl_c_or_sigterm_stops_a_run_and_says_what_it_keeps(stopped_runs, name):
    out, code, stdout, stderr = stopped_runs[name]
    assert code == 130, stderr[-2000:]
    kept = latest_checkpoint(out)
    step = int(kept.stem.split("-")[1])
    assert f"keeps the checkpoint of step {step} ({kept.name})" in stdout
    assert f"llm-keras train --out {out} --resume" in stdout
    assert "llm-keras: interrupted" in stderr and "Traceback" not in stderr


def test_output_to_a_file_is_one_line_per_interval(trained_run):
    _, out = trained_run  # printed without --quiet to something that is not a terminal
    assert "\r" not in out and "\x1b" not in out  # no bar redrawn in place
    intervals = [line for line in out.splitlines() if line.startswith("10/10 - ")]
    assert len(intervals) == 4, out[-2000:]
    assert len(out) < 5_000
