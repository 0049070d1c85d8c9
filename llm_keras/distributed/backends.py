"""Which backend offers which kind of parallelism in Keras 3.15 (week 5, "What each backend offers").

=============  ==============================  =================================================
backend        one machine, several devices    several machines
=============  ==============================  =================================================
JAX            keras.distribution: data and    keras.distribution.initialize, then the same
               tensor parallelism              DataParallel / ModelParallel
TensorFlow     tf.distribute.MirroredStrategy  MultiWorkerMirroredStrategy with a strategy.run
               with model.fit                  loop (model.fit fails there: Keras #20585)
PyTorch        one process per device, gradients averaged with torch.distributed (gloo/nccl)
=============  ==============================  =================================================

Asking a backend for what it lacks raises a ValueError that names the backend and what to use.
"""

import keras

# Where each backend stands with keras.distribution in Keras 3.15 (docs/distributed.md).
_KERAS_DISTRIBUTION_ELSEWHERE = {
    "tensorflow": (
        "its keras.distribution module is an unfinished DTensor prototype that leaves every "
        "variable on one device. Use tf.distribute: mirrored_strategy() with model.fit on one "
        "machine, train_multi_worker_tf() on several (llm_keras.distributed)"
    ),
    "torch": (
        "keras.distribution has no PyTorch implementation before Keras 3.16. Use "
        "torch.distributed: train_torch_data_parallel() runs one process per device and "
        "averages the gradients (llm_keras.distributed)"
    ),
}
# What to use for data parallelism on each backend.
_DATA_PARALLEL = {
    "jax": "data_parallel() (keras.distribution)",
    "tensorflow": "mirrored_strategy() on one machine, train_multi_worker_tf() on several",
    "torch": "train_torch_data_parallel() (torch.distributed)",
}


def require_keras_distribution(what="keras.distribution"):
    """Raise a ValueError naming the backend and what to use instead, unless it is JAX."""
    backend = keras.backend.backend()
    if backend != "jax":
        reason = _KERAS_DISTRIBUTION_ELSEWHERE.get(backend, "it is implemented for JAX only")
        raise ValueError(
            f"{what} needs the JAX backend in Keras 3.15, and this is KERAS_BACKEND={backend}: "
            f"{reason}. Or run with KERAS_BACKEND=jax."
        )


def require_backend(backend, what):
    """Raise a ValueError unless Keras runs on ``backend``, saying what to use on this one."""
    current = keras.backend.backend()
    if current != backend:
        raise ValueError(
            f"{what} needs KERAS_BACKEND={backend}, and this is {current}: for data parallelism "
            f"here use {_DATA_PARALLEL.get(current, 'the JAX, TensorFlow or PyTorch backend')}."
        )
