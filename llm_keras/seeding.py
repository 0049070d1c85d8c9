"""One seed for every random choice of a run, without importing TensorFlow (week 3, "The training loop").

``keras.utils.set_random_seed`` seeds Python, NumPy, the backend and Keras's own global seed
generator, and also TensorFlow's, importing it whatever the backend: on JAX or PyTorch that costs
seconds of start-up and prints TensorFlow's CUDA messages on a machine without a GPU.
``set_seed`` does the same without TensorFlow where the backend is not TensorFlow (and
TensorFlow is not already in use), so that ``llm-keras`` on JAX or PyTorch never imports it.
"""

from __future__ import annotations

import random
import sys


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, the backend and ``keras.random``'s global generator with ``seed``.

    The draws that follow are the ones ``keras.utils.set_random_seed(seed)`` gives (tested).
    """
    import keras
    import numpy as np

    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got seed={seed!r}.")
    backend = keras.backend.backend()
    if backend == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)  # TensorFlow is here anyway: seed it too
        return
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)
    # Keras's global seed, read by keras.random functions called without a seed. These two
    # entries are what set_random_seed writes; they are private to Keras (keras.src).
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
