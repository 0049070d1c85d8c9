"""The device mesh: the devices of a run laid out on a grid with named axes
(week 5, "A device mesh on a laptop").

Parallel training splits work two ways, and each gets an axis of the grid:

- ``"data"``: every device along it holds a whole copy of the weights and trains on its own rows
  of the batch; the gradients are averaged across them (data parallelism);
- ``"model"``: the devices along it each hold a slice of the weights (some attention heads, some
  feed-forward features) and together compute one copy of the model (tensor parallelism).

Eight devices as ``(data=2, model=4)``: two copies of the model, each spread over four devices::

    model ->   0   1   2   3
    data   0 [d0  d1  d2  d3]     rows 0 .. B/2 - 1 of the batch
           1 [d4  d5  d6  d7]     rows B/2 .. B - 1

``keras.distribution`` (the mesh, ``DataParallel``, ``ModelParallel``) works on JAX only in
Keras 3.15; ``backends.require_keras_distribution`` says what to use on the others. On a machine
without accelerators, JAX can split its CPU into several devices (``use_cpu_devices``), which is
how the course runs these ideas on a laptop.
"""

from __future__ import annotations

import keras

from llm_keras.distributed.backends import require_keras_distribution

DATA_AXIS = "data"
MODEL_AXIS = "model"


def use_cpu_devices(count):
    """Split the CPU into ``count`` JAX devices (before JAX starts; GPUs and TPUs are unaffected).

    JAX fixes its devices the first time it computes anything, so call this before the first
    operation of the process (building a model counts). It is what
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` does, set from Python.
    """
    require_keras_distribution("use_cpu_devices")
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", int(count))
    except RuntimeError as error:  # JAX has started: fine if it already has the devices
        if jax.device_count() >= count:
            return
        raise ValueError(
            f"Cannot split the CPU into {count} devices now: JAX has already started ({error}). "
            "Call use_cpu_devices before building any model or tensor, or set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={count} before starting Python."
        ) from None


def list_devices(count):
    """The first ``count`` devices (accelerators if there are any, otherwise CPU devices).

    Raises:
        ValueError: when fewer than ``count`` devices exist, saying how many there are.
    """
    require_keras_distribution()
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"The number of devices must be a positive integer, got {count!r}.")
    devices = keras.distribution.list_devices()
    if count > len(devices):
        kind = devices[0].split(":")[0] if devices else "cpu"
        raise ValueError(
            f"Asked for {count} devices but this process has {len(devices)} ({kind}). Ask for "
            f"at most {len(devices)}; on a CPU, split it into {count} with "
            f"use_cpu_devices({count}) before JAX starts (or XLA_FLAGS="
            f"--xla_force_host_platform_device_count={count})."
        )
    return devices[:count]


def device_mesh(data=1, model=1):
    """A ``keras.distribution.DeviceMesh`` of shape ``(data, model)``, axes ``("data", "model")``.

    It uses the first ``data * model`` devices: device ``i * model + j`` sits at row ``i``
    (its share of the batch) and column ``j`` (its slice of the weights).
    """
    for name, size in (("data", data), ("model", model)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"The {name} axis needs a positive integer size, got {size!r}.")
    devices = list_devices(data * model)
    return keras.distribution.DeviceMesh((data, model), (DATA_AXIS, MODEL_AXIS), devices)


def check_batch_divides(batch_size, replicas, what="the data axis"):
    """Raise a ValueError unless ``batch_size`` rows split evenly over ``replicas`` copies."""
    if batch_size % replicas:
        lower = batch_size // replicas * replicas
        raise ValueError(
            f"batch_size={batch_size} is not divisible by the {replicas} devices of {what}: "
            f"each copy of the model trains on batch_size / {replicas} rows. Use batch_size="
            f"{lower or replicas} or {lower + replicas}."
        )
