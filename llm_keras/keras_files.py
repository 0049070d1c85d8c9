"""Writing a ``.keras`` file without importing TensorFlow on JAX or PyTorch.

Keras's serialisation asks, for every value of a model's configuration, whether it is a
TensorFlow ``TensorShape``, ``DType`` or ``TypeSpec`` (``keras/src/saving/serialization_lib.py``:
``tf.available and isinstance(obj, tf.TensorShape)``). ``tf.available`` imports TensorFlow to
answer: 3-4 s on an idle 2-core machine, 17-33 s on a busy one, in every JAX or PyTorch process
that saves a model, and TensorFlow's CUDA messages on a machine without a GPU.

No value can be a TensorFlow object while TensorFlow is not imported, so the answer is known
without importing it: ``save_model`` tells Keras so for the time of the save, and only then.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def tensorflow_left_alone():
    """While inside, Keras's saving code treats TensorFlow as absent if it is not imported yet.

    Once TensorFlow is imported (the TensorFlow backend, or ``tf.data`` used beside JAX), nothing
    changes: Keras looks for TensorFlow objects as usual.
    """
    from keras.src.utils import module_utils

    lazy = module_utils.tensorflow
    if "tensorflow" in sys.modules or lazy.module is not None:
        yield
        return
    before = lazy._available
    lazy._available = False  # LazyModule.available reads this before trying the import
    try:
        yield
    finally:
        lazy._available = before


def save_model(model, path: str | os.PathLike) -> None:
    """``model.save(path)`` (a ``.keras`` file), without importing TensorFlow to write it."""
    with tensorflow_left_alone():
        model.save(path)
