"""Week 6 (fine-tuning): graded under the three Keras backends by default.

The last-token features, the masked loss, the LoRA layer and the merged kernel are written with
keras.ops, which each backend runs with its own kernels; the loss mask, exact match and pass@k are
plain Python or NumPy, the same everywhere. A solution must give the same numbers on each backend
(an exercise gets its lowest score over them).
"""

BACKENDS = ("jax", "tensorflow", "torch")
