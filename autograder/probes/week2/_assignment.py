"""Week 2 (the transformer decoder): graded under the three Keras backends by default.

The answers are written with keras.ops, which each backend runs with its own kernels: a
solution must give the same numbers on each (an exercise gets its lowest score over them).
"""

BACKENDS = ("jax", "tensorflow", "torch")
