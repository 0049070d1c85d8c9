"""`llm-keras train --distribution data|model --devices N` (and --workers): a run on two devices
ends where the one-device run ends, on every backend, and options that cannot work are named."""

import sys
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from llm_keras.training.command import main
from tests.llm_keras.distributed.conftest import (
    CLI_RUN,
    DONE_LINE,
    LOSS_LINE,
    child_env,
    run_together,
)

BACKEND = keras.backend.backend()


def test_two_devices_end_where_one_device_ends(data_file, tmp_path, request):
    # JAX: tensor parallelism (data parallelism: test_keras_distribution.py); TensorFlow:
    # MirroredStrategy; PyTorch: two worker processes, the second started by the first.
    distribution = "model" if BACKEND == "jax" else "data"
    command = [sys.executable, "-m", "llm_keras.training.command", "--data", str(data_file),
               "--out", str(tmp_path / "two"), *CLI_RUN, "--distribution", distribution,
               "--devices", "2"]  # fmt: skip
    with ThreadPoolExecutor(1) as pool:  # the child trains while this process runs one device
        child = pool.submit(run_together, [command], child_env())
        one_device = request.getfixturevalue("one_device")
        [(code, stdout, stderr)] = child.result()
    assert code == 0, stderr[-3000:]
    if BACKEND == "torch":
        found = LOSS_LINE.findall(stdout)  # steps 5 and 10 from each worker, the same losses
        assert len(found) == 4 and len(set(found)) == 2
    else:
        assert f"--distribution {distribution} on 2 devices" in stdout
    [(step, val_loss)] = DONE_LINE.findall(stdout)
    _, expected = one_device
    assert step == "10"
    np.testing.assert_allclose(float(val_loss), expected, atol=2e-4)
    assert (tmp_path / "two" / "model.keras").is_file()


def errors():
    """(extra options, the message they give) on this backend."""
    cases = [
        (["--devices", "2"], "--devices needs --distribution data"),
        (["--distribution", "data"], "--distribution data needs --devices N"),
        (["--distribution", "data", "--workers", "a:1,b:2"], "--workers and --worker-index go"),
        (["--distribution", "data", "--workers", "a:1,b:2", "--worker-index", "2"],
         "worker index 2 is not one of the 2 workers"),
        (["--distribution", "data", "--devices", "2", "--workers", "a:1", "--worker-index", "0"],
         "not both"),
    ]  # fmt: skip
    if BACKEND == "jax":
        cases += [
            (["--distribution", "model", "--devices", "4"],
             "--n-heads 2 is not divisible by the 4 devices of the model axis"),
        ]  # fmt: skip
    else:
        cases.append(
            (["--distribution", "model", "--devices", "2"],
             f"needs the JAX backend in Keras 3.15, and this is KERAS_BACKEND={BACKEND}")
        )  # fmt: skip
    cases += [
        (["--distribution", "data", "--devices", "2", "--batch-size", "7"],
         "--batch-size 7 is not divisible by the 2 devices"),
        # --resume works in every parallel mode: here there is just nothing to resume.
        (["--distribution", "data", "--devices", "2", "--resume"], "there is no run to resume"),
        (["--distribution", "data", "--workers", "a:1,b:2", "--worker-index", "1", "--resume"],
         "there is no run to resume"),
    ]  # fmt: skip
    return cases


@pytest.mark.parametrize("options, message", errors())
def test_impossible_settings_are_named(tmp_path, data_file, capsys, options, message):
    args = ["--data", str(data_file), "--out", str(tmp_path / "run"), *CLI_RUN, *options]
    assert main(args) == 2
    assert message in capsys.readouterr().err
