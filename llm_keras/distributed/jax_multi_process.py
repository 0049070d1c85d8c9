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

The same can be set with environment variables and no arguments:
``KERAS_DISTRIBUTION_JOB_ADDRESSES``, ``KERAS_DISTRIBUTION_NUM_PROCESSES``,
``KERAS_DISTRIBUTION_PROCESS_ID``.
"""

from __future__ import annotations

import keras

from llm_keras.distributed.backends import require_keras_distribution
from llm_keras.distributed.worker_loop import check_worker_index, parse_workers


def start_jax_workers(workers, index):
    """Join worker ``index`` of ``workers`` (``"host:port,..."`` or a list; worker 0 is the
    coordinator) to the JAX cluster. Call it before any JAX operation, in every process."""
    require_keras_distribution("start_jax_workers")
    workers = parse_workers(workers)
    check_worker_index(index, len(workers))
    keras.distribution.initialize(
        job_addresses=",".join(workers), num_processes=len(workers), process_id=index
    )
