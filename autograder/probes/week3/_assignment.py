"""Week 3 (pretraining a GPT): graded under the three Keras backends by default.

The loss, the optimizer step, the model and the training step are written with keras.ops and
Keras's optimizers, which each backend runs with its own kernels and its own gradients: a
solution must give the same numbers on each (an exercise gets its lowest score over them).
"""

BACKENDS = ("jax", "tensorflow", "torch")
