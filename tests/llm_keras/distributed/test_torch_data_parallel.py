"""torch.distributed on PyTorch: two gloo workers on 127.0.0.1 that average their gradients
around the Keras model."""

import keras
import pytest

from tests.llm_keras.distributed.conftest import check_two_workers_follow_one_device

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="torch.distributed training needs the PyTorch backend; JAX uses keras.distribution "
    "(test_keras_distribution.py), TensorFlow tf.distribute (test_tf_strategies.py)",
)


def test_two_workers_stop_agree_and_follow_one_device(data_file, tmp_path, request):
    check_two_workers_follow_one_device(data_file, tmp_path, request)
