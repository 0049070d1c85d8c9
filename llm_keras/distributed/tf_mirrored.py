"""Data parallelism on TensorFlow, one machine: ``tf.distribute.MirroredStrategy`` with
``model.fit`` (week 5, "What each backend offers").

``MirroredStrategy`` keeps a copy ("mirror") of every variable on each device, splits each batch
between them, and sums the gradients across devices before every update. The Keras loss divides
each device's mean by the number of devices, so the sum is the gradient of the whole batch.
Everything made inside ``strategy.scope()`` (the model, the optimizer) is mirrored:

>>> strategy = mirrored_strategy(2)          # 2 GPUs, or the CPU split into 2 devices
>>> with strategy.scope():
...     model = GPT(config)
...     compile_for_training(model, training_config, jit_compile=False)
>>> train(model, train_ids, val_ids, training_config)   # model.fit: unchanged

Three things to know (Keras 3.15.1, TensorFlow 2.21):

- Under a strategy, ``fit`` first builds the model, loss and metrics on the *mean* of the
  devices' first batches (``_maybe_symbolic_build`` in ``keras/src/backend/tensorflow/
  trainer.py``), and the mean of integer token ids is a float32 tensor, which the GPT refuses.
  ``build_for_fit`` builds them on a real batch first, so ``fit`` skips that step; ``train``
  calls it for a model made under a strategy (a ``fit`` of your own needs the call).

- XLA is off under a strategy (``compile_for_training(..., jit_compile=False)``).
- Gradient clipping happens on each device's share *before* the gradients are summed
  (``BaseOptimizer._backend_apply_gradients`` clips, then ``TFOptimizer._backend_update_step``
  all-reduces), so ``grad_clip`` bounds each device's part, not the whole gradient. While no
  clipping happens the run is the one-device run; when it does, the steps differ slightly.

On several machines ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (Keras issue
#20585): see ``tf_multi_worker``.
"""

from __future__ import annotations

from llm_keras.distributed.backends import require_backend


def use_logical_cpus(count):
    """Split the first CPU into ``count`` TensorFlow devices (before TensorFlow's first op)."""
    require_backend("tensorflow", "use_logical_cpus")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:  # TensorFlow has started: fine if it has the devices already
        if len(tf.config.list_logical_devices("CPU")) >= count:
            return
        raise ValueError(
            f"Cannot split the CPU into {count} devices now: TensorFlow has already run an "
            "operation. Call mirrored_strategy (or use_logical_cpus) before building any model "
            "or tensor."
        ) from None


def mirrored_strategy(devices):
    """A ``MirroredStrategy`` over the first ``devices`` GPUs, or over ``devices`` logical CPUs
    on a machine without GPUs.

    Raises:
        ValueError: when the machine has GPUs but fewer than ``devices``.
    """
    require_backend("tensorflow", "mirrored_strategy")
    import tensorflow as tf

    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ValueError(f"The number of devices must be a positive integer, got {devices!r}.")
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        if devices > len(gpus):
            raise ValueError(
                f"Asked for {devices} devices but this machine has {len(gpus)} GPU(s): use "
                f"--devices {len(gpus)} or fewer."
            )
        names = [f"/gpu:{i}" for i in range(devices)]
    else:
        use_logical_cpus(devices)
        names = [device.name for device in tf.config.list_logical_devices("CPU")[:devices]]
    return tf.distribute.MirroredStrategy(names)


def made_under_strategy(model):
    """Whether ``model`` was made inside a ``tf.distribute`` strategy's scope (Keras records the
    strategy then: ``TensorFlowTrainer.__init__``)."""
    return getattr(model, "_distribute_strategy", None) is not None


def build_for_fit(model, batch):
    """Build ``model``'s weights, loss, metrics and optimizer on ``batch`` (``(inputs,
    targets)``, integer ids) before ``model.fit`` under a strategy (see the module docstring).

    ``train`` calls it itself for a model made under a strategy; calling it first does no harm
    (what is built already is not built again)."""
    require_backend("tensorflow", "build_for_fit")
    with model.distribute_strategy.scope():
        # Keras's own build step, the one fit would run on float ids; private in Keras 3.15.
        model._symbolic_build(data_batch=tuple(batch))
