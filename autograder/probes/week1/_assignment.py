"""Week 1 (tokens and training windows): graded under the three Keras backends by default.

The answers are plain Python and NumPy, so the backends agree; grading them all checks that a
learner's notebook runs wherever the course says it does. ``--backend jax`` grades one.
"""

BACKENDS = ("jax", "tensorflow", "torch")
