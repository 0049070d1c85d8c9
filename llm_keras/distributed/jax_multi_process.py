"""JAX on several machines: one process per machine, one mesh over all their devices (week 5,
"What each backend offers").

Each process calls ``start_jax_workers`` first thing, with the same list of workers and its own
index. ``keras.distribution.initialize`` starts ``jax.distributed``: worker 0's address is the
coordinator where the processes meet, and from then on ``keras.distribution.list_devices()``
lists the devices of *every* process. ``data_parallel`` and ``model_parallel`` then build their
mesh over all of them, and ``model.fit`` runs as on one machine, with one difference: each
process feeds only its own rows of each batch (``worker_batch``); Keras assembles the global
batch with ``jax.make_array_from_process_local_data``. On CPUs the processes exchange gradients
through gloo (JAX's default CPU collectives), on GPUs through NCCL.

    # on machine i of 2 (the same command with index 0 and 1):
    >>> start_jax_workers("10.0.0.1:1234,10.0.0.2:1234", index=i)
    >>> devices = len(keras.distribution.list_devices())           # every process's devices
    >>> keras.distribution.set_distribution(data_parallel(devices, auto_shard_dataset=False))
    >>> model = GPT(config); compile_for_training(model, training_config)
    >>> inputs, targets = worker_batch(ids, batch_size, context_length, seed, step, i, 2)
    >>> model.fit(inputs, targets, batch_size=batch_size // 2, shuffle=False)

``train_jax_workers`` is that loop with checkpoints (``llm-keras train --workers`` on JAX):
``train_on_batch`` on each process's rows, worker 0 writing a checkpoint every interval, and
``--resume`` giving every process worker 0's newest one (``WorkerCheckpoints``).

The same can be set with environment variables and no arguments:
``KERAS_DISTRIBUTION_JOB_ADDRESSES``, ``KERAS_DISTRIBUTION_NUM_PROCESSES``,
``KERAS_DISTRIBUTION_PROCESS_ID``.
"""

from __future__ import annotations

import keras

from llm_keras.distributed.backends import require_keras_distribution
from llm_keras.distributed.worker_loop import (
    WorkerCheckpoints,
    check_worker_index,
    parse_workers,
    run_worker_steps,
)


def start_jax_workers(workers, index):
    """Join worker ``index`` of ``workers`` (``"host:port,..."`` or a list; worker 0 is the
    coordinator) to the JAX cluster. Call it before any JAX operation, in every process."""
    require_keras_distribution("start_jax_workers")
    workers = parse_workers(workers)
    check_worker_index(index, len(workers))
    keras.distribution.initialize(
        job_addresses=",".join(workers), num_processes=len(workers), process_id=index
    )


def train_jax_workers(model_config, training_config, train_ids, log=None, directory=None,
                      resume=False, state=None):  # fmt: skip
    """Train a ``GPT`` with data parallelism over the devices of every process
    (``start_jax_workers`` first, in each).

    Each process feeds its rows of every batch (``worker_batch``) to ``model.train_on_batch``;
    Keras makes the global batch of them, and JAX averages the gradients across all devices
    inside the compiled step. ``directory``, ``resume`` and ``state`` as for
    ``train_torch_data_parallel``: worker 0 writes the checkpoints (this process's copy of the
    replicated weights), and every process resumes from worker 0's values, sent with
    ``jax.experimental.multihost_utils.broadcast_one_to_all``.

    Returns:
        ``(model, losses)``: a copy of the trained model on this process's devices alone (to
        evaluate, generate and save without the others), and the loss of the whole batch at
        every micro-batch.
    """
    require_keras_distribution("train_jax_workers")
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    from llm_keras.distributed.keras_distribution import data_parallel
    from llm_keras.distributed.mesh import check_batch_divides
    from llm_keras.models import GPT
    from llm_keras.seeding import set_seed
    from llm_keras.training.checkpoint import host_array
    from llm_keras.training.trainer import compile_for_training

    c = training_config
    index, count = jax.process_index(), jax.process_count()
    devices = len(keras.distribution.list_devices())  # of every process
    check_batch_divides(c.batch_size, devices)
    keras.distribution.set_distribution(data_parallel(devices, auto_shard_dataset=False))
    set_seed(c.seed)
    model = GPT(model_config, dtype=c.dtype_policy)
    compile_for_training(model, c)

    def train_step(inputs, targets):  # this process's rows; the loss of the global batch
        return model.train_on_batch(inputs, targets, return_dict=True)["loss"]

    def broadcast(arrays):  # one compiled sum for all of them
        return [np.asarray(a) for a in multihost_utils.broadcast_one_to_all(arrays)]

    checkpoints = None
    if directory is not None:
        checkpoints = WorkerCheckpoints(directory, model, c, index, broadcast, state)
    context_length = model_config.context_length
    losses = run_worker_steps(train_step, train_ids, context_length, c, index, count, log,
                              checkpoints, resume)  # fmt: skip
    keras.distribution.set_distribution(None)  # the copy lives on this process's devices
    local = GPT(model_config, dtype=c.dtype_policy)
    for target, source in zip(local.weights, model.weights, strict=True):
        target.assign(host_array(source))
    return local, losses
