"""Which slice of each GPT weight lives on which device: the layout map of tensor parallelism
(week 5, "Tensor parallelism").

Megatron-LM (Shoeybi et al. 2019, section 3) splits each transformer block so that the devices of
the ``"model"`` axis exchange data only twice per block, once after attention and once after the
feed-forward network:

- attention: the query, key and value kernels ``(d_model, d_model)`` are split by columns
  ("column-parallel"). Their output features are ordered head by head, so with ``M`` devices
  each device computes ``n_heads / M`` whole heads on its own, softmax included. The output
  projection ``(d_model, d_model)`` is split by rows ("row-parallel"): each device multiplies its
  heads' features by its rows, and one sum across the devices (an all-reduce) gives the result;
- feed-forward: the first projection ``(d_model, d_ff)`` (and SwiGLU's gate) is column-parallel,
  so each device holds ``d_ff / M`` hidden features and applies the activation to them alone; the
  second ``(d_ff, d_model)`` is row-parallel, followed by the block's second all-reduce.
  The biases of column-parallel layers are split with their columns; those of row-parallel
  layers are added once, after the sum, so they are kept whole on every device.

Embeddings. Megatron splits the token table by vocabulary rows (with the vocabulary padded to a
multiple of the device count). Here the token, output and position tables
``(rows, d_model)`` are split by their ``d_model`` columns instead: ``d_model`` is always
divisible by the model axis (it divides ``n_heads``, which divides ``d_model``), while 65
characters or GPT-2's 50257 tokens are divisible by no even count. Each device still keeps only
``1 / M`` of the largest matrix of a small GPT. The normalisations' small vectors are copied
whole to every device, as is every weight no rule names.

A ``keras.distribution.LayoutMap`` matches each variable's ``path`` (``gpt/block_0/attention/
query/kernel``) against regular expressions with ``re.fullmatch``; a tuple gives one mesh axis
name (or ``None``: not split) per dimension of the weight. XLA's GSPMD then inserts the
all-reduces and all-gathers the layouts imply.

>>> mesh = device_mesh(data=2, model=4)
>>> layout_map = gpt_layout_map(config, mesh)
>>> layout_map["gpt/block_0/attention/query/kernel"].axes
(None, 'model')
"""

from __future__ import annotations

import keras

from llm_keras.distributed.mesh import MODEL_AXIS

# Regular expression of a variable's path -> how each of its dimensions is split.
GPT_LAYOUT = {
    # Column-parallel: split the output features (whole heads, or hidden features).
    r".*block_\d+/attention/(query|key|value)/kernel": (None, MODEL_AXIS),
    r".*block_\d+/attention/(query|key|value)/bias": (MODEL_AXIS,),
    r".*block_\d+/feed_forward/(up|gate)_projection/kernel": (None, MODEL_AXIS),
    r".*block_\d+/feed_forward/(up|gate)_projection/bias": (MODEL_AXIS,),
    # Row-parallel: split the input features; the devices' partial results are summed.
    r".*block_\d+/attention/output_projection/kernel": (MODEL_AXIS, None),
    r".*block_\d+/feed_forward/down_projection/kernel": (MODEL_AXIS, None),
    # Tables (vocab_size or context_length, d_model): split d_model (see the module docstring).
    r".*(token_embedding|lm_head|position_embedding)/embeddings": (None, MODEL_AXIS),
}


def check_tensor_parallel_fits(config, model_devices):
    """Raise a ValueError unless ``config``'s heads and feed-forward features split evenly over
    ``model_devices`` devices."""
    for name, size, unit in (
        ("n_heads", config.n_heads, "attention heads"),
        ("d_ff", config.d_ff, "feed-forward features"),
    ):
        if size % model_devices:
            fits = [n for n in range(1, size + 1) if size % n == 0]
            raise ValueError(
                f"{name}={size} is not divisible by the {model_devices} devices of the model "
                f"axis: each device holds {name} / {model_devices} of the {unit}. Use a model "
                f"axis of {', '.join(map(str, fits))} devices, or change {name}."
            )


def gpt_layout_map(config, mesh):
    """The ``keras.distribution.LayoutMap`` of a ``GPT`` of ``config`` over ``mesh``.

    Args:
        config: the model's ``GPTConfig``.
        mesh: a ``DeviceMesh`` with a ``"model"`` axis (``device_mesh(data, model)``).

    Returns:
        A ``LayoutMap`` with the rules of ``GPT_LAYOUT``.

    Raises:
        ValueError: when the heads or the feed-forward features do not split evenly.
    """
    if MODEL_AXIS not in mesh.axis_names:
        raise ValueError(
            f"The mesh has axes {tuple(mesh.axis_names)}; the GPT's layout splits weights along "
            f"an axis named {MODEL_AXIS!r}: build it with device_mesh(data, model)."
        )
    check_tensor_parallel_fits(config, mesh.shape[mesh.axis_names.index(MODEL_AXIS)])
    layout_map = keras.distribution.LayoutMap(mesh)
    for pattern, axes in GPT_LAYOUT.items():
        layout_map[pattern] = axes
    return layout_map
