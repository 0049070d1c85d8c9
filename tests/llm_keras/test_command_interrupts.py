"""Ctrl-C and SIGTERM sent to real runs of the long commands besides `llm-keras train` (whose
own test is in training/test_command.py) and `data curate` (data/test_pipeline.py): `sft`,
`reward`, `dpo`, `grpo`, `classify` and `tokenize train` stop within seconds of the signal, with
one line on stderr and no traceback; a training command says which checkpoint its run keeps and
the command that resumes it, and that command goes on from there; tokenizer training and
classify say that they wrote nothing (issue 17, item 1). Run per backend."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_keras.finetuning.tasks import get_task
from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from tests.llm_keras.finetuning.tiny_runs import save_base_run, save_chat_run
from tests.llm_keras.training.test_command import CHILD_ENV

LLM_KERAS = [str(Path(sys.executable).parent / "llm-keras")]  # as a user starts it
TASK = ["--task", "reverse", "--min-length", "2", "--max-length", "2"]
LONG = ["--steps", "100000", "--eval-interval", "2", "--quiet"]  # stopped long before its end
PAIRS = ["--pairs", "16", "--eval-pairs", "8", "--batch-size", "8"]
# command -> (its options after --base and --out, the signal sent to it)
COMMANDS = {
    "sft": (["--batch-size", "4", "--examples", "8", "--eval-n", "4"], signal.SIGINT),
    "reward": (PAIRS, signal.SIGTERM),
    "dpo": ([*PAIRS, "--eval-n", "4"], signal.SIGINT),
    "grpo": (["--group-size", "4", "--prompts-per-step", "2", "--eval-n", "2"], signal.SIGTERM),
}


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} after {seconds} s"
        time.sleep(0.02)


def stop_at_first_checkpoint(process, out, number):
    """Send ``number`` once ``out`` has a checkpoint (minutes on a busy machine: the process
    starts, compiles and runs its first interval); ``(exit code, seconds from signal to exit)``."""
    try:
        wait_until(lambda: list_checkpoints(out) or process.poll() is not None, 600,
                   f"no checkpoint in {out}")  # fmt: skip
        assert process.poll() is None, "the run ended before it was signalled"
        process.send_signal(number)
        sent = time.monotonic()
        code = process.wait(timeout=120)  # seconds on a busy machine; a few when idle
        return code, time.monotonic() - sent
    finally:
        process.kill()  # (if it still runs: the test failed)


@pytest.fixture(scope="module")
def stopped_runs(tmp_path_factory):
    """The four commands started at once on a tiny fine-tuned run, each signalled after its
    first checkpoint: ``{command: (run directory, exit code, seconds, stdout, stderr)}``."""
    root = tmp_path_factory.mktemp("stopped")
    base = save_base_run(root / "base")
    chat = save_chat_run(root / "chat", base, get_task("reverse", min_length=2).characters)
    started = {}
    for name, (options, _) in COMMANDS.items():
        out = root / name
        argv = [*LLM_KERAS, name, "--base", str(chat if name != "sft" else base), "--out",
                str(out), *TASK, *LONG, *options]  # fmt: skip
        with open(root / f"{name}.out", "w") as stdout, open(root / f"{name}.err", "w") as err:
            started[name] = out, subprocess.Popen(argv, env=CHILD_ENV, stdout=stdout, stderr=err)
    results = {}
    for name, (out, process) in started.items():
        code, seconds = stop_at_first_checkpoint(process, out, COMMANDS[name][1])
        results[name] = (out, code, seconds, (root / f"{name}.out").read_text(),
                         (root / f"{name}.err").read_text())  # fmt: skip
    return results


@pytest.mark.parametrize("name", COMMANDS)
def test_a_signal_stops_a_command_which_says_what_it_keeps(stopped_runs, name):
    out, code, seconds, stdout, stderr = stopped_runs[name]
    assert code == 130, stdout + stderr[-3000:]
    assert "llm-keras: interrupted" in stderr and "Traceback" not in stderr, stderr[-3000:]
    assert seconds < 60, f"{seconds:.1f} s from the signal to the end"
    kept = latest_checkpoint(out)
    assert f"Stopped. {out} keeps " in stdout and kept.name in stdout, stdout
    assert f"`llm-keras {name} --out {out} --resume`" in stdout, stdout


def test_the_command_it_names_goes_on_from_the_checkpoint(stopped_runs):
    """grpo's (its own loop, not Keras's fit); the modules' tests check that resumed runs
    equal whole ones, for every command."""
    name = "grpo"
    out = stopped_runs[name][0]
    kept = latest_checkpoint(out)
    logs = out.parent / f"{name}-resumed.out", out.parent / f"{name}-resumed.err"
    with open(logs[0], "w") as stdout, open(logs[1], "w") as stderr:
        resumed = subprocess.Popen([*LLM_KERAS, name, "--out", str(out), "--resume"],
                                   env=CHILD_ENV, stdout=stdout, stderr=stderr)  # fmt: skip
    # It runs on (a newer checkpoint appears); stopped again, as the first run was.
    code = stop_at_first_checkpoint_after(resumed, out, kept, logs[1])
    stdout, stderr = (log.read_text() for log in logs)
    assert code == 130 and "Traceback" not in stderr, stdout + stderr[-3000:]
    assert latest_checkpoint(out).name > kept.name


def stop_at_first_checkpoint_after(process, out, kept, stderr):
    """Ctrl-C once ``out`` has a checkpoint newer than ``kept``; the exit code."""
    try:
        wait_until(lambda: latest_checkpoint(out).name > kept.name or process.poll() is not None,
                   600, f"no checkpoint after {kept.name} in {out}")  # fmt: skip
        assert process.poll() is None, stderr.read_text()[-3000:]
        process.send_signal(signal.SIGINT)
        return process.wait(timeout=120)
    finally:
        process.kill()


def test_tokenizer_training_stops_and_says_it_wrote_nothing(tmp_path, data_dir):
    out = tmp_path / "tokenizer"
    argv = [*LLM_KERAS, "tokenize", "train", "--corpus", str(data_dir /
            "shakespeare_gutenberg.txt"), "--vocab-size", "50000", "--out", str(out)]  # fmt: skip
    with open(tmp_path / "out", "w") as stdout, open(tmp_path / "err", "w") as err:
        process = subprocess.Popen(argv, env=CHILD_ENV, stdout=stdout, stderr=err)
    try:
        # signalled while it merges (50,000 merges take about a minute here)
        wait_until(lambda: "BPE merges" in (tmp_path / "err").read_text()
                   or process.poll() is not None, 600, "no merge began")  # fmt: skip
        assert process.poll() is None, (tmp_path / "err").read_text()[-3000:]
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = process.wait(timeout=120)
    finally:
        process.kill()
    seconds = time.monotonic() - sent
    stdout, stderr = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert code == 130 and "Traceback" not in stderr, stdout + stderr[-3000:]
    assert "llm-keras: interrupted" in stderr
    assert f"Stopped before the tokenizer was trained: nothing was written to {out}" in stdout
    assert seconds < 60, f"{seconds:.1f} s from the signal to the end"
    assert not out.exists() or not any(out.iterdir())


def test_classify_stops_and_says_it_wrote_nothing(tmp_path):
    """classify keeps no checkpoints: stopped in its first epoch, it says so."""
    base = save_base_run(tmp_path / "base")
    out = tmp_path / "classifier"
    argv = [*LLM_KERAS, "classify", "--base", str(base), "--data", "letters", "--out", str(out),
            "--epochs", "1000", "--examples", "64", "--batch-size", "8", "--quiet"]  # fmt: skip
    logs = tmp_path / "out", tmp_path / "err"
    with open(logs[0], "w") as stdout, open(logs[1], "w") as stderr:
        process = subprocess.Popen(argv, env=CHILD_ENV, stdout=stdout, stderr=stderr)
    try:
        # signalled once its second epoch began (the first one's line is printed)
        wait_until(lambda: "Epoch 2/" in logs[0].read_text() or process.poll() is not None,
                   600, "no epoch began")  # fmt: skip
        assert process.poll() is None, logs[1].read_text()[-3000:]
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = process.wait(timeout=120)
    finally:
        process.kill()
    seconds = time.monotonic() - sent
    stdout, stderr = (log.read_text() for log in logs)
    assert code == 130 and "Traceback" not in stderr, stdout + stderr[-3000:]
    assert "llm-keras: interrupted" in stderr and seconds < 60, (seconds, stderr[-3000:])
    assert f"Stopped before the classifier was saved: nothing was written to {out}" in stdout
    assert not out.exists()
