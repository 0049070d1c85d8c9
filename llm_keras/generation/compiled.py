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
- **PyTorch**: the loop runs eagerly under ``torch.no_grad()`` (no autograd graph is recorded), but
  the model's own calls inside it are *recorded* (``recorded_method``): eager Keras spends about
  120 microseconds of Python in each layer call before the layer's work, and a cached step of a
  6-layer GPT makes about 90 of them, so most of its time was that bookkeeping.
  ``torch.jit.trace`` runs the method once and records the tensor operations it performed, the
  weights as inputs (as on JAX); later calls replay the record without the Python, in a
  quarter-second's tracing against ``torch.compile``'s half a minute here.

Both compilers trace the function once per input shapes and dtypes and reuse the result, so
feeding tensors of fixed shapes (with fixed dtypes) is what makes "compile once" work.

The compiled function holds the model only weakly: a model deleted by its user is freed, and
with it the functions compiled for it.
"""

import warnings
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


def recorded_method(model, name, differentiable=False):
    """``model.<name>``, recorded once per input shapes on PyTorch (the method itself elsewhere).

    On PyTorch, the first call with given shapes and dtypes runs ``torch.jit.trace``: the method
    runs once and the tensor operations it performed are kept, with the model's weights as inputs
    (read at every call, so trained or reloaded weights are used without recording again).
    Python decisions are frozen in the record: they may depend on shapes only (``call`` and
    ``call_with_cache`` branch on shapes, and on the cache index only through tensor operations),
    so a tensor argument's *values* may change between calls, and an argument that is not a tensor
    (a Python int or bool) gets a record of its own per value. Call it under ``torch.no_grad()``,
    or record with ``differentiable=True`` (training, ``GPT.record_forward``): the weights are
    then the variables' own tensors, which require gradients, and the record is replayed op by
    op with autograd recording each (TorchScript's optimised executor, which builds gradient
    graphs of its own, is left off: it rounds differently and was slower here), so
    ``loss.backward()`` fills the variables' gradients as the eager call does, with the same
    numbers. Random operations are recorded as operations (dropout draws a new mask from
    PyTorch's generator at each replay), not as the numbers they drew while recording.

    On JAX and TensorFlow the whole decoding loop is compiled around the method, so it is called
    as it is. A changed model (new layers: ``forget_compiled``) needs a new recording.
    """
    model_ref = weakref.ref(model)  # held weakly: a deleted model is freed
    if keras.backend.backend() != "torch":
        return lambda *args: getattr(model_ref(), name)(*args)
    import torch

    records = {}  # the arguments' shapes, dtypes and non-tensor values -> the recorded function

    def record(args):
        tensors = [i for i, a in enumerate(args) if torch.is_tensor(a)]

        def pure(weights, *tensor_args):
            full = list(args)
            for i, tensor in zip(tensors, tensor_args, strict=True):
                full[i] = tensor
            model = model_ref()
            mapping = list(zip(model.variables, weights, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return getattr(model, name)(*full)

        with warnings.catch_warnings():  # shape checks seen while tracing; trace's deprecation
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.* is deprecated")
            return tensors, torch.jit.trace(
                pure,
                (_weights(model_ref(), differentiable), *[args[i] for i in tensors]),
                check_trace=False,
            )

    def run(*args):
        key = tuple(
            (tuple(a.shape), a.dtype) if torch.is_tensor(a) else ("value", a) for a in args
        )
        if key not in records:
            records[key] = record(args)
        tensors, recorded = records[key]
        inputs = (_weights(model_ref(), differentiable), *[args[i] for i in tensors])
        if differentiable:
            with torch.jit.optimized_execution(False):
                return recorded(*inputs)
        return recorded(*inputs)

    run.records = records  # for tests: one entry per shapes recorded
    return run


def _weights(model, differentiable=False):
    """The current values of ``model.variables`` (PyTorch): detached, or with
    ``differentiable=True`` the variables' own tensors, so gradients reach them."""
    if differentiable:
        return tuple(variable.value for variable in model.variables)
    return tuple(variable.value.detach() for variable in model.variables)
