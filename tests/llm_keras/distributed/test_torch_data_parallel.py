"""torch.distributed on PyTorch: two gloo workers on 127.0.0.1 that average their gradients
around the Keras model."""

import keras
import pytest

from tests.llm_keras.distributed.conftest import (
    check_a_killed_worker_resumes,
    check_two_workers_follow_one_device,
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
