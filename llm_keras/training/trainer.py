"""Training a GPT with ``model.fit``, resumably (week 3, "The training loop").

``TrainingConfig`` holds nanoGPT's training settings (presets named like the model presets);
``compile_for_training`` compiles a ``GPT`` with the loss, metrics and optimizer of this package;
``train`` runs ``fit`` on next-token windows with periodic validation, checkpoints, a NaN guard,
sample text and TensorBoard logs, and resumes from the latest checkpoint.

How the steps are laid out: one Keras "epoch" is one evaluation interval (``eval_interval``
optimizer steps). At the end of each, Keras evaluates on the validation windows, then the
callbacks log, sample, and checkpoint. So the progress bar's "Epoch 3/8" means "interval 3 of 8".

    >>> model = GPT(GPTConfig.preset("shakespeare-char-cpu"))
    >>> config = TrainingConfig.preset("shakespeare-char-cpu")
    >>> compile_for_training(model, config)
    >>> history = train(model, train_ids, val_ids, config, directory="runs/shakespeare",
    ...                 tokenizer=tokenizer)
    >>> history.evaluations[-1]["val_loss"]                                 # about 1.88
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras

from llm_keras.config_dict import ConfigDict
from llm_keras.data.windows import NextTokenWindows, check_windows, evaluation_windows
from llm_keras.training.checkpoint import Checkpoint, restore_latest_intact
from llm_keras.training.history import LossHistory
from llm_keras.training.losses import CausalLMLoss
from llm_keras.training.metrics import BitsPerCharacter, Perplexity
from llm_keras.training.nan_guard import NaNGuard
from llm_keras.training.optimizer import build_optimizer
from llm_keras.training.safe_stop import StopBetweenSteps, stop_at_safe_points
from llm_keras.training.sample_text import SampleText
from llm_keras.training.schedule import WarmupCosineDecay
from llm_keras.training.tensorboard_logs import TensorBoardLogs, tensorboard_available

DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
LOGS_DIR = "logs"
SAMPLES_FILE = "samples.txt"


@dataclasses.dataclass
class TrainingConfig(ConfigDict):
    """How to train: nanoGPT's settings (``config/train_shakespeare_char.py`` and its CPU line).

    Args:
        steps: optimizer steps (nanoGPT's ``max_iters``); a multiple of ``eval_interval``.
        batch_size: windows per micro-batch.
        learning_rate: the peak learning rate, reached after the warm-up.
        min_learning_rate: the floor of the cosine decay.
        warmup_steps: steps of linear warm-up.
        decay_steps: the step where the decay reaches the floor (``None``: ``steps``).
        weight_decay: AdamW's decoupled weight decay on 2-D weights.
        beta_1, beta_2: Adam's decay rates.
        grad_clip: the largest global gradient norm (0: no clipping).
        gradient_accumulation_steps: micro-batches per optimizer step.
        eval_interval: steps between evaluations (and checkpoints, samples).
        eval_batches: batches of ``batch_size`` validation windows per evaluation.
        dtype_policy: ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"`` (the latter
            with dynamic loss scaling).
        seed: seeds the weights, the batches and the dropout.
        keep_checkpoints: how many checkpoints to keep.
        steps_per_execution: steps per compiled call on JAX and TensorFlow (PyTorch runs one);
            a divisor of ``eval_interval * gradient_accumulation_steps``.
        sample_tokens: tokens of sample text at each evaluation (0: none).
    """

    steps: int = 2000
    batch_size: int = 12
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 100
    decay_steps: int | None = None
    weight_decay: float = 0.1
    beta_1: float = 0.9
    beta_2: float = 0.99
    grad_clip: float = 1.0
    gradient_accumulation_steps: int = 1
    eval_interval: int = 250
    eval_batches: int = 20
    dtype_policy: str = "float32"
    seed: int = 1337
    keep_checkpoints: int = 3
    steps_per_execution: int = 1
    sample_tokens: int = 200

    def __post_init__(self):
        if self.decay_steps is None:
            self.decay_steps = self.steps
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in ("learning_rate", "min_learning_rate", "weight_decay", "beta_1",
                              "beta_2", "grad_clip"):  # fmt: skip
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(
                        f"{field.name} must be a number >= 0, got {field.name}={value!r}."
                    )
            elif field.name != "dtype_policy":
                smallest = 0 if field.name in ("warmup_steps", "seed", "sample_tokens") else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                    raise ValueError(
                        f"{field.name} must be an integer >= {smallest}, got "
                        f"{field.name}={value!r}."
                    )
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(
                f"Unknown dtype_policy {self.dtype_policy!r}: choose one of "
                f"{', '.join(DTYPE_POLICIES)}."
            )
        if self.steps % self.eval_interval:
            raise ValueError(
                f"steps={self.steps} is not a multiple of eval_interval={self.eval_interval}: "
                "training runs in whole evaluation intervals. Use e.g. steps="
                f"{(self.steps // self.eval_interval + 1) * self.eval_interval}."
            )
        for name in ("beta_1", "beta_2"):
            if not getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be below 1 (0.9, 0.99...).")
        micro_steps = self.eval_interval * self.gradient_accumulation_steps
        if micro_steps % self.steps_per_execution:
            raise ValueError(
                f"steps_per_execution={self.steps_per_execution} must divide the "
                f"{micro_steps} micro-batches of an evaluation interval."
            )
        # The schedule checks its own arguments (warmup_steps < decay_steps, min <= peak).
        self.schedule()

    def schedule(self):
        """The learning-rate schedule these settings describe."""
        return WarmupCosineDecay(
            self.learning_rate,
            self.warmup_steps,
            self.decay_steps,
            self.min_learning_rate,
            accumulation_steps=self.gradient_accumulation_steps,
        )

    @classmethod
    def preset(cls, name, **overrides):
        """nanoGPT's settings for the model preset of the same name, some fields changed."""
        if name not in TRAINING_PRESETS:
            raise ValueError(
                f"Unknown preset {name!r}: choose one of {', '.join(TRAINING_PRESETS)}."
            )
        return cls.from_dict({**TRAINING_PRESETS[name], **overrides})


TRAINING_PRESETS = {
    # nanoGPT's README, the MacBook line: --batch_size=12 --max_iters=2000 --lr_decay_iters=2000
    # --eval_iters=20 (with config/train_shakespeare_char.py for the rest).
    "shakespeare-char-cpu": dict(steps=2000, batch_size=12, eval_interval=250, eval_batches=20),
    # config/train_shakespeare_char.py: one GPU, batch 64, 5000 iterations, eval_iters 200.
    "shakespeare-char": dict(steps=5000, batch_size=64, eval_interval=250, eval_batches=200),
    # GPT-2 small from scratch on a small corpus: nanoGPT's train.py defaults, scaled down.
    "gpt2-small": dict(
        steps=5000, batch_size=8, learning_rate=6e-4, min_learning_rate=6e-5, warmup_steps=200,
        beta_2=0.95, eval_interval=250, eval_batches=50, gradient_accumulation_steps=4,
    ),
}  # fmt: skip


def compile_for_training(
    model, config, tokens_per_character=1.0, jit_compile=None, record_forward=None, fused=None
):
    """Compile ``model`` with ``CausalLMLoss``, perplexity and bits per character, and AdamW
    with ``config``'s schedule, clipping and accumulation, compiled as fits the backend.

    ``jit_compile=None`` chooses per backend: JAX always compiles; TensorFlow gets ``True``
    (XLA, which Keras leaves off on CPU unless asked: about 5 % faster per step here, but a
    longer compilation); PyTorch runs eagerly (``torch.compile`` is slower for this model).

    ``record_forward`` (PyTorch, a ``GPT``): the model's forward pass replayed from a record
    (``GPT.record_forward``), the rest of the step eager Keras; 11-15 % less time per step
    of the CPU preset, the same numbers. ``None``: on unless ``jit_compile`` is true.

    ``fused``: the loss and the metrics computed with one kernel each
    (``CausalLMLoss(fused=True)``) and the optimizer's update too (``FusedAdamW``), the same
    numbers to float32 rounding. ``None``: on PyTorch only, whose eager step pays for each
    separate operation (JAX and TensorFlow compile the step whole and fuse it themselves).
    (The model's normalisations have their own switch, ``GPTConfig.fused_norm``.)
    """
    if fused is None:
        fused = keras.backend.backend() == "torch"
    optimizer = build_optimizer(
        model,
        config.schedule(),
        weight_decay=config.weight_decay,
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        clipnorm=config.grad_clip,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        fused=fused,
    )
    backend = keras.backend.backend()
    model.compile(
        optimizer=optimizer,
        loss=CausalLMLoss(fused=fused),
        metrics=[Perplexity(fused=fused), BitsPerCharacter(tokens_per_character, fused=fused)],
        jit_compile=backend != "torch" if jit_compile is None else jit_compile,
        steps_per_execution=config.steps_per_execution if backend != "torch" else 1,
    )
    if backend == "torch" and hasattr(model, "record_forward"):
        model.record_forward(not jit_compile if record_forward is None else record_forward)
    return model


def train(
    model,
    train_ids,
    val_ids,
    config,
    directory=None,
    tokenizer=None,
    resume=False,
    verbose="auto",
    callbacks=(),
    state=None,
):
    """Train a compiled ``model`` (``compile_for_training``) on next-token windows.

    Args:
        model: a ``GPT`` compiled by ``compile_for_training(model, config)``; on TensorFlow
            it may be made in a ``tf.distribute`` strategy's scope (``train`` builds it then:
            ``build_for_fit``).
        train_ids, val_ids: the two splits as 1-D arrays of token ids.
        config: the ``TrainingConfig``.
        directory: the run directory for checkpoints, ``model.keras``, ``tokenizer/``, TensorBoard
            ``logs/``, ``samples.txt`` and ``loss_curve.png`` (``None``: keep nothing).
        tokenizer: the tokenizer of the ids (for ``model.keras``'s run directory and samples).
        resume: continue from the latest checkpoint in ``directory``.
        verbose: Keras's progress bar (``"auto"``/1: a bar; 2: a line per interval; 0: none).
        callbacks: more Keras callbacks.
        state: JSON-ready entries to store in each checkpoint (e.g. the model configuration).

    Returns:
        The ``LossHistory``: ``evaluations[-1]["val_loss"]`` is the final validation loss.

    Raises:
        ValueError: a split too short for the batch, ``resume`` without a checkpoint, or a
            checkpoint of other settings. ``TrainingDiverged`` (a ValueError) when the loss
            becomes nan or inf.
    """
    context_length = model.config.context_length
    check_windows(len(train_ids), context_length, config.batch_size, what="training split")
    num_eval = config.eval_batches * config.batch_size
    if 0 < len(val_ids) - context_length < num_eval:
        raise ValueError(
            f"An evaluation reads eval_batches={config.eval_batches} batches of "
            f"batch_size={config.batch_size} windows ({num_eval:,} windows), more than the "
            f"{len(val_ids) - context_length:,} different windows of the validation split: use a "
            "smaller batch_size or eval_batches, or more text."
        )
    check_windows(len(val_ids), context_length, num_eval, what="validation split")
    if directory is None and resume:
        raise ValueError("resume=True needs the run directory that holds the checkpoints.")
    if keras.backend.backend() == "tensorflow":
        _build_under_strategy(model, train_ids, config)

    micro_per_interval = config.eval_interval * config.gradient_accumulation_steps
    epochs = config.steps // config.eval_interval
    state = {"training_config": config.to_dict(), **(state or {})}
    history = LossHistory(config.batch_size * context_length)
    start = 0  # micro-batches already done
    if resume:
        start, history = resume_run(model, Path(directory), state, history)
    batches = NextTokenWindows(
        train_ids,
        config.batch_size,
        context_length,
        config.seed,
        start_step=start,
        num_steps=max(epochs * micro_per_interval - start, 1),
    )
    val_inputs, val_targets = evaluation_windows(val_ids, context_length, num_eval, config.seed)
    model_callbacks = [history, NaNGuard(), StopBetweenSteps()]
    if directory is not None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if tokenizer is not None and config.sample_tokens:
            model_callbacks.append(
                SampleText(tokenizer, max_new_tokens=config.sample_tokens,
                           path=directory / SAMPLES_FILE, print_fn=print if verbose else None)
            )  # fmt: skip
        model_callbacks.append(
            Checkpoint(directory, tokenizer, history, keep=config.keep_checkpoints, state=state)
        )
        if tensorboard_available():  # (written without TensorFlow: tensorboard_logs.py)
            model_callbacks.append(TensorBoardLogs(directory / LOGS_DIR))
        elif verbose:
            print("TensorBoard is not installed: no logs/ (pip install 'tensorboard>=2.20').")
    with stop_at_safe_points():  # Ctrl-C waits for the step in progress (safe_stop.py)
        model.fit(
            batches,
            epochs=epochs,
            initial_epoch=start // micro_per_interval,
            steps_per_epoch=micro_per_interval,
            validation_data=(val_inputs, val_targets),
            validation_batch_size=config.batch_size,
            shuffle=False,  # batch i is step start + i: fit would otherwise shuffle their order
            callbacks=[*model_callbacks, *callbacks],
            verbose=verbose,
        )
    return history


def _build_under_strategy(model, train_ids, config):
    """TensorFlow: build a model made under a ``tf.distribute`` strategy on a batch of integer
    ids (``build_for_fit``) before ``fit`` and before a resume restores its optimizer: ``fit``
    would build it on the mean of the devices' first batches, a float32 tensor, which the GPT
    refuses. A model built already (an explicit ``build_for_fit``) is left as it is."""
    from llm_keras.distributed.tf_mirrored import build_for_fit, made_under_strategy

    if made_under_strategy(model):
        from llm_keras.data.windows import random_batch

        batch = random_batch(train_ids, config.batch_size, model.config.context_length,
                             config.seed, 0)  # fmt: skip
        build_for_fit(model, batch)


def resume_run(model, directory, state, history, report=print):
    """Restore ``model`` from the latest intact checkpoint in ``directory`` for a resumed run.

    Refuses a checkpoint written with other ``state`` entries (settings), says "Resuming from
    step N" and returns ``(micro_batches_done, history)``: a new history of ``history``'s own
    class (``LossHistory``, or a subclass such as the reward model's ``RewardHistory``, with
    the same ``tokens_per_step`` and ``log_every``) holding the records saved so far. Shared by
    ``train`` and every fine-tuning and alignment stage (``sft.fine_tune``, ``train_dpo``...).
    """
    path, saved = restore_latest_intact(directory, model, report)
    for key, value in state.items():
        if saved.get(key) != value:
            raise ValueError(
                f"{path} was written with other settings ({key}: {saved.get(key)!r}, now "
                f"{value!r}). Resume with the settings the run started with."
            )
    resumed = type(history)(history.tokens_per_step, history.log_every, saved["history"])
    accumulation = saved.get("training_config", {}).get("gradient_accumulation_steps", 1)
    report(f"Resuming from step {saved['step'] // accumulation} ({path.name}).")
    return saved["step"], resumed
