"""Compiling a decoding function on each backend (week 4, "The KV cache").

This is the one backend-specific function of ``llm_keras.generation``; everything else is written
with ``keras.ops``. ``compile_for_backend(function, model)`` returns a function with the same
arguments (tensors) and results:

- **JAX**: ``jax.jit``. JAX functions must be pure, so the model's weights become *inputs* of the
  compiled function: their current values are passed at every call and a ``keras.StatelessScope``
  makes the model's variables read them (keras-hub's ``CausalLM`` does the same). Weights changed
  by more training are therefore used without recompiling, and the weights are not baked into the
  compiled program as constants.
- **TensorFlow**: ``tf.function(jit_compile=True)``: a graph compiled by XLA; it reads the
  variables themselves.
- **PyTorch**: no compilation (``torch.compile`` is often slower for such loops, keras#21851): the
  function runs eagerly under ``torch.no_grad()``, so no autograd graph is recorded.

Both compilers trace the function once per input shapes and dtypes and reuse the result, so
feeding tensors of fixed shapes (with fixed dtypes) is what makes "compile once" work.

The compiled function holds the model only weakly: a model deleted by its user is freed, and
with it the functions compiled for it.
"""

import weakref

import keras


def compile_for_backend(function, model):
    """``function(*tensors)`` compiled for the current backend, with ``model``'s weights as
    inputs on JAX. ``function`` must read the model through its arguments' closure only."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        model_ref = weakref.ref(model)

        def pure_function(weights, *args):
            variables = model_ref().variables
            with keras.StatelessScope(state_mapping=list(zip(variables, weights, strict=True))):
                return function(*args)

        compiled = jax.jit(pure_function)

        def run(*args):
            return compiled([variable.value for variable in model_ref().variables], *args)

        return run
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True)
    if backend == "torch":
        import torch

        def run(*args):
            with torch.no_grad():
                return function(*args)

        return run
    return function
