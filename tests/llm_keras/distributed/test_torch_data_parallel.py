"""torch.distributed on PyTorch: two gloo workers on 127.0.0.1 that average their gradients
around the Keras model."""

import os
import signal
import subprocess
import time
from pathlib import Path

import keras
import pytest

from tests.conftest import REPO
from tests.llm_keras.distributed.conftest import (
    CLI_RUN,
    WORKER_TIMEOUT,
    check_a_killed_worker_resumes,
    check_resume_with_another_layout_is_refused,
    check_two_workers_follow_one_device,
    check_workers_resume_past_a_damaged_checkpoint,
    child_env,
    program,
    wait_for,
)

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="torch.distributed training needs the PyTorch backend; JAX uses keras.distribution "
    "(test_keras_distribution.py), TensorFlow tf.distribute (test_tf_strategies.py)",
)


def test_two_workers_stop_agree_and_follow_one_device(two_workers, one_device):
    check_two_workers_follow_one_device(two_workers, one_device)


def test_a_killed_worker_resumes_to_the_uninterrupted_run(data_file, tmp_path, two_workers):
    # Resumed with --devices 2: the same two-process loop, worker 1 started by worker 0.
    check_a_killed_worker_resumes(data_file, tmp_path, two_workers, [["--devices", "2"]])


def test_resume_with_another_number_of_workers_is_refused(two_workers, capsys):
    check_resume_with_another_layout_is_refused(two_workers, capsys)


def test_workers_resume_past_a_damaged_checkpoint(tmp_path, two_workers):
    check_workers_resume_past_a_damaged_checkpoint(tmp_path, two_workers)


def _children(pid):
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _exited(pid):
    """Whether process ``pid`` (not a child of this one) has exited (gone, or a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_devices_workers_name_the_devices_command_when_worker_0_dies(data_file, tmp_path):
    # `--devices 2`: worker 0 (the command) pauses after the step-5 checkpoint, worker 1 (which
    # it started) waits for it in step 6's all-reduce; worker 0 is killed. Worker 1's message
    # names the command the user typed (--devices 2), not the --workers list it was given.
    out, release = tmp_path / "run", tmp_path / "release"
    stdout, stderr = tmp_path / "out.txt", tmp_path / "err.txt"
    command = program("train_pausing_after_first_checkpoint", release, "--data", data_file,
                      "--out", out, *CLI_RUN, "--distribution", "data", "--devices", 2)  # fmt: skip
    with stdout.open("w") as o, stderr.open("w") as e:
        worker_0 = subprocess.Popen(command, cwd=REPO, env=child_env(), stdout=o, stderr=e)
    wait_for((out / "checkpoints" / "step-00000005.npz").is_file, [worker_0],
             "worker 0's first checkpoint")  # fmt: skip
    [worker_1] = _children(worker_0.pid)
    worker_0.send_signal(signal.SIGKILL)
    assert worker_0.wait() == -signal.SIGKILL
    deadline = time.monotonic() + WORKER_TIMEOUT
    while not _exited(worker_1):
        if time.monotonic() > deadline:
            os.kill(worker_1, signal.SIGKILL)
            pytest.fail(f"worker 1 did not stop after losing worker 0: {stderr.read_text()}")
        time.sleep(0.05)
    error = stderr.read_text()
    assert "Traceback" not in error
    [message] = [line for line in error.splitlines() if line.startswith("llm-keras: error:")]
    assert message.startswith("llm-keras: error: worker 1: another worker stopped"), message
    assert f"{out} keeps the checkpoint of step 5 (step-00000005.npz)" in message
    assert f"`llm-keras train --out {out} --resume --distribution data --devices 2`" in message
    assert "--workers" not in message
