"""tf.distribute on TensorFlow: MirroredStrategy with model.fit on two logical CPUs, and two
MultiWorkerMirroredStrategy workers on 127.0.0.1 with the strategy.run loop."""

import keras
import numpy as np
import pytest

from tests.llm_keras.distributed.conftest import (
    check_a_killed_worker_resumes,
    check_two_workers_follow_one_device,
    run_program,
)
from tests.llm_keras.distributed.programs import STEPS

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute strategies need the TensorFlow backend; JAX uses keras.distribution "
    "(test_keras_distribution.py), PyTorch torch.distributed (test_torch_data_parallel.py)",
)

LOSS_TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def mirrored():
    """One child process with 2 logical CPUs: one device and MirroredStrategy, clipping off/on."""
    return run_program("tf_mirrored")


def test_mirrored_strategy_follows_the_one_device_run(mirrored):
    result = mirrored
    assert result["replicas"] == 2
    assert result["mirrored"] == [2]  # every variable has a copy on each logical CPU
    unclipped = result["clip 0.0"]
    assert len(unclipped["one"]) == len(unclipped["two"]) == STEPS
    np.testing.assert_allclose(unclipped["two"], unclipped["one"], atol=LOSS_TOLERANCE)
    assert unclipped["weights"] < 1e-5


def test_mirrored_strategy_clips_each_replica_before_the_sum(mirrored):
    # Keras 3.15.1 clips each replica's gradient, then sums (docs/distributed.md): with clipping
    # active the two runs part slightly. If they become equal, Keras has fixed it: update the docs.
    result = mirrored
    one, two = result["clip 1.0"]["one"], result["clip 1.0"]["two"]
    assert not np.allclose(one, result["clip 0.0"]["one"], atol=1e-4)  # clipping was active
    assert 5 * LOSS_TOLERANCE < np.max(np.abs(np.subtract(one, two))) < 1e-3


def test_two_workers_stop_agree_and_follow_one_device(two_workers, one_device):
    check_two_workers_follow_one_device(two_workers, one_device)


def test_a_killed_worker_resumes_to_the_uninterrupted_run(data_file, tmp_path, two_workers):
    check_a_killed_worker_resumes(data_file, tmp_path, two_workers)
