"""Data and tensor parallelism with ``keras.distribution`` on JAX (week 5, "A device mesh on a laptop").

Two set-ups, each one call before the model is built:

- ``data_parallel(devices)``: every device holds all the weights and trains on ``1 / devices``
  of each batch; JAX averages the gradients across devices inside the compiled step. The result
  is the training of one device with the same (global) batch, up to the order of float sums.
- ``model_parallel(config, data, model)``: a ``(data, model)`` mesh where the weights of each
  block are split over the ``model`` axis as ``gpt_layout_map`` says, and the batch over the
  ``data`` axis.

>>> use_cpu_devices(4)                       # on a CPU, before JAX starts
>>> distribution = model_parallel(config, data=2, model=2)
>>> keras.distribution.set_distribution(distribution)
>>> model = GPT(config)                      # AFTER set_distribution: weights made in place
>>> compile_for_training(model, training_config); train(model, ...)  # model.fit as usual

Order matters: a variable is placed on the devices when it is created, so a model built before
``set_distribution`` stays on one device and the first training step fails with "Received
incompatible devices for jitted computation". ``check_model_placement`` catches that early.
"""

from __future__ import annotations

import keras

from llm_keras.distributed.backends import require_keras_distribution
from llm_keras.distributed.layout_map import check_tensor_parallel_fits, gpt_layout_map
from llm_keras.distributed.mesh import DATA_AXIS, device_mesh, list_devices


def data_parallel(devices, auto_shard_dataset=True):
    """``keras.distribution.DataParallel`` over the first ``devices`` devices.

    Keras's ``DataParallel`` takes a one-axis mesh, so this mesh has the ``"data"`` axis alone
    (a ``"model"`` axis of size 1 adds nothing). With several processes, Keras can split a
    ``tf.data.Dataset`` between them itself (``auto_shard_dataset=True``); a process that feeds
    its own rows of each batch (``worker_batch``) passes ``auto_shard_dataset=False``.
    """
    require_keras_distribution("data_parallel")
    mesh = keras.distribution.DeviceMesh((devices,), (DATA_AXIS,), list_devices(devices))
    return keras.distribution.DataParallel(device_mesh=mesh, auto_shard_dataset=auto_shard_dataset)


def model_parallel(config, data=1, model=2):
    """``keras.distribution.ModelParallel`` of a GPT of ``config`` on a ``(data, model)`` mesh.

    Each block's attention heads and feed-forward features are split over the ``model`` devices
    (``gpt_layout_map``); each of the ``data`` rows of the mesh trains on its share of the batch.

    Raises:
        ValueError: heads or ``d_ff`` not divisible by ``model``, or too few devices.
    """
    require_keras_distribution("model_parallel")
    check_tensor_parallel_fits(config, model)  # before looking for devices
    mesh = device_mesh(data, model)
    return keras.distribution.ModelParallel(
        layout_map=gpt_layout_map(config, mesh), batch_dim_name=DATA_AXIS
    )


def check_model_placement(model, distribution=None):
    """Raise a ValueError if a variable of ``model`` is not on the distribution's devices.

    That happens when the model was built (or loaded) before ``set_distribution``.
    ``distribution`` defaults to the current one (``keras.distribution.distribution()``).
    """
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return
    mesh_devices = set(distribution.device_mesh.backend_mesh.devices.flat)
    for variable in model.variables:
        placed = set(variable.value.sharding.device_set)
        if placed != mesh_devices:
            raise ValueError(
                f"{variable.path} lives on {len(placed)} device(s), not on the "
                f"{len(mesh_devices)} devices of the distribution: the model was built before "
                "the distribution was set. Call keras.distribution.set_distribution(...) (or "
                "enter `with distribution.scope():`) first, then build the model."
            )
