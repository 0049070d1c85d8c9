"""Week 7 (alignment): graded under the three Keras backends by default.

The Bradley-Terry loss, the log-probability of a response, the DPO loss, the k3 KL estimate and
GRPO's clipped policy loss are written with keras.ops, which each backend runs with its own
kernels; the group advantages may be NumPy or keras.ops. A solution must give the same numbers on
each backend (an exercise gets its lowest score over them).
"""

BACKENDS = ("jax", "tensorflow", "torch")
