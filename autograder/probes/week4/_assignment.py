"""Week 4 (generating text): graded under the three Keras backends by default.

The samplers and the cached attention step are written with keras.ops, which each backend runs
with its own kernels, and the generation loop drives a GPT of the course on each: a solution must
give the same ids and numbers on each (an exercise gets its lowest score over them).
"""

BACKENDS = ("jax", "tensorflow", "torch")
