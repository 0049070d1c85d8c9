"""Each worker's rows of a batch: together they are the one-device batch."""

import numpy as np
import pytest

from llm_keras.data.windows import random_batch
from llm_keras.distributed.worker_loop import local_workers, parse_workers, worker_batch


def test_the_workers_rows_make_the_global_batch():
    ids = np.arange(500, dtype=np.int32)
    inputs, targets = random_batch(ids, 12, 8, seed=5, step=7)
    parts = [worker_batch(ids, 12, 8, 5, 7, index, 3) for index in range(3)]
    assert all(part[0].shape == (4, 8) for part in parts)
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), inputs)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), targets)


def test_bad_worker_settings_are_named():
    with pytest.raises(
        ValueError, match="batch_size=10 is not divisible by the 4 devices of the workers"
    ):
        worker_batch(np.arange(100), 10, 8, 0, 0, 0, 4)
    with pytest.raises(ValueError, match="'127.0.0.1' is not host:port"):
        parse_workers("127.0.0.1,127.0.0.1:5")
    assert parse_workers(" a:1, b:2 ") == ["a:1", "b:2"]


def test_local_workers_are_distinct_free_ports():
    workers = parse_workers(local_workers(3))
    assert len(set(workers)) == 3 and all(w.startswith("127.0.0.1:") for w in workers)
