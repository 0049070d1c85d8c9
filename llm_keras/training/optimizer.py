"""The optimizer: AdamW as nanoGPT configures it (week 3, "Optimisation").

- Adam (``beta_1`` for the running mean of the gradients, ``beta_2`` for that of their squares;
  nanoGPT uses 0.99 rather than 0.999 for its small models, which forget old gradients faster);
- decoupled weight decay ("W"): each step also shrinks every matrix by ``lr * weight_decay``, a
  pull towards zero that does not go through the gradient. As in nanoGPT, only the 2-D weights
  decay (dense kernels and embedding tables); biases and normalisation scales, 1-D, do not: they
  set offsets and gains that have no reason to be small;
- the gradients of all weights together are rescaled to norm at most ``clipnorm`` (1.0) before
  the step, so one bad batch cannot throw the weights far;
- optionally, gradients averaged over ``gradient_accumulation_steps`` micro-batches before each
  update: the same update as a batch that many times larger, in the memory of one micro-batch.
"""

import keras

from llm_keras.training.fused_adamw import FusedAdamW
from llm_keras.training.schedule import WarmupCosineDecay


def build_optimizer(
    model,
    learning_rate,
    weight_decay=0.1,
    beta_1=0.9,
    beta_2=0.99,
    clipnorm=1.0,
    gradient_accumulation_steps=1,
    fused=False,
):
    """``keras.optimizers.AdamW`` with weight decay on ``model``'s 2-D weights only.

    Args:
        model: the model whose ``trainable_variables`` the optimizer will update.
        learning_rate: a float or a schedule (``WarmupCosineDecay``).
        weight_decay: decoupled weight decay (nanoGPT: 0.1).
        beta_1, beta_2: Adam's decay rates (nanoGPT's Shakespeare runs: 0.9, 0.99).
        clipnorm: the largest global norm of the gradients, or ``None``/``0`` for no clipping.
        gradient_accumulation_steps: micro-batches per update (1: none).
        fused: ``FusedAdamW``: the same optimizer, its update one fused kernel on PyTorch.

    Returns:
        A ``keras.optimizers.AdamW`` (epsilon 1e-8, PyTorch's default).
    """
    if gradient_accumulation_steps < 1:
        raise ValueError(
            f"gradient_accumulation_steps={gradient_accumulation_steps} must be >= 1 (1: none)."
        )
    if clipnorm is not None and clipnorm < 0:
        raise ValueError(f"clipnorm={clipnorm} must be positive, or 0/None for no clipping.")
    if isinstance(learning_rate, WarmupCosineDecay) and (
        learning_rate.accumulation_steps != gradient_accumulation_steps
    ):
        raise ValueError(
            f"The schedule has accumulation_steps={learning_rate.accumulation_steps} but the "
            f"optimizer gradient_accumulation_steps={gradient_accumulation_steps}: give both "
            "the same number, or the learning rate would move at the wrong speed."
        )
    optimizer_class = FusedAdamW if fused else keras.optimizers.AdamW
    optimizer = optimizer_class(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=1e-8,
        global_clipnorm=clipnorm or None,
        gradient_accumulation_steps=(
            gradient_accumulation_steps if gradient_accumulation_steps > 1 else None
        ),
    )
    # Must come before the optimizer is built (Keras raises otherwise).
    optimizer.exclude_from_weight_decay(
        var_list=[v for v in model.trainable_variables if len(v.shape) < 2]
    )
    return optimizer
