"""keras.distribution on JAX: data parallelism, Megatron-style tensor parallelism, several
processes (also through `llm-keras train --workers`, killed and resumed), and the errors of
layouts that cannot work.

Each multi-device case runs in a child process with its own CPU devices (``programs.py``); the
one-device runs it is compared with are plain ``model.fit`` runs of the same batches.
"""

import keras
import numpy as np
import pytest

from llm_keras.distributed.worker_loop import local_workers
from tests.llm_keras.distributed.conftest import (
    check_a_killed_worker_resumes,
    check_resume_with_another_layout_is_refused,
    check_two_workers_follow_one_device,
    check_workers_resume_past_a_damaged_checkpoint,
    child_env,
    program,
    program_result,
    run_together,
)
from tests.llm_keras.distributed.programs import STEPS, TINY

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution is JAX-only in Keras 3.15 (TensorFlow: an unfinished DTensor "
    "prototype; PyTorch: none before 3.16); on TensorFlow see test_tf_strategies.py, on PyTorch "
    "test_torch_data_parallel.py",
)

# float32 sums in another order: the per-step losses agree to this.
LOSS_TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def children():
    """Three child processes at once: one with 4 CPU devices (one-device, data-parallel and
    tensor-parallel runs), and two JAX workers with one CPU device each."""
    workers = local_workers(2)
    commands = [program("jax_parallel"), *(program("jax_worker", workers, i) for i in range(2))]
    envs = [child_env(devices=4), child_env(devices=1), child_env(devices=1)]
    return [program_result(*result) for result in run_together(commands, envs)]


@pytest.fixture(scope="module")
def parallel(children):
    return children[0]


def test_data_parallel_follows_the_one_device_run(parallel):
    assert parallel["data_devices"] == [4]  # every variable replicated on the 4 devices
    assert len(parallel["one"]) == len(parallel["data"]) == STEPS
    np.testing.assert_allclose(parallel["data"], parallel["one"], atol=LOSS_TOLERANCE)
    assert parallel["one"][-1] < parallel["one"][0] - 0.05  # it learned something
    assert parallel["weights"][0] < 1e-4


def test_a_model_built_before_the_distribution_is_named(parallel):
    assert "built before the distribution was set" in parallel["placement_error"]
    assert "set_distribution" in parallel["placement_error"]


def test_tensor_parallel_layouts_follow_the_map(parallel):
    assert all(parallel["matched"].values()), parallel["matched"]  # each rule names weights
    split = 0
    for path, expected, spec, shape, shard in parallel["layouts"]:
        assert spec == expected, path
        for axis, name in enumerate(expected):  # the model axis has 2 devices
            assert shard[axis] == (shape[axis] // 2 if name == "model" else shape[axis]), path
        split += "model" in expected
    paths = {row[0].split("/", 1)[1]: row[1] for row in parallel["layouts"]}
    assert paths["block_0/attention/query/kernel"] == [None, "model"]  # column-parallel
    assert paths["block_0/attention/output_projection/kernel"] == ["model", None]  # row-parallel
    assert paths["block_0/feed_forward/up_projection/kernel"] == [None, "model"]
    assert paths["block_0/feed_forward/gate_projection/kernel"] == [None, "model"]
    assert paths["block_0/feed_forward/down_projection/kernel"] == ["model", None]
    assert paths["block_0/attention/output_projection/bias"] == [None]  # added after the sum
    assert paths["block_0/attention_norm/gamma"] == [None]
    assert paths["lm_head/embeddings"] == [None, "model"]
    # q, k, v, up, gate kernels and biases; 2 row-parallel kernels; 3 tables
    assert split == 15
    assert parallel["optimizer_split"] == 2 * split  # Adam's two moments follow their weight


def test_tensor_parallel_forward_pass_and_training_equal_one_device(parallel):
    assert parallel["forward"] < 1e-5 * max(1.0, parallel["logit_scale"])
    np.testing.assert_allclose(parallel["model"], parallel["one"], atol=LOSS_TOLERANCE)
    assert parallel["weights"][1] < 1e-4


def test_two_processes_form_one_mesh_and_agree_with_one_device(children):
    parallel, first, second = children
    assert first["devices"] == second["devices"] == 2  # one CPU device per process
    assert first["processes"] == second["processes"] == 2
    assert first["losses"] == second["losses"]  # one global loss, seen by both
    np.testing.assert_allclose(first["losses"], parallel["one"], atol=LOSS_TOLERANCE)


def test_two_command_workers_stop_agree_and_follow_one_device(two_workers, one_device):
    # llm-keras train --workers on JAX: one mesh over both processes, train_on_batch.
    check_two_workers_follow_one_device(two_workers, one_device)


def test_a_killed_worker_resumes_to_the_uninterrupted_run(data_file, tmp_path, two_workers):
    check_a_killed_worker_resumes(data_file, tmp_path, two_workers)


def test_resume_with_another_number_of_workers_is_refused(two_workers, capsys):
    check_resume_with_another_layout_is_refused(two_workers, capsys)


def test_workers_resume_past_a_damaged_checkpoint(tmp_path, two_workers):
    check_workers_resume_past_a_damaged_checkpoint(tmp_path, two_workers)


def test_impossible_layouts_are_named():
    from llm_keras.distributed.keras_distribution import data_parallel, model_parallel
    from llm_keras.distributed.mesh import check_batch_divides
    from llm_keras.models import GPTConfig

    config = GPTConfig(**TINY)  # 2 heads, d_ff 128
    with pytest.raises(ValueError, match="n_heads=2 is not divisible by the 4 devices"):
        model_parallel(config, data=1, model=4)
    odd_ff = GPTConfig(**{**TINY, "n_heads": 4, "d_ff": 30})
    with pytest.raises(ValueError, match="d_ff=30 is not divisible by the 4 devices"):
        model_parallel(odd_ff, data=1, model=4)
    with pytest.raises(ValueError, match="Asked for 64 devices but this process has 1"):
        data_parallel(64)
    with pytest.raises(ValueError, match="batch_size=6 is not divisible by the 4 devices"):
        check_batch_divides(6, 4)
