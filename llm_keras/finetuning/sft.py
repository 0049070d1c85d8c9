"""Supervised fine-tuning: teaching a pretrained GPT to answer, with the loss on the answers only (week 6, "Instruction tuning with a masked loss").

A pretrained GPT continues text. To make it *answer*, train it further on chats: a user's
prompt and the assistant's answer, written with the chat template (``chat_template.py``):

    [USER] abc [END] [ASSISTANT] cba [END]

It is the same next-token training as week 3, with one change: the model should learn to
*write the answer*, not to *write the prompt* (prompts are given at generation time; modelling
them wastes capacity and, with many similar prompts, drowns the answer's signal). So each target
gets a weight, 1 for the answer's tokens and the closing end token, 0 for the prompt's, and the
loss is the mean over the weighted targets only:

    loss = sum_t w_t * nll_t / sum_t w_t

**The mask** (``sft_loss_mask``). ``format_example`` gives each token a role: 0 for the prompt
(``PROMPT_ROLE``), 1 for the assistant's tokens (``ASSISTANT_ROLE``). The inputs are
``ids[:-1]`` and the targets ``ids[1:]``, so target ``t`` is token ``t + 1``, and its weight is
``1`` exactly when token ``t + 1`` is the assistant's. For the chat above, one token per
character:

    ids      [USER]  a   b   c  [END] [ASST]  c   b   a  [END]
    roles       0    0   0   0    0     0     1   1   1    1
    inputs   [USER]  a   b   c  [END] [ASST]  c   b   a
    targets     a    b   c [END] [ASST]  c    b   a [END]
    weights     0    0   0   0    0     1     1   1   1

The first weighted target is the answer's first token, predicted from ``[ASSISTANT]``; the last
is ``[END]``, which teaches the model to stop. ``mask_prompt=False`` (the ablation) weighs every
real target, prompt included.

**Batches** (``pad_chats``). Chats differ in length; each becomes a row of a fixed length
``seq_len`` (one shape: one compilation), padded on the right with ``pad_id`` and weight 0.
Attention is causal, so padding *after* a chat changes nothing before it: the logits of the real
positions are those of the chat alone. A chat longer than ``seq_len + 1`` tokens is an error,
naming it, rather than silently cut (a cut chat would lose its end token, or its whole answer).
Packing several chats into one row would waste less compute on padding, but then, with plain
causal attention, a chat would see the chats before it in its row; rows of one chat each keep
training and generation alike (a chat always starts at position 0).

**The loss in Keras** (``MaskedCausalLMLoss``). ``model.fit(x, y, sample_weight=w)`` multiplies
each token's loss by its weight, but Keras's default reduction (``"sum_over_batch_size"``) then
divides by the number of *positions*, ``batch * seq``, not by ``sum(w)``: the loss would shrink
with the padding and with the share of prompt tokens, and a batch of short answers would count
less than one of long answers. This loss uses Keras's ``"mean_with_sample_weight"`` reduction
(``keras/src/losses/loss.py``), which divides by ``sum(w)`` (0 when every weight is 0).

**Training** (``fine_tune``). ``model.fit`` as in week 3 (``training/trainer.py``), reusing its
pieces: AdamW with warm-up and cosine decay (``build_optimizer``), the progress bar, the loss
history, a NaN guard, resumable checkpoints (``Checkpoint``, ``restore_latest_intact``). The
optimizer settings (``FineTuningConfig``), the compilation (``compile_for_fine_tuning``) and the
loop (``fit_resumably``) are those of the later stages too: the reward model and DPO extend the
settings and train in the same loop, GRPO compiles through the same function. The chats of step
``s`` are drawn from a generator seeded with ``(seed, s)`` alone (``SeededBatches``), so a
resumed run sees the batches the uninterrupted run would have seen.

    >>> tokenizer = ChatTokenizer(base_tokenizer, task.characters)
    >>> model = grow_vocabulary(base_model, tokenizer.vocab_size)
    >>> history = fine_tune(model, tokenizer, task.examples(2000), SFTConfig(steps=300))
    >>> evaluate_task(model, tokenizer, task)["exact_match"]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from llm_keras.config_dict import ConfigDict
from llm_keras.finetuning.chat_template import ASSISTANT_ROLE, check_vocabulary, format_example
from llm_keras.training.checkpoint import Checkpoint
from llm_keras.training.history import LossHistory
from llm_keras.training.losses import token_losses
from llm_keras.training.nan_guard import NaNGuard
from llm_keras.training.optimizer import build_optimizer
from llm_keras.training.safe_stop import StopBetweenSteps, stop_at_safe_points
from llm_keras.training.trainer import TrainingConfig, resume_run


def sft_loss_mask(token_ids, roles):
    """The weight of each next-token target of a chat: 1 on the assistant's tokens, else 0.

    Args:
        token_ids: a chat's ids ``(seq,)`` or a batch of chats ``(batch, seq)`` (list or array).
        roles: the role of each id, same shape (``PROMPT_ROLE`` 0, ``ASSISTANT_ROLE`` 1).

    Returns:
        float32 weights ``(seq - 1,)`` or ``(batch, seq - 1)``: ``weights[..., t] = 1`` when
        ``roles[..., t + 1] == ASSISTANT_ROLE`` (target ``t`` is token ``t + 1``), else 0.

    Example (the module docstring draws it): with ``add_chat_tokens(CharTokenizer("abcd"))``,
    ``a b c d`` are ids 0 to 3, ``[USER]`` 4, ``[ASSISTANT]`` 5, ``[END]`` 6, and

    >>> ids, roles = format_example(tokenizer, "abc", "cba")
    >>> ids, roles
    ([4, 0, 1, 2, 6, 5, 2, 1, 0, 6], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    >>> sft_loss_mask(ids, roles)
    array([0., 0., 0., 0., 0., 1., 1., 1., 1.], dtype=float32)
    """
    try:
        token_ids, roles = np.asarray(token_ids), np.asarray(roles)
    except ValueError:  # NumPy refuses ragged lists
        raise ValueError(
            "The chats of a batch have different lengths: pass one chat at a time, or pad them "
            "to one length first (pad_chats)."
        ) from None
    if token_ids.shape != roles.shape:
        raise ValueError(
            f"token_ids {token_ids.shape} and roles {roles.shape} must have the same shape: one "
            "role per token (format_example returns both)."
        )
    if token_ids.ndim not in (1, 2) or token_ids.shape[-1] < 2:
        raise ValueError(
            f"token_ids must be one chat (seq,) or a batch (batch, seq) of at least 2 tokens "
            f"(an input and its target), got shape {token_ids.shape}."
        )
    return (roles[..., 1:] == ASSISTANT_ROLE).astype("float32")


def pad_chats(chats, seq_len, pad_id, mask_prompt=True):
    """Chats as fixed-length rows of inputs, targets and weights, padded on the right.

    Args:
        chats: ``(ids, roles)`` pairs (``format_example``'s output), each at most
            ``seq_len + 1`` tokens long.
        seq_len: positions per row (at most the model's ``context_length``).
        pad_id: the id written after a chat (its value does not matter: weight 0, and causal
            attention hides it from the chat's positions).
        mask_prompt: ``True``: weights from ``sft_loss_mask`` (the answers only); ``False``:
            weight 1 on every real target, prompt included (the ablation).

    Returns:
        ``(inputs, targets, weights)``, each ``(len(chats), seq_len)``: int32, int32, float32.
        Padding has weight 0.

    Raises:
        ValueError: a chat longer than ``seq_len + 1`` tokens (named), or shorter than 2.
    """
    if not isinstance(mask_prompt, bool):
        raise ValueError(f"mask_prompt must be True or False, got mask_prompt={mask_prompt!r}.")
    chats = list(chats)
    inputs = np.full((len(chats), seq_len), pad_id, dtype="int32")
    targets = np.full((len(chats), seq_len), pad_id, dtype="int32")
    weights = np.zeros((len(chats), seq_len), dtype="float32")
    for row, (ids, roles) in enumerate(chats):
        length = len(ids) - 1  # targets of this chat
        if length > seq_len:
            raise ValueError(
                f"Chat {row} has {len(ids)} tokens, more than seq_len + 1 = {seq_len + 1}: "
                "raise seq_len (at most the model's context_length) or leave out chats longer "
                "than it."
            )
        mask = sft_loss_mask(ids, roles)  # checks the shapes
        inputs[row, :length] = ids[:-1]
        targets[row, :length] = ids[1:]
        weights[row, :length] = mask if mask_prompt else 1.0
    return inputs, targets, weights


@keras.saving.register_keras_serializable(package="llm_keras")
class MaskedCausalLMLoss(keras.losses.Loss):
    """Next-token cross-entropy averaged over the weighted targets: ``sum(w * nll) / sum(w)``.

    ``loss(targets, logits, sample_weight=weights)`` with targets ``(batch, seq)`` int, logits
    ``(batch, seq, vocab_size)`` and weights ``(batch, seq)`` (``pad_chats``); in ``fit``, the
    weights are the third item of each batch. A batch whose weights are all 0 has loss 0 (and no
    gradient). Without weights it is ``CausalLMLoss``: the mean over every position.

    Example:
        >>> model.compile(optimizer=..., loss=MaskedCausalLMLoss())
        >>> model.fit(SeededBatches((inputs, targets, weights), ...), ...)
    """

    def __init__(self, name="masked_causal_lm_loss", reduction="mean_with_sample_weight",
                 **kwargs):  # fmt: skip
        if reduction != "mean_with_sample_weight":
            raise ValueError(
                f"MaskedCausalLMLoss divides by the sum of the weights, so its reduction is "
                f"'mean_with_sample_weight'; got reduction={reduction!r}. For another reduction "
                "use CausalLMLoss(reduction=...)."
            )
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        return token_losses(y_true, y_pred)  # (batch, seq); Keras weighs and reduces


class SeededBatches(keras.utils.PyDataset):
    """The training batches of steps ``start_step .. start_step + num_steps - 1``, for ``fit``.

    Item ``i`` is ``data`` with ``batch_size`` of its rows, drawn without replacement by a
    generator seeded with ``(seed, start_step + i)``: a run resumed at step ``s`` passes
    ``start_step=s`` and sees the batches it would have seen. Every stage that trains with
    ``fit`` draws its batches here: SFT's padded chats, the reward model's and DPO's pairs.

    Args:
        data: what ``fit`` takes, e.g. ``(inputs, targets, weights)`` (``pad_chats``); each item
            an array, or a dict of arrays, with the same number of rows.
        batch_size: rows per batch.
        seed: seeds the rows of every step.
        start_step: the step of item 0.
        num_steps: items (``fit``'s steps).

    Example:
        >>> batches = SeededBatches(pad_chats(chats, seq_len, end_id), 32, seed=0, num_steps=300)
        >>> inputs, targets, weights = batches[0]               # each (32, seq_len)
    """

    def __init__(self, data, batch_size, seed, start_step=0, num_steps=1):
        super().__init__(workers=1, use_multiprocessing=False)
        rows = {len(array) for array in keras.tree.flatten(data)}
        if len(rows) != 1:
            raise ValueError(
                f"The arrays of data have different numbers of rows, {sorted(rows)}: give one "
                "row of each per example."
            )
        (rows,) = rows
        if batch_size > rows:
            raise ValueError(
                f"batch_size={batch_size} is larger than the {rows} training examples: use a "
                "smaller batch_size or more examples."
            )
        self.data, self.rows = data, rows
        self.batch_size, self.seed = batch_size, seed
        self.start_step, self.num_steps = start_step, num_steps

    def __len__(self):
        return self.num_steps

    def __getitem__(self, index):
        if not 0 <= index < self.num_steps:
            raise IndexError(f"batch {index} is outside [0, {self.num_steps})")
        rng = np.random.default_rng((self.seed, self.start_step + index))
        rows = rng.choice(self.rows, self.batch_size, replace=False)
        return keras.tree.map_structure(lambda array: array[rows], self.data)


@dataclasses.dataclass
class FineTuningConfig(ConfigDict):
    """The optimizer settings every fine-tuning stage shares: ``TrainingConfig``'s, for chats.

    ``SFTConfig``, the reward model's ``RewardConfig`` and DPO's ``DPOConfig`` extend it with
    the settings of their own loss (and their own defaults); the checks and the schedule are
    these.

    Args:
        steps: optimizer steps; a multiple of ``eval_interval``.
        batch_size: examples per step (chats, or pairs of chats).
        learning_rate: the peak learning rate, reached after the warm-up.
        min_learning_rate: the floor of the cosine decay (at ``steps``).
        warmup_steps: steps of linear warm-up.
        weight_decay: AdamW's decoupled weight decay on 2-D weights.
        beta_1, beta_2: Adam's decay rates.
        grad_clip: the largest global gradient norm (0: no clipping).
        eval_interval: steps between validations and checkpoints (one Keras epoch).
        seq_len: positions per row; ``None``: the longest chat's (at most ``context_length``).
        seed: seeds the order of the examples.
        keep_checkpoints: how many checkpoints to keep.
        steps_per_execution: steps per compiled call on JAX and TensorFlow (PyTorch runs one);
            a divisor of ``eval_interval``.
    """

    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 30
    weight_decay: float = 0.0
    beta_1: float = 0.9
    beta_2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 100
    seq_len: int | None = None
    seed: int = 0
    keep_checkpoints: int = 2
    steps_per_execution: int = 1

    def __post_init__(self):
        if self.seq_len is not None and (
            isinstance(self.seq_len, bool) or not isinstance(self.seq_len, int) or self.seq_len < 1
        ):
            raise ValueError(
                f"seq_len must be a positive integer or None (the longest chat's), got "
                f"seq_len={self.seq_len!r}."
            )
        self.training_config()  # checks the other fields, naming the one that is wrong

    def training_config(self):
        """The ``TrainingConfig`` of the same optimizer settings (its schedule, its checks)."""
        shared = {f.name for f in dataclasses.fields(TrainingConfig)}
        settings = {k: v for k, v in self.to_dict().items() if k in shared}
        return TrainingConfig(**settings, eval_batches=1, sample_tokens=0)

    def optimizer(self, model):
        """AdamW for ``model`` (``build_optimizer``: weight decay on 2-D weights only, clipped
        gradients) with the warm-up and cosine decay of these settings."""
        return build_optimizer(
            model, self.training_config().schedule(), weight_decay=self.weight_decay,
            beta_1=self.beta_1, beta_2=self.beta_2, clipnorm=self.grad_clip,
        )  # fmt: skip


@dataclasses.dataclass
class SFTConfig(FineTuningConfig):
    """How to fine-tune: the optimizer settings of ``FineTuningConfig`` and the loss mask.

    The fields are ``FineTuningConfig``'s (``steps``, ``batch_size`` chats per step, ``seed`` of
    their order...) and:

    Args:
        mask_prompt: ``True``: loss on the assistant's tokens only; ``False``: on every token of
            the chat (the ablation).
    """

    mask_prompt: bool = True

    def __post_init__(self):
        if not isinstance(self.mask_prompt, bool):
            raise ValueError(
                f"mask_prompt must be True or False, got mask_prompt={self.mask_prompt!r}."
            )
        super().__post_init__()


def compile_for_fine_tuning(model, config, loss=None, metrics=None, jit_compile=None):
    """Compile ``model`` for a fine-tuning or alignment stage: its loss and metrics, and the
    optimizer of its settings.

    Every stage compiles through here: SFT with ``MaskedCausalLMLoss``, the reward model with
    the Bradley-Terry loss and pairwise accuracy, DPO with its loss and reward statistics, GRPO
    with none (its model computes its own loss).

    Args:
        model: the Keras model ``fit`` (or ``train_on_batch``) trains.
        config: the stage's settings: ``config.optimizer(model)`` gives the optimizer
            (``FineTuningConfig.optimizer``: AdamW, warm-up and cosine decay, clipping) and
            ``config.steps_per_execution`` the steps per compiled call.
        loss: a Keras loss (``None``: the model's own ``compute_loss``).
        metrics: Keras metrics (``None``: the loss only).
        jit_compile: ``None``: compiled on JAX and TensorFlow, eager on PyTorch (as week 3's
            ``compile_for_training``: ``torch.compile`` is slower for these small models).

    Returns:
        ``model``, compiled.
    """
    backend = keras.backend.backend()
    model.compile(
        optimizer=config.optimizer(model),
        loss=loss,
        metrics=metrics,
        jit_compile=backend != "torch" if jit_compile is None else jit_compile,
        steps_per_execution=config.steps_per_execution if backend != "torch" else 1,
    )
    return model


def fine_tune(
    model,
    tokenizer,
    train_examples,
    config,
    out=None,
    resume=False,
    val_examples=None,
    verbose="auto",
    callbacks=(),
    state=None,
    jit_compile=None,
):
    """Fine-tune ``model`` on chats of ``train_examples`` with ``model.fit``, resumably.

    Args:
        model: a ``GPT`` whose vocabulary holds the tokenizer's (``grow_vocabulary``). It is
            compiled here (``compile_for_fine_tuning``, with ``MaskedCausalLMLoss``).
        tokenizer: the ``ChatTokenizer``.
        train_examples: ``tasks.Example``s (``prompt``, ``answer``).
        config: the ``SFTConfig``.
        out: the run directory for checkpoints, ``model.keras``, ``tokenizer/`` and the loss
            curve (``None``: keep nothing).
        resume: continue from the latest intact checkpoint in ``out``.
        val_examples: ``Example``s whose loss on the answers (masked, even when
            ``mask_prompt`` is ``False``) is measured at each ``eval_interval`` (``val_loss``;
            the mean over batches of ``batch_size`` chats).
        verbose: Keras's progress bar (``"auto"``/1: a bar; 2: a line per interval; 0: none).
        callbacks: more Keras callbacks.
        state: more JSON-ready entries for each checkpoint (e.g. the base run and the task).
        jit_compile: as for ``compile_for_fine_tuning`` (``None``: XLA on JAX and TensorFlow).

    Returns:
        The ``LossHistory`` (``evaluations[-1]["train_loss"]``, ``["val_loss"]``).

    Raises:
        ValueError: a model whose vocabulary lacks the chat tokens, a chat longer than the
            context, ``resume`` without a checkpoint or with other settings.
    """
    if not isinstance(config, SFTConfig):
        raise ValueError(f"config must be an SFTConfig, got {type(config).__name__}.")
    check_vocabulary(
        tokenizer,
        {"model": model},
        f"grow the model's vocabulary first (grow_vocabulary(model, {tokenizer.vocab_size})).",
    )
    if out is None and resume:
        raise ValueError("resume=True needs the run directory (out) that holds the checkpoints.")
    train_chats = [format_example(tokenizer, e.prompt, e.answer) for e in train_examples]
    val_chats = [format_example(tokenizer, e.prompt, e.answer) for e in val_examples or ()]
    if not train_chats:
        raise ValueError("train_examples is empty: give at least batch_size examples.")
    seq_len = config.seq_len or max(len(ids) for ids, _ in train_chats + val_chats) - 1
    if seq_len > model.config.context_length:
        raise ValueError(
            f"The longest chat needs seq_len={seq_len} positions, more than the model's "
            f"context_length={model.config.context_length}: use shorter examples."
        )
    arrays = pad_chats(train_chats, seq_len, tokenizer.end_id, config.mask_prompt)
    compile_for_fine_tuning(model, config, MaskedCausalLMLoss(), jit_compile=jit_compile)

    validation = None
    if val_chats:
        # The answers' loss, masked in both runs of the ablation, so that they compare.
        validation = pad_chats(val_chats, seq_len, tokenizer.end_id, mask_prompt=True)
    state = {"sft_config": config.to_dict(), **(state or {})}
    history = LossHistory(config.batch_size * seq_len)
    return fit_resumably(model, arrays, validation, config, history, state, out=out,
                         resume=resume, tokenizer=tokenizer, verbose=verbose,
                         callbacks=callbacks)  # fmt: skip


def fit_resumably(model, data, validation, config, history, state, out=None, resume=False,
                  tokenizer=None, verbose="auto", callbacks=()):  # fmt: skip
    """``model.fit`` on ``SeededBatches`` of ``data``, one Keras epoch per ``eval_interval``,
    resumable: the training loop SFT, the reward model and DPO share.

    With ``history`` and a ``NaNGuard`` as callbacks, Ctrl-C stopping between two steps
    (``stop_at_safe_points``) and, with ``out``, a ``Checkpoint`` at the end of each interval.

    Args:
        model: compiled (``compile_for_fine_tuning``).
        data: the training arrays, as ``SeededBatches`` takes them.
        validation: ``fit``'s ``validation_data`` (``None``: none), in batches of
            ``config.batch_size``.
        config: a ``FineTuningConfig`` (``steps``, ``eval_interval``, ``batch_size``, ``seed``,
            ``keep_checkpoints``).
        history: a new ``LossHistory`` (or subclass) for the run.
        state: the JSON-ready settings each checkpoint records; a resumed run must have the same.
        out: the run directory (``None``: no checkpoint).
        resume: continue from the latest intact checkpoint in ``out`` (``resume_run``).
        tokenizer: written with ``model.keras`` at each checkpoint (``None``: no ``model.keras``).
        verbose: Keras's progress bar (``"auto"``/1: a bar; 2: a line per interval; 0: none).
        callbacks: more Keras callbacks, after these.

    Returns:
        The history (when resuming, one of the same class holding the records saved so far).
    """
    start = 0
    if resume:
        start, history = resume_run(model, Path(out), state, history)
    batches = SeededBatches(data, config.batch_size, config.seed, start_step=start,
                            num_steps=max(config.steps - start, 1))  # fmt: skip
    model_callbacks = [history, NaNGuard(), StopBetweenSteps()]
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        model_callbacks.append(
            Checkpoint(out, tokenizer, history, keep=config.keep_checkpoints, state=state)
        )
    with stop_at_safe_points():  # Ctrl-C waits for the step in progress (safe_stop.py)
        model.fit(
            batches,
            epochs=config.steps // config.eval_interval,
            initial_epoch=start // config.eval_interval,
            steps_per_epoch=config.eval_interval,
            validation_data=validation,
            validation_batch_size=config.batch_size,
            shuffle=False,  # batch i is step start + i
            callbacks=[*model_callbacks, *callbacks],
            verbose=verbose,
        )
    return history
