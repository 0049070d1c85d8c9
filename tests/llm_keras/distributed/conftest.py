"""Shared pieces of the parallel-training tests: child processes with devices of their own.

Each multi-device case runs in a fresh process (``programs.py``), since the number of devices
is fixed when a backend starts. Multi-worker cases start every worker on 127.0.0.1 with free
ports; each worker must stop by itself within ``WORKER_TIMEOUT`` seconds, or the test kills them
all and fails.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest

from llm_keras.distributed.worker_loop import local_workers
from tests.conftest import REPO

if keras.backend.backend() == "torch":  # as tests/llm_keras/training/conftest.py says why
    import torch

    torch.set_num_threads(1)

WORKER_TIMEOUT = 300  # seconds; a busy 2-core machine can take a minute to start two backends


def child_env(devices=None, **extra):
    """The environment of a child process: this backend, one thread per op pool, and for JAX
    ``devices`` CPU devices."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **extra}
    env.pop("TF_CONFIG", None)
    if devices is not None:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def run_together(commands, env, timeout=WORKER_TIMEOUT):
    """Start every command at once and wait for all: ``[(returncode, stdout, stderr), ...]``.

    ``env`` is one environment for all, or a list with one per command. Fails the test (after
    killing them) if any is still running after ``timeout`` seconds. The outputs go to files, so
    that no worker blocks on a full pipe while another waits for it.
    """
    envs = env if isinstance(env, list) else [env] * len(commands)
    with tempfile.TemporaryDirectory() as folder:
        outputs = [
            (Path(folder) / f"{i}.out", Path(folder) / f"{i}.err") for i in range(len(commands))
        ]
        processes = []
        for command, command_env, (out, err) in zip(commands, envs, outputs, strict=True):
            with out.open("w") as stdout, err.open("w") as stderr:
                processes.append(
                    subprocess.Popen(
                        command, cwd=REPO, env=command_env, stdout=stdout, stderr=stderr
                    )
                )
        deadline = time.monotonic() + timeout
        try:
            for process in processes:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            for process in processes:
                process.kill()
                process.wait()
            errors = " | ".join(err.read_text()[-1500:] for _, err in outputs)
            pytest.fail(f"The workers did not stop by themselves within {timeout} s: {errors}")
        return [
            (process.returncode, out.read_text(), err.read_text())
            for process, (out, err) in zip(processes, outputs, strict=True)
        ]


def program(name, *args):
    """The command that runs ``programs.NAME(*args)`` in a child process."""
    return [sys.executable, "-m", "tests.llm_keras.distributed.programs", name, *map(str, args)]


def run_program(name, *args, devices=None, timeout=WORKER_TIMEOUT):
    """Run ``programs.NAME(*args)`` in a child process; returns its ``RESULT`` json."""
    [(code, stdout, stderr)] = run_together([program(name, *args)], child_env(devices), timeout)
    return program_result(code, stdout, stderr)


def program_result(code, stdout, stderr):
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert code == 0 and lines, f"exit {code}: {stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


# A tiny run of `llm-keras train`: 10 steps, a line of training loss every 5. TensorFlow's
# strategies clip each replica's gradient before the sum (docs/distributed.md), so its parallel
# runs are compared with the one-device run without clipping.
CLI_RUN = ["--context-length", "16", "--n-layers", "1", "--d-model", "32", "--n-heads", "2",
           "--batch-size", "8", "--eval-batches", "2", "--warmup-steps", "2", "--steps", "10",
           "--eval-interval", "5", "--sample-tokens", "0", "--seed", "3", "--quiet",
           *(["--grad-clip", "0"] if keras.backend.backend() == "tensorflow" else [])]  # fmt: skip
LOSS_LINE = re.compile(r"step (\d+): training loss (\d+\.\d+)")
DONE_LINE = re.compile(r"Done: step (\d+), validation loss (\d+\.\d+)")


@pytest.fixture(scope="session")
def one_device(data_file, tmp_path_factory):
    """``llm-keras train`` on one device, in this process: the per-interval training losses and
    the final validation loss, read from its last checkpoint."""
    from llm_keras.training.checkpoint import latest_checkpoint
    from llm_keras.training.command import main

    out = tmp_path_factory.mktemp("one_device")
    assert main(["--data", str(data_file), "--out", str(out), *CLI_RUN]) == 0
    with np.load(latest_checkpoint(out)) as archive:
        evaluations = json.loads(str(archive["state"]))["history"]["evaluations"]
    return [(r["step"], r["train_loss"]) for r in evaluations], evaluations[-1]["val_loss"]


def two_cli_workers(data_file, out):
    """Two ``llm-keras train --workers`` processes on 127.0.0.1: each one's ``(step, loss)``
    lines, and worker 0's final validation loss."""
    workers = local_workers(2)
    commands = [
        [sys.executable, "-m", "llm_keras.training.command", "--data", str(data_file), "--out",
         str(out), *CLI_RUN, "--distribution", "data", "--workers", workers, "--worker-index",
         str(index)]
        for index in range(2)
    ]  # fmt: skip
    results = run_together(commands, child_env())
    for code, _, stderr in results:
        assert code == 0, stderr[-3000:]
    losses = [
        [(int(step), float(loss)) for step, loss in LOSS_LINE.findall(stdout)]
        for _, stdout, _ in results
    ]
    [(step, val_loss)] = DONE_LINE.findall(results[0][1])
    assert step == "10"
    return losses, float(val_loss)


@pytest.fixture(scope="session")
def two_workers(data_file, tmp_path_factory, request):
    """Two uninterrupted ``llm-keras train --workers`` processes (``two_cli_workers``), run
    while this process trains the one-device run if no test has yet: ``(losses, val_loss,
    run directory)``."""
    out = tmp_path_factory.mktemp("two_workers") / "run"
    with ThreadPoolExecutor(1) as pool:
        workers = pool.submit(two_cli_workers, data_file, out)
        request.getfixturevalue("one_device")
        losses, val_loss = workers.result()
    return losses, val_loss, out


def check_two_workers_follow_one_device(two_workers, one_device):
    """Both workers stop by themselves, print the same losses, and follow the one-device run
    (the printed losses have 4 decimals)."""
    (first, second), val_loss, out = two_workers
    assert [step for step, _ in first] == [5, 10]
    assert first == second
    expected, expected_val = one_device
    assert [step for step, _ in expected] == [5, 10]
    np.testing.assert_allclose([loss for _, loss in first], [loss for _, loss in expected],
                               atol=2e-4)  # fmt: skip
    np.testing.assert_allclose(val_loss, expected_val, atol=2e-4)
    assert first[1][1] < first[0][1]  # it learned
    from llm_keras.training.run_directory import load_for_inference

    model, tokenizer = load_for_inference(out)  # written by worker 0
    assert model.config.d_model == 32 and tokenizer.vocab_size == model.config.vocab_size
    kept = sorted(path.name for path in (out / "checkpoints").iterdir())
    assert kept == ["step-00000005.npz", "step-00000010.npz"]  # worker 0's, every interval


def wait_for(condition, processes, what, timeout=WORKER_TIMEOUT):
    """Poll ``condition()`` until it holds; fail (killing ``processes``) if one of them exits
    first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        exited = [p.args for p in processes if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            for process in processes:
                process.kill()
                process.wait()
            pytest.fail(f"{what}: never happened ({'exited: ' if exited else 'timed out'})")
        time.sleep(0.05)


def check_a_killed_worker_resumes(data_file, tmp_path, two_workers, resume_options=None):
    """Two ``--workers`` processes pause after the first checkpoint (step 5 of 10,
    ``programs.train_pausing_after_first_checkpoint``); worker 1 is killed (SIGKILL). Worker 0
    fails with a message that says how to resume, keeping step 5; started again with
    ``--resume`` (two ``--workers``, or ``resume_options``), the run ends on the uninterrupted
    run's losses and, bit for bit, on its weights and optimizer state."""
    import signal

    out, release = tmp_path / "killed", tmp_path / "release"
    workers = local_workers(2)
    commands = [
        program("train_pausing_after_first_checkpoint", release, "--data", data_file, "--out",
                out, *CLI_RUN, "--distribution", "data", "--workers", workers, "--worker-index",
                index)
        for index in range(2)
    ]  # fmt: skip
    logs = [(tmp_path / f"{i}.out", tmp_path / f"{i}.err") for i in range(2)]
    processes = []
    for command, (stdout, stderr) in zip(commands, logs, strict=True):
        with stdout.open("w") as o, stderr.open("w") as e:
            processes.append(subprocess.Popen(command, cwd=REPO, env=child_env(), stdout=o,
                                              stderr=e))  # fmt: skip
    first_checkpoint = out / "checkpoints" / "step-00000005.npz"
    wait_for(first_checkpoint.is_file, processes, "worker 0's first checkpoint")
    processes[1].send_signal(signal.SIGKILL)
    assert processes[1].wait() == -signal.SIGKILL
    release.touch()  # worker 0 goes on to step 6, without its peer
    try:
        processes[0].wait(timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        processes[0].kill()
        pytest.fail(f"worker 0 did not stop after losing worker 1: {logs[0][1].read_text()}")
    error = logs[0][1].read_text()
    assert processes[0].returncode == 2, error[-3000:]
    assert "Traceback" not in error
    [message] = [line for line in error.splitlines() if line.startswith("llm-keras: error:")]
    assert "another worker stopped or cannot be reached" in message
    assert f"{out} keeps the checkpoint of step 5 (step-00000005.npz)" in message
    assert f"llm-keras train --out {out} --resume --distribution data --workers {workers} " \
           "--worker-index 0" in message  # fmt: skip
    assert not (out / "checkpoints" / "step-00000010.npz").exists()

    stdout = resume_workers(out, resume_options)[0]
    check_resumed_as_uninterrupted(stdout, out, two_workers)


def resume_workers(out, resume_options=None):
    """The run in ``out`` resumed by two ``--workers`` processes on new ports (or one process
    per entry of ``resume_options``); each must exit 0. Returns their outputs."""
    new_workers = local_workers(2)  # (one list for both)
    again = resume_options or [["--workers", new_workers, "--worker-index", str(i)]
                               for i in range(2)]  # fmt: skip
    results = run_together(
        [[sys.executable, "-m", "llm_keras.training.command", "--out", str(out), "--resume",
          "--quiet", "--distribution", "data", *options] for options in again],
        child_env(),
    )  # fmt: skip
    for code, _, stderr in results:
        assert code == 0, stderr[-3000:]
    return [stdout for _, stdout, _ in results]


def check_resumed_as_uninterrupted(stdout, out, two_workers):
    """Worker 0's output ``stdout`` resumed the run in ``out`` from step 5 and ended on the
    uninterrupted run's losses and, bit for bit, on its weights and optimizer state."""
    assert "Resuming from step 5 (step-00000005.npz)." in stdout
    (expected, _), expected_val, uninterrupted = two_workers
    assert [(int(s), float(v)) for s, v in LOSS_LINE.findall(stdout)][-1] == expected[-1]
    [(step, val_loss)] = DONE_LINE.findall(stdout)
    assert (step, float(val_loss)) == ("10", expected_val)
    with (
        np.load(out / "checkpoints" / "step-00000010.npz") as resumed,
        np.load(uninterrupted / "checkpoints" / "step-00000010.npz") as whole,
    ):
        arrays = [name for name in whole.files if name != "state"]
        assert sorted(resumed.files) == sorted(whole.files) and len(arrays) > 20
        for name in arrays:  # weights, Adam's moments, the step counter: bit for bit
            np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)
        history = json.loads(str(resumed["state"]))["history"]
        assert [r["step"] for r in history["evaluations"]] == [5, 10]  # kept across the kill


def check_resume_with_another_layout_is_refused(two_workers, capsys):
    """The two-worker run resumed by 3 workers, by one process, or on other devices: refused
    before any backend work, with one line that names what the run used and the fix."""
    from llm_keras.training.command import main

    _, _, out = two_workers  # (nothing is written there: each command stops at its settings)
    before = sorted(path.name for path in (out / "checkpoints").iterdir())
    three = local_workers(3)
    cases = [
        (["--distribution", "data", "--workers", three, "--worker-index", "0"],
         "this command asks for --workers of 3 addresses (3 processes)"),
        ([], "this command asks for one device (no --distribution)"),
        (["--distribution", "data", "--devices", "3"],
         "this command asks for --distribution data --devices 3"),
    ]  # fmt: skip
    if keras.backend.backend() != "torch":  # (on PyTorch, --devices 2 is two worker processes)
        cases.append((["--distribution", "data", "--devices", "2"],
                      "this command asks for --distribution data --devices 2"))  # fmt: skip
    for options, asked in cases:
        assert main(["--out", str(out), "--resume", "--quiet", *options]) == 2, options
        error = capsys.readouterr().err
        assert "Traceback" not in error
        [line] = error.strip().splitlines()
        assert line.startswith(f"llm-keras: error: --resume: the run in {out} trained on "
                               "--workers of 2 addresses (2 processes), and "), line  # fmt: skip
        assert asked in line, line
        assert line.endswith("start every worker again with --resume and --workers of 2 "
                             "addresses (new ports are fine)."), line  # fmt: skip
    assert sorted(path.name for path in (out / "checkpoints").iterdir()) == before


def check_workers_resume_past_a_damaged_checkpoint(tmp_path, two_workers):
    """The uninterrupted two-worker run, its newest checkpoint (step 10) cut in half: two
    workers resumed set it aside, say so, go on from step 5 and end on the uninterrupted run,
    bit for bit (the single-process fallback, ``restore_latest_intact``, run by worker 0)."""
    import shutil

    out = tmp_path / "damaged"
    shutil.copytree(two_workers[2], out)
    newest = out / "checkpoints" / "step-00000010.npz"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    first, second = resume_workers(out)
    assert f"Checkpoint {newest} is damaged (" in first
    assert "set aside as step-00000010.npz.damaged." in first
    assert "worker 1: Resuming from step 5 (worker 0's checkpoint)." in second
    assert (out / "checkpoints" / "step-00000010.npz.damaged").is_file()
    check_resumed_as_uninterrupted(first, out, two_workers)
