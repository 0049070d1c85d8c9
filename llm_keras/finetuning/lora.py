"""LoRA: fine-tune two thin matrices per projection instead of the whole kernel (week 6, "LoRA").

Full fine-tuning changes every weight: a projection kernel ``W`` ``(in, out)`` becomes
``W + dW``, ``in * out`` new numbers per layer. Hu et al. (2021, "LoRA: Low-Rank Adaptation of
Large Language Models") found that the change a pretrained model needs for a new task has a low
"intrinsic rank", and wrote it as the product of two thin matrices, ``A`` ``(in, r)`` and ``B``
``(r, out)`` with a small rank ``r``:

    y = x W + (alpha / r) (x A) B + b        x (..., in) -> y (..., out)

- **The update has rank at most r.** Every row of ``dW = A B`` is a combination of the ``r``
  rows of ``B`` (the row ``i`` is ``sum_k A[i, k] B[k, :]``), so ``rank(dW) <= r``: LoRA can only
  make a low-rank change, which is its bet.
- **Few trainable numbers.** ``r (in + out)`` instead of ``in * out``. For ``d_model = 128`` and
  ``r = 4``: ``4 * 256 = 1,024`` numbers instead of ``16,384``, 16 times fewer per layer. ``W``
  and ``b`` stay frozen, so the optimizer keeps moments for ``A`` and ``B`` only.
- **B is zero at the start**, ``A`` is random. Then ``A B = 0``: before its first step the model
  is exactly the pretrained one, so fine-tuning starts from its outputs, not from a perturbed
  copy. Why not both zero? The gradients are ``dL/dB = (alpha / r) (x A)^T g`` and
  ``dL/dA = (alpha / r) x^T g B^T`` (``g = dL/dy``): with ``A = B = 0`` both are zero and nothing
  ever moves. With ``B = 0`` alone the first step moves ``B`` only, and from the second on both
  move.
- **alpha / r.** The update is scaled by ``alpha / r``. Hu et al. set ``alpha`` to the first
  ``r`` they tried and left it there: with ``alpha`` fixed, trying another rank needs no new
  learning rate. ``alpha`` defaults to ``r`` (a scale of 1), as in Keras's
  ``Dense.enable_lora``.
- **Nothing extra at inference.** ``x A`` then ``B`` costs ``r (in + out)`` multiplications per
  token while training, and the ``(in, out)`` product is never formed. Once trained, the update
  is folded into the kernel, ``W' = W + (alpha / r) A B`` (``merge_lora``): a plain ``Dense``
  again, as fast as the original.
- **The bias stays frozen**, as in the paper (which trains ``A`` and ``B`` only) and Hugging
  Face PEFT's default (``bias="none"``); Keras's ``enable_lora`` leaves it trainable. So an
  adapter is ``A`` and ``B`` and nothing else, and merging changes the kernel only.

``apply_lora`` puts a ``LoRADense`` in place of chosen attention projections of every block of a
GPT (by default ``query`` and ``value``, the paper's ``W_q`` and ``W_v``) and freezes every other
weight. Both paths of ``CausalSelfAttention`` (written out and fused) and its KV-cache path call
these projections, so LoRA acts in training, in ``model.call_with_cache`` and in
``llm_keras.generation``.

**Saving.** ``GPT.get_config`` rebuilds plain ``Dense`` projections, so a ``.keras`` file of a GPT
that still holds ``LoRADense`` layers does not load (Keras finds four weights where a ``Dense``
has two). Save one of two ways:

1. merged: ``merge_lora(model)`` then ``model.save(path)``: it loads as a plain ``GPT`` with the
   same outputs;
2. the adapter only: ``save_lora_weights(model, "adapter.npz")`` writes ``A`` and ``B`` of every
   adapted layer with the rank, alpha, targets and a fingerprint of the frozen base weights (a
   few kilobytes); ``load_lora_weights(base_model, "adapter.npz")`` on the same base model gives
   the tuned model back, and refuses another base model.

Keras's own ``Dense.enable_lora`` saves differently (tested in this module's tests):
``save`` writes the merged kernel ``W + (alpha / r) A B`` in place of ``W``. A model whose config
rebuilds the LoRA (a ``Dense`` with ``lora_rank`` in its config) loads with that merged kernel and
``A = B = 0``: the outputs are kept, but with both zero no gradient reaches ``A`` or ``B`` (see
above), so training the reloaded LoRA further changes nothing; and ``lora_alpha`` comes back equal
to the rank, whatever it was. A GPT whose projections had ``enable_lora`` reloads as a plain GPT
with the merged kernels, like option 1.
"""

import contextlib
import math
from pathlib import Path

import keras
import numpy as np
from keras import ops

from llm_keras.generation import decode

PROJECTIONS = ("query", "key", "value", "output_projection")
"""The projections of ``CausalSelfAttention`` that ``apply_lora`` can adapt (its ``targets``)."""


@keras.saving.register_keras_serializable(package="llm_keras")
class LoRADense(keras.layers.Layer):
    """A frozen ``Dense`` plus a trainable low-rank update: ``x W + (alpha / rank) (x A) B + b``.

    Args:
        units: output features ``out``.
        rank: the rank ``r`` of the update, at most ``min(in, out)``.
        alpha: the update is scaled by ``alpha / rank``; ``None`` means ``rank`` (scale 1).
        use_bias: whether the layer adds a bias ``b`` ``(out,)``.
        seed: seed of the random initial ``A`` (and of ``W`` when the layer is not made with
            ``from_dense``); ``None`` draws from Keras's global seed.
        **kwargs: passed to ``keras.layers.Layer`` (``name``, ``dtype``).

    Weights: ``kernel`` ``W`` ``(in, out)`` and ``bias`` ``b`` ``(out,)``, frozen; ``lora_a``
    ``A`` ``(in, rank)`` (He-uniform, as Keras's ``enable_lora``) and ``lora_b`` ``B``
    ``(rank, out)`` (zeros), trainable.

    Call arguments:
        inputs: ``(..., in)``.

    Returns:
        ``(..., out)``, equal to ``keras.layers.Dense`` with kernel ``merged_kernel()``.

    Example:

    >>> layer = LoRADense.from_dense(attention.query, rank=4)   # outputs unchanged (B = 0)
    >>> [w.name for w in layer.trainable_weights]                # ['lora_a', 'lora_b']
    """

    def __init__(self, units, rank, alpha=None, use_bias=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        for option, value in (("units", units), ("rank", rank)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{option}={value!r} must be a positive integer.")
        if alpha is not None and not (isinstance(alpha, (int, float)) and alpha > 0):
            raise ValueError(
                f"alpha={alpha!r} must be a positive number (the update is scaled by "
                "alpha / rank), or None for alpha = rank."
            )
        self.units = units
        self.rank = rank
        self.alpha = rank if alpha is None else alpha
        self.use_bias = use_bias
        self.seed = seed

    @property
    def scale(self):
        """``alpha / rank``, the factor of the low-rank update."""
        return self.alpha / self.rank

    def build(self, input_shape):
        in_features = input_shape[-1]
        if self.rank > min(in_features, self.units):
            raise ValueError(
                f"rank={self.rank} is larger than min(in, out) = min({in_features}, "
                f"{self.units}): A B could then be any matrix and LoRA would save nothing. "
                f"Choose rank <= {min(in_features, self.units)} (LoRA's ranks are small: 4, 8, 16)."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(in_features, self.units),
            initializer=keras.initializers.GlorotUniform(self.seed),
            trainable=False,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros", trainable=False)
            if self.use_bias
            else None
        )
        self.lora_a = self.add_weight(
            name="lora_a",
            shape=(in_features, self.rank),
            initializer=keras.initializers.HeUniform(self.seed),
        )
        self.lora_b = self.add_weight(
            name="lora_b", shape=(self.rank, self.units), initializer="zeros"
        )

    def call(self, inputs):
        # Never forms the (in, out) update: x A is (..., rank), then (..., out).
        update = ops.matmul(ops.matmul(inputs, self.lora_a), self.lora_b)
        outputs = ops.matmul(inputs, self.kernel) + self.scale * update
        return outputs if self.bias is None else outputs + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def merged_kernel(self):
        """``W + (alpha / rank) A B`` ``(in, out)``: the kernel of the equivalent ``Dense``."""
        return self.kernel + self.scale * ops.matmul(self.lora_a, self.lora_b)

    @classmethod
    def from_dense(cls, dense, rank, alpha=None, seed=None):
        """A ``LoRADense`` with the kernel and bias of a built ``keras.layers.Dense`` (copied).

        It has the same name, dtype policy and variable paths (``.../query/kernel``), and, with
        ``B = 0``, the same outputs as ``dense``.
        """
        if not isinstance(dense, keras.layers.Dense) or not dense.built:
            raise ValueError(
                f"from_dense needs a built keras.layers.Dense, got {dense!r}: build it first "
                "(call it once, or dense.build(input_shape))."
            )
        if getattr(dense, "lora_enabled", False):
            raise ValueError(
                f"Dense {dense.name!r} already has Keras's own LoRA (enable_lora): its kernel "
                "property returns W + update. Start from a Dense without it."
            )
        if dense.activation not in (None, keras.activations.linear):
            raise ValueError(
                f"Dense {dense.name!r} has activation {dense.activation.__name__}: LoRADense "
                "adapts linear projections only (the attention projections are linear)."
            )
        in_features = dense.kernel.shape[0]
        with _scope_beside(dense):
            layer = cls(
                dense.units,
                rank,
                alpha=alpha,
                use_bias=dense.use_bias,
                seed=seed,
                dtype=dense.dtype_policy,
                name=dense.name,
            )
            layer.build((None, in_features))
        layer.kernel.assign(dense.kernel)
        if dense.use_bias:
            layer.bias.assign(dense.bias)
        return layer

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "rank": self.rank,
                "alpha": self.alpha,
                "use_bias": self.use_bias,
                "seed": self.seed,
            }
        )
        return config


def apply_lora(model, rank, alpha=None, targets=("query", "value"), seed=0):
    """Adapt ``targets`` of every attention layer of a GPT with LoRA; freeze everything else.

    Each targeted ``keras.layers.Dense`` of ``model.blocks[i].attention`` is replaced by
    ``LoRADense.from_dense`` (seeds ``seed, seed + 1, ...``, one per adapted layer), so the
    outputs are unchanged until training moves ``B``. Every other weight of the model is frozen
    (``trainable = False``): ``model.trainable_weights`` is the ``lora_a`` and ``lora_b`` of the
    adapted layers, and nothing else.

    Compile the model after ``apply_lora``: an optimizer that has already taken a step was built
    for the old trainable weights, and Keras refuses to use it for the new ones.

    Args:
        model: a ``llm_keras.models.GPT``.
        rank: the rank ``r`` of each update.
        alpha: the scale is ``alpha / rank``; ``None`` means ``rank``.
        targets: names among ``PROJECTIONS``: ``"query"``, ``"key"``, ``"value"``,
            ``"output_projection"``.
        seed: seed of the first ``A``.

    Returns:
        The number of trainable parameters now:
        ``n_layers * len(targets) * rank * (d_model + d_model)``.

    Raises:
        ValueError: for a model without attention blocks, unknown or repeated targets, or a model
            that already has LoRA layers.
        TypeError: for ``targets`` given as one string rather than a tuple of names.
    """
    blocks = _blocks(model, "apply_lora")
    targets = _check_targets(targets)
    if _adapted(model):
        raise ValueError(
            "This model already has LoRA layers: apply_lora once. To adapt it again, merge the "
            "first adapters into the kernels with merge_lora(model), then apply_lora."
        )
    # Make every new layer first: a bad rank or alpha raises before the model is changed.
    places = [(block.attention, name) for block in blocks for name in targets]
    new_layers = [
        LoRADense.from_dense(getattr(attention, name), rank, alpha, seed + i)
        for i, (attention, name) in enumerate(places)
    ]
    for weight in model.weights:
        weight.trainable = False
    for (attention, name), layer in zip(places, new_layers, strict=True):
        _replace_sublayer(attention, name, layer)
    _forget_traced_functions(model)
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def merge_lora(model):
    """Fold every adapter into its kernel: each ``LoRADense`` of the attention becomes a plain
    ``keras.layers.Dense`` with kernel ``W + (alpha / rank) A B`` and the same bias.

    The outputs are unchanged (within float rounding), the model is a plain GPT again (it saves
    and loads as one), and it costs nothing more than the base model to run. Which weights are
    frozen does not change: the new kernels and biases are frozen like the ``W`` and ``b`` they
    replace (set ``weight.trainable = True`` to train further; a loaded file is all trainable).

    Returns:
        ``model`` itself, changed in place.

    Raises:
        ValueError: if the model has no ``LoRADense`` layers (nothing to merge).
    """
    _blocks(model, "merge_lora")
    adapted = _adapted(model)
    if not adapted:
        raise ValueError(
            "This model has no LoRA layers, so there is nothing to merge: apply_lora(model, rank) "
            "or load_lora_weights(model, path) adds them."
        )
    for attention, name, lora in adapted:
        with _scope_beside(lora):
            dense = keras.layers.Dense(
                lora.units, use_bias=lora.use_bias, dtype=lora.dtype_policy, name=lora.name
            )
            dense.build((None, lora.kernel.shape[0]))
        dense.kernel.assign(lora.merged_kernel())
        dense.kernel.trainable = lora.kernel.trainable
        if lora.use_bias:
            dense.bias.assign(lora.bias)
            dense.bias.trainable = lora.bias.trainable
        _replace_sublayer(attention, name, dense)
    _forget_traced_functions(model)
    return model


def save_lora_weights(model, path):
    """Write the adapters of ``model`` (``A`` and ``B`` of every ``LoRADense``) to a ``.npz``.

    The file also holds ``rank``, ``alpha``, ``targets``, ``n_layers``, ``d_model`` and
    ``base_weight_norm``, the norm of every frozen weight (``load_lora_weights`` checks it to
    refuse a different base model). The frozen weights themselves are not in it.

    Args:
        model: a GPT after ``apply_lora`` (or ``load_lora_weights``).
        path: a file name ending in ``.npz``.
    """
    _blocks(model, "save_lora_weights")
    path = _npz_path(path)
    rank, alpha, targets = _lora_settings(model)
    arrays = {
        "rank": np.asarray(rank),
        "alpha": np.asarray(alpha, dtype="float64"),
        "targets": np.asarray(targets),
        "n_layers": np.asarray(model.config.n_layers),
        "d_model": np.asarray(model.config.d_model),
        "base_weight_norm": np.asarray(_base_weight_norm(model)),
    }
    for i, block in enumerate(model.blocks):
        for name in targets:
            layer = getattr(block.attention, name)
            arrays[f"block_{i}.{name}.lora_a"] = keras.ops.convert_to_numpy(layer.lora_a)
            arrays[f"block_{i}.{name}.lora_b"] = keras.ops.convert_to_numpy(layer.lora_b)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def load_lora_weights(model, path):
    """Set the adapters saved by ``save_lora_weights`` into ``model``.

    ``model`` is either the base model the adapters were trained on (a plain GPT:
    ``apply_lora`` is applied with the saved rank, alpha and targets) or one that already has
    LoRA layers with those settings. Either way its outputs become those of the tuned model.

    Returns:
        ``model``, changed in place.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not an adapter file, or was made for another shape of model,
            other LoRA settings, or other base weights; the message says which.
    """
    _blocks(model, "load_lora_weights")
    path = _npz_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No adapter file at {path}: save one with save_lora_weights.")
    with np.load(path) as file:
        saved = dict(file)
    settings = ("rank", "alpha", "targets", "n_layers", "d_model", "base_weight_norm")
    missing = [key for key in settings if key not in saved]
    if missing:
        raise ValueError(
            f"{path} is not a LoRA adapter file (no {', '.join(missing)}): make one with "
            "save_lora_weights(model, path)."
        )
    rank, alpha = int(saved["rank"]), float(saved["alpha"])
    targets = tuple(str(t) for t in saved["targets"])
    shape = (int(saved["n_layers"]), int(saved["d_model"]))
    if shape != (model.config.n_layers, model.config.d_model):
        raise ValueError(
            f"{path} holds adapters for a GPT with n_layers={shape[0]}, d_model={shape[1]}; "
            f"this model has n_layers={model.config.n_layers}, d_model={model.config.d_model}. "
            "Load it into the base model it was trained on."
        )
    norm = _base_weight_norm(model)
    if not math.isclose(norm, float(saved["base_weight_norm"]), rel_tol=1e-6):
        raise ValueError(
            f"{path} was trained on other base weights (their norm was "
            f"{float(saved['base_weight_norm']):.6f}; this model's is {norm:.6f}): the adapters "
            "only make sense on top of the base model they were trained with. Load that one."
        )
    if _adapted(model):
        if _lora_settings(model) != (rank, alpha, targets):
            raise ValueError(
                f"{path} holds adapters with rank={rank}, alpha={alpha:g}, targets={targets}, "
                "but this model's LoRA layers have rank={}, alpha={:g}, targets={}: load it into "
                "the base model (without LoRA layers).".format(*_lora_settings(model))
            )
    else:
        apply_lora(model, rank, alpha, targets)
    for i, block in enumerate(model.blocks):
        for name in targets:
            layer = getattr(block.attention, name)
            layer.lora_a.assign(saved[f"block_{i}.{name}.lora_a"])
            layer.lora_b.assign(saved[f"block_{i}.{name}.lora_b"])
    return model


def _blocks(model, function):
    """``model.blocks``, or a ``ValueError`` that says the function needs a GPT."""
    blocks = getattr(model, "blocks", None)
    if not blocks or not all(hasattr(block, "attention") for block in blocks):
        raise ValueError(
            f"{function} expects a llm_keras GPT (attention layers at model.blocks[i].attention), "
            f"got {type(model).__name__}."
        )
    return blocks


def _check_targets(targets):
    if isinstance(targets, str):
        raise TypeError(
            f"targets={targets!r} must be a tuple of names, e.g. ({targets!r},), not a string."
        )
    targets = tuple(targets)
    unknown = [t for t in targets if t not in PROJECTIONS]
    if unknown or not targets or len(set(targets)) != len(targets):
        problem = f"unknown {unknown}" if unknown else "empty or repeated"
        raise ValueError(
            f"targets={targets!r}: {problem}. Choose one or more distinct names among "
            f"{', '.join(PROJECTIONS)}."
        )
    return targets


def _adapted(model):
    """``(attention, name, layer)`` for every ``LoRADense`` among the attention projections."""
    return [
        (block.attention, name, getattr(block.attention, name))
        for block in model.blocks
        for name in PROJECTIONS
        if isinstance(getattr(block.attention, name), LoRADense)
    ]


def _lora_settings(model):
    """``(rank, alpha, targets)`` shared by every adapted layer, or a ``ValueError``."""
    adapted = _adapted(model)
    if not adapted:
        raise ValueError("This model has no LoRA layers: apply_lora(model, rank) adds them.")
    targets = tuple(
        name
        for name in PROJECTIONS
        if isinstance(getattr(model.blocks[0].attention, name), LoRADense)
    )
    settings = {(layer.rank, float(layer.alpha)) for _, _, layer in adapted}
    if len(settings) > 1 or len(adapted) != len(model.blocks) * len(targets):
        raise ValueError(
            "The model's LoRA layers differ from block to block (rank, alpha or which "
            "projections): save_lora_weights handles models adapted by apply_lora."
        )
    ((rank, alpha),) = settings
    return rank, alpha, targets


def _base_weight_norm(model):
    """The Euclidean norm of every weight that is not an adapter, in float64: a fingerprint of
    the base model that stays the same while LoRA trains."""
    adapters = {id(w) for _, _, layer in _adapted(model) for w in (layer.lora_a, layer.lora_b)}
    squares = sum(
        float(np.sum(np.square(keras.ops.convert_to_numpy(w).astype("float64"))))
        for w in model.weights
        if id(w) not in adapters
    )
    return math.sqrt(squares)


def _npz_path(path):
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path={str(path)!r} must end in .npz (an adapter file is a NumPy .npz).")
    return path


def _scope_beside(layer):
    """The name scope in which a new layer named like ``layer`` gets ``layer``'s variable paths
    (``gpt/block_0/attention/query/kernel``), so that paths stay unique in the model."""
    parent = (layer.path or "").rpartition("/")[0]  # "gpt/block_0/attention"
    if not parent:
        return contextlib.nullcontext()
    grandparent, _, name = parent.rpartition("/")
    return keras.name_scope(name, override_parent=grandparent)


def _replace_sublayer(parent, name, new):
    """``parent.name = new`` for a built Keras layer, whose tracker refuses new sublayers: the
    new layer takes the old one's place in the list of sublayers (so the old weights leave
    ``parent.weights``)."""
    parent._tracker.replace_tracked_value("layers", getattr(parent, name), new)
    setattr(parent, name, new)


def _forget_traced_functions(model):
    """Drop what was traced with the old layers: Keras's train/test/predict functions (as
    ``Model.quantize`` does), the decoding functions ``llm_keras.generation`` compiled for this
    model (a ``tf.function`` keeps reading the old projections' variables) and, on PyTorch, the
    parameter lists ``model.parameters()`` reads."""
    model.train_function = model.test_function = model.predict_function = None
    decode.forget_compiled(model)
    if keras.backend.backend() == "torch":
        for layer in model._flatten_layers():
            layer._track_variables()
