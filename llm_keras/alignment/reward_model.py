"""A reward model learned from preferences (week 7, "A reward model from preferences").

A preference pair says which of two answers to a prompt is better (``preferences.py``). A
*reward model* turns such comparisons into a number per answer, ``r(prompt, answer)``, that a
later stage can maximise (GRPO's ``rewards.reward_model_reward``). It is the week 6 classifier
with one output instead of one per class: a GPT reads the whole chat, and a new head on the
hidden state of its last token (the closing end token, which has seen everything before it)
gives a scalar::

    token_ids (batch, seq), lengths (batch,)   [USER] prompt [END] [ASSISTANT] answer [END], padded
        -> GPT.hidden_states                   (batch, seq, d_model)
        -> last_token_features                 (batch, d_model)   at lengths[b] - 1: the last [END]
        -> head: Dense(1)                      (batch,)           the reward, float32

**The language model's own vote** (``log_prob_weight``). A head on the last token must learn
the arithmetic from the pairs alone; the GPT under it already predicts the answer digit by digit,
and the log-probability it gives the answer (``log_probs.py``) ranks a right answer above a near
miss more often than such a head learns to. With ``log_prob_weight=a0``, the reward adds it::

    reward = head(h_last) + a * log p(answer | prompt)    a learned, starting at a0

with ``log p(answer | prompt)`` summed over the answer's tokens and its closing end token
(``log_probs.sequence_log_probs`` with the SFT loss mask), through the same GPT (frozen with
``train_layers="head"``, trained with the rest otherwise), in the same forward pass. The head
then starts at zero, so that before training the reward is ``a0 * log p``: the language model's
own ranking, which the training refines.

**The Bradley-Terry model** (Bradley and Terry 1952; the reward model of InstructGPT, Ouyang et
al. 2022): the probability that people prefer answer ``c`` to answer ``r`` is the sigmoid of the
difference of their rewards, ``P(c > r) = sigmoid(r_c - r_r)``. Maximising the likelihood of
the observed preferences is minimising

    loss = mean over pairs of -log sigmoid(r_c - r_r - margin)

Only differences of rewards enter it: adding a constant to every reward changes nothing (the
head's bias gets no gradient and never moves), so a reward has no meaning on its own, only
against another answer's. Two equal rewards give ``-log sigmoid(0) = ln 2 = 0.693``, the loss of
a model that cannot tell the answers apart. The ``margin`` (TRL's ``RewardTrainer``, from Llama
2) asks the chosen answer to win by at least that much before the loss stops pushing.

**Computed stably.** ``-log sigmoid(x) = log(1 + exp(-x)) = softplus(-x)``. Written as
``-log(sigmoid(x))`` it fails for a confident wrong model: at ``x = -1000``, ``sigmoid(x)``
underflows to 0 and the loss becomes ``inf``, while ``softplus(1000)`` is exactly 1000.

**Training** (``train_reward_model``). Each example is a pair of chats, so a batch is
``token_ids (batch, 2, seq)`` and ``lengths (batch, 2)``, the chosen chat first: ``RewardModel``
scores any leading shape, here ``(batch, 2)``, and ``BradleyTerryLoss`` compares the two
columns. Keras's own compiled train step (``fit``) does the rest, on every backend, in SFT's
training loop (``sft.fit_resumably``: week 3's optimizer, schedule, NaN guard and checkpoints;
the pairs of step ``s`` are drawn from ``(seed, s)`` alone, so a resumed run is exact). The history
keeps the loss and the *pairwise accuracy*: the share of pairs whose chosen answer gets the
higher reward (a tie counts as wrong).

    >>> pairs = preference_pairs(task, 2000, split="train")
    >>> reward_model = RewardModel(sft_model, train_layers="all")
    >>> history = train_reward_model(reward_model, tokenizer, pairs, RewardConfig(steps=200))
    >>> pairwise_accuracy(reward_model, tokenizer, preference_pairs(task, 200, split="test"))
    >>> score(reward_model, tokenizer, ["47+8", "47+8"], ["55", "56"])     # (2,) rewards
"""

from __future__ import annotations

import dataclasses
import numbers

import keras
import numpy as np
from keras import ops

from llm_keras.alignment.log_probs import paired_texts, sequence_log_probs
from llm_keras.finetuning.chat_template import ASSISTANT_ROLE, check_vocabulary, format_example
from llm_keras.finetuning.classification import last_token_features, set_trainable_layers
from llm_keras.finetuning.sft import FineTuningConfig, compile_for_fine_tuning, fit_resumably
from llm_keras.finetuning.wrapped_gpt import WrappedGPT
from llm_keras.models.gpt import GPT
from llm_keras.training.history import LossHistory

# Chats per call of the model in ``score``; a last, shorter batch is filled up to this size.
SCORE_BATCH_SIZE = 64

# ---------------------------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------------------------


def _pair_losses(chosen_rewards, rejected_rewards, margin):
    """``-log sigmoid(r_c - r_r - margin)`` per pair, as ``softplus(margin - (r_c - r_r))``."""
    difference = ops.subtract(chosen_rewards, rejected_rewards)
    return ops.softplus(ops.subtract(margin, difference))


def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=0.0):
    """The Bradley-Terry loss of reward pairs: ``mean(-log sigmoid(r_c - r_r - margin))``.

    Args:
        chosen_rewards: ``(batch,)`` rewards of the preferred answers.
        rejected_rewards: ``(batch,)`` rewards of the other answers.
        margin: a float, or ``(batch,)`` one per pair: how much higher the chosen reward must be
            before the loss stops pushing (0: plain Bradley-Terry).

    Returns:
        A float32 scalar: ``ln 2`` when every pair ties (with margin 0), near 0 when every
        chosen reward wins by far, ``r_r - r_c`` when the wrong one wins by far.

    Example (a pair won by 2 costs ``softplus(-2) = 0.127``, a tie ``ln 2 = 0.693``):
        >>> float(bradley_terry_loss(np.array([2.0, 0.0]), np.array([0.0, 0.0])))
        0.41...
    """
    chosen = ops.convert_to_tensor(chosen_rewards, dtype="float32")
    rejected = ops.convert_to_tensor(rejected_rewards, dtype="float32")
    if chosen.shape != rejected.shape:
        raise ValueError(
            f"chosen_rewards {tuple(chosen.shape)} and rejected_rewards {tuple(rejected.shape)} "
            "must have the same shape: one reward of each per pair."
        )
    margin = ops.convert_to_tensor(margin, dtype="float32")
    return ops.mean(_pair_losses(chosen, rejected, margin))


@keras.saving.register_keras_serializable(package="llm_keras")
def pairwise_correct(margins, rewards):
    """1 for each pair whose chosen answer (column 0) gets the higher reward, else 0.

    A Keras metric function: ``margins`` ``(batch,)`` (the targets of ``fit``, unused: a pair is
    right when the chosen answer wins at all), ``rewards`` ``(batch, 2)``. Returns ``(batch,)``
    float32; a tie is 0.
    """
    del margins
    return ops.cast(ops.greater(rewards[..., 0], rewards[..., 1]), "float32")


@keras.saving.register_keras_serializable(package="llm_keras")
class BradleyTerryLoss(keras.losses.Loss):
    """``bradley_terry_loss`` as a Keras loss, for ``fit`` on pairs.

    ``loss(margins, rewards)``: ``margins`` ``(batch,)``, the targets of ``fit`` (each pair's
    margin; zeros for plain Bradley-Terry), ``rewards`` ``(batch, 2)``, the reward model's output
    on a batch of pairs, the chosen chat in column 0. The mean over pairs.

    Example:
        >>> reward_model.compile(optimizer=..., loss=BradleyTerryLoss())
        >>> reward_model.fit(encode_pairs(tokenizer, pairs), np.zeros(len(pairs)), ...)
    """

    def __init__(self, name="bradley_terry_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return _pair_losses(y_pred[..., 0], y_pred[..., 1], y_true)  # (batch,); Keras averages


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="llm_keras")
class RewardModel(WrappedGPT):
    """A GPT with a scalar head on its last token's hidden state: one reward per chat.

    Args:
        gpt: a ``GPT`` whose vocabulary holds the chat tokens (an SFT model, usually); the
            reward model uses, and may train, its weights.
        train_layers: which weights train, as for ``LastTokenClassifier``: ``"head"`` (the GPT
            frozen), ``"last_block"`` (the last block, the final norm and the head) or
            ``"all"`` (every weight the reward model uses; an untied ``lm_head`` stays frozen).
        log_prob_weight: ``None`` (the head alone), or the starting value ``a0`` of the learned
            weight ``a`` of the answer's log-probability under the GPT, added to the head's
            score (the module docstring; the head then starts at zero). A finite number.
        **kwargs: passed to ``keras.Model`` (``name``).

    Sublayers: ``gpt``, and ``head``, a ``keras.layers.Dense(1)`` in the GPT's dtype policy;
    with ``log_prob_weight``, the scalar weight ``learned_log_prob_weight`` (float32). Saved
    with the GPT (``WrappedGPT``).

    Call arguments:
        inputs: a dict ``{"token_ids": (..., seq) int, "lengths": (...) int}``: chats
            right-padded after their ``lengths`` real tokens (``encode_chats``), with any
            leading shape: ``(batch,)``, or ``(batch, 2)`` for pairs (``encode_pairs``); with
            ``log_prob_weight``, also ``"response_starts": (...) int``, the position of each
            answer's first token (``encode_chats`` gives all three).
        training: ``True`` applies the GPT's dropout.

    Returns:
        Rewards of shape ``(...)`` (the shape of ``lengths``), float32.

    Example:
        >>> reward_model = RewardModel(gpt, train_layers="all")
        >>> reward_model(encode_chats(tokenizer, ["47+8"], ["55"]))               # (1,)
        >>> RewardModel(gpt, train_layers="all", log_prob_weight=1.0)   # + a log p(answer)
    """

    def __init__(self, gpt, train_layers="last_block", log_prob_weight=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(gpt, GPT):
            raise TypeError(
                f"RewardModel expects a GPT, got {type(gpt).__name__}: load one with "
                "llm_keras.training.run_directory.load_for_inference(run_directory)."
            )
        if log_prob_weight is not None and (
            isinstance(log_prob_weight, bool)
            or not isinstance(log_prob_weight, numbers.Real)
            or not np.isfinite(log_prob_weight)
        ):
            raise ValueError(
                f"log_prob_weight must be a finite number (the starting weight of the answer's "
                f"log-probability, e.g. 1.0) or None (the head alone), got {log_prob_weight!r}."
            )
        self.gpt = gpt
        self.train_layers = train_layers
        self.log_prob_weight = None if log_prob_weight is None else float(log_prob_weight)
        # With the log-probability, the head starts at zero: the untrained reward is a0 log p.
        initializer = "glorot_uniform" if log_prob_weight is None else "zeros"
        self.head = keras.layers.Dense(1, kernel_initializer=initializer,
                                       dtype=gpt.dtype_policy, name="head")  # fmt: skip
        self.head.build((None, gpt.config.d_model))
        self.learned_log_prob_weight = None
        if log_prob_weight is not None:
            self.learned_log_prob_weight = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(self.log_prob_weight),
                dtype="float32", name="learned_log_prob_weight",
            )  # fmt: skip
        set_trainable_layers(gpt, train_layers)  # as LastTokenClassifier does

    def call(self, inputs, training=None):
        needed = {"token_ids", "lengths"} | ({"response_starts"} if self.log_prob_weight
                                             is not None else set())  # fmt: skip
        known = {"token_ids", "lengths", "response_starts"}
        if not isinstance(inputs, dict) or not needed <= set(inputs) <= known:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                f"RewardModel expects a dict with {sorted(needed)} ('token_ids': (..., seq) ids, "
                f"the others (...) ints), got {got}: make it with encode_chats(tokenizer, "
                "prompts, responses) or encode_pairs(tokenizer, pairs)."
            )
        token_ids = ops.convert_to_tensor(inputs["token_ids"])
        lengths = ops.convert_to_tensor(inputs["lengths"])
        if tuple(token_ids.shape[:-1]) != tuple(lengths.shape):
            raise ValueError(
                f"token_ids {tuple(token_ids.shape)} and lengths {tuple(lengths.shape)} do not "
                "match: give one length per chat (the shape of token_ids without its last axis)."
            )
        rows = ops.reshape(token_ids, (-1, token_ids.shape[-1]))  # (chats, seq)
        flat_lengths = ops.reshape(lengths, (-1,))  # (chats,)
        hidden = self.gpt.hidden_states(rows, training=training)  # (chats, seq, d_model)
        features = last_token_features(hidden, flat_lengths)  # (chats, d_model)
        rewards = ops.cast(self.head(features), "float32")[:, 0]  # (chats,)
        if self.log_prob_weight is not None:
            starts = ops.reshape(ops.convert_to_tensor(inputs["response_starts"]), (-1,))
            log_probs = self._answer_log_probs(hidden, rows, flat_lengths, starts)  # (chats,)
            rewards = rewards + self.learned_log_prob_weight * log_probs
        return ops.reshape(rewards, ops.shape(lengths))  # (...)

    def _answer_log_probs(self, hidden, rows, lengths, starts):
        """``log p(answer | prompt)`` of each chat: the log-probabilities of its tokens at
        positions ``starts .. lengths - 1`` (the answer and its end token), summed."""
        logits = self.gpt.logits_from_hidden_states(hidden[:, :-1])  # (chats, seq - 1, vocab)
        targets = rows[:, 1:]  # target t is token t + 1
        positions = ops.arange(1, rows.shape[-1], dtype="int32")[None, :]  # (1, seq - 1)
        mask = ops.logical_and(positions >= ops.cast(starts, "int32")[:, None],
                               positions < ops.cast(lengths, "int32")[:, None])  # fmt: skip
        return sequence_log_probs(logits, targets, mask)

    def get_config(self):  # the GPT's config is WrappedGPT's
        return {**super().get_config(), "train_layers": self.train_layers,
                "log_prob_weight": self.log_prob_weight}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Chats and pairs as arrays
# ---------------------------------------------------------------------------------------------


def encode_chats(tokenizer, prompts, responses, seq_len=None):
    """Prompt-and-response chats as right-padded rows of ids with their lengths.

    Each row is the whole chat ``format_example(tokenizer, prompt, response)``, closing end
    token included (the reward model reads its position), then ``tokenizer.end_id`` up to
    ``seq_len`` (any id would do: the lengths say where a chat ends, and causal attention hides
    what comes after it). ``response_starts`` is where each response begins (after
    ``[ASSISTANT]``): the log-probability of a ``RewardModel`` with ``log_prob_weight`` sums
    over positions ``response_starts .. lengths - 1``.

    Args:
        tokenizer: a ``ChatTokenizer``.
        prompts: the users' texts.
        responses: one response (a str) per prompt.
        seq_len: positions per row; ``None``: the longest chat's.

    Returns:
        ``{"token_ids": (n, seq_len) int32, "lengths": (n,) int32, "response_starts": (n,)
        int32}``.

    Raises:
        ValueError: prompts and responses that do not pair up (``log_probs.paired_texts``) or
            none at all, or a chat longer than ``seq_len`` (named).
    """
    prompts, responses = paired_texts(prompts, responses)
    if not prompts:
        raise ValueError("prompts is empty: pass at least one prompt and its response.")
    chats = [format_example(tokenizer, p, r) for p, r in zip(prompts, responses, strict=True)]
    starts = np.array([roles.index(ASSISTANT_ROLE) for _, roles in chats], dtype="int32")
    chats = [ids for ids, _ in chats]
    seq_len = max(len(ids) for ids in chats) if seq_len is None else seq_len
    token_ids = np.full((len(chats), seq_len), tokenizer.end_id, dtype="int32")
    lengths = np.zeros(len(chats), dtype="int32")
    for row, ids in enumerate(chats):
        if len(ids) > seq_len:
            raise ValueError(
                f"Chat {row} ({prompts[row]!r}, {responses[row]!r:.40}) has {len(ids)} tokens, "
                f"more than seq_len={seq_len}: raise seq_len (at most the model's "
                "context_length) or leave out responses that long."
            )
        token_ids[row, : len(ids)] = ids
        lengths[row] = len(ids)
    return {"token_ids": token_ids, "lengths": lengths, "response_starts": starts}


def encode_pairs(tokenizer, pairs, seq_len=None):
    """Preference pairs as a batch of chat pairs, the chosen chat first.

    Args:
        tokenizer: a ``ChatTokenizer``.
        pairs: ``preferences.PreferencePair``s (anything with ``prompt``, ``chosen`` and
            ``rejected``).
        seq_len: positions per chat; ``None``: the longest chat's.

    Returns:
        ``{"token_ids": (n, 2, seq_len) int32, "lengths": (n, 2) int32, "response_starts":
        (n, 2) int32}``: ``[:, 0]`` the chosen chats, ``[:, 1]`` the rejected ones
        (``encode_chats``).
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty: pass at least one preference pair.")
    prompts = [p.prompt for p in pairs] * 2
    responses = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    chats = encode_chats(tokenizer, prompts, responses, seq_len)
    n = len(pairs)  # rows 0 .. n-1 chosen, n .. 2n-1 rejected -> (n, 2, ...)
    return {name: np.stack([array[:n], array[n:]], axis=1) for name, array in chats.items()}


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def score(reward_model, tokenizer, prompts, responses, batch_size=SCORE_BATCH_SIZE):
    """The reward of each response to its prompt.

    The chats are padded to the GPT's ``context_length`` and, with more than ``batch_size`` of
    them, the last batch is filled up with copies: every call has one shape and compiles once,
    however long the responses (GRPO scores new samples at every step).

    Args:
        reward_model: a ``RewardModel``.
        tokenizer: its ``ChatTokenizer``.
        prompts: the users' texts.
        responses: one response per prompt (without the end token: ``format_example`` adds it).
        batch_size: chats per call of the model.

    Returns:
        NumPy float32 ``(n,)``.
    """
    if not isinstance(reward_model, RewardModel):
        raise ValueError(
            f"score needs a RewardModel, got {type(reward_model).__name__}: wrap the GPT, "
            "RewardModel(gpt), and train it (train_reward_model)."
        )
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or (batch_size < 1)
    ):
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}.")
    inputs = encode_chats(tokenizer, prompts, responses, reward_model.gpt.config.context_length)
    n = len(inputs["lengths"])
    if n > batch_size and n % batch_size:  # one shape for every call
        fill = np.zeros(batch_size - n % batch_size, dtype="int64")
        inputs = {k: np.concatenate([v, v[fill]]) for k, v in inputs.items()}
    rewards = reward_model.predict(inputs, batch_size=batch_size, verbose=0)
    return np.asarray(rewards[:n], dtype="float32")


def pairwise_accuracy(reward_model, tokenizer, pairs, batch_size=SCORE_BATCH_SIZE):
    """The share of ``pairs`` whose chosen answer gets the higher reward (a tie counts as wrong).

    Args:
        reward_model: a ``RewardModel``.
        tokenizer: its ``ChatTokenizer``.
        pairs: ``PreferencePair``s.
        batch_size: chats per call of the model (``score``).

    Returns:
        A float in ``[0, 1]``; 0.5 is chance.
    """
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty: pass at least one preference pair.")
    responses = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    rewards = score(reward_model, tokenizer, [p.prompt for p in pairs] * 2, responses, batch_size)
    n = len(pairs)
    return float(np.mean(rewards[:n] > rewards[n:]))


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RewardConfig(FineTuningConfig):
    """How to train a reward model: the optimizer settings of SFT and the margin.

    The fields are ``sft.FineTuningConfig``'s (``batch_size`` pairs per step, twice as many
    chats; ``seed`` of their order), with fewer steps by default, and:

    Args:
        margin: the Bradley-Terry margin of every pair (0: none).
    """

    steps: int = 200
    warmup_steps: int = 20
    eval_interval: int = 50
    margin: float = 0.0

    def __post_init__(self):
        if (
            isinstance(self.margin, bool)
            or not isinstance(self.margin, numbers.Real)
            or not (np.isfinite(self.margin))
        ):
            raise ValueError(f"margin must be a finite number, got margin={self.margin!r}.")
        super().__post_init__()


class RewardHistory(LossHistory):
    """``LossHistory`` with the pairwise accuracy of each interval: ``evaluations[i]`` also has
    ``train_accuracy`` (the running mean over the interval's batches, dropout on) and, with
    validation pairs, ``val_accuracy``."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        logs = logs or {}
        for key, name in (("train_accuracy", "pairwise_accuracy"),
                          ("val_accuracy", "val_pairwise_accuracy")):  # fmt: skip
            if name in logs:
                self.evaluations[-1][key] = float(logs[name])


def train_reward_model(
    reward_model,
    tokenizer,
    train_pairs,
    config,
    val_pairs=None,
    out=None,
    resume=False,
    verbose="auto",
    callbacks=(),
    state=None,
    jit_compile=None,
):
    """Train ``reward_model`` on preference pairs with the Bradley-Terry loss, resumably.

    Args:
        reward_model: a ``RewardModel`` (its ``train_layers`` say what trains). It is compiled
            here (``compile_for_fine_tuning``, with the loss and the pairwise accuracy).
        tokenizer: the ``ChatTokenizer`` of its GPT.
        train_pairs: ``preferences.PreferencePair``s.
        config: the ``RewardConfig``.
        val_pairs: pairs whose loss and pairwise accuracy are measured at each
            ``eval_interval`` (``val_loss``, ``val_accuracy``).
        out: the run directory for checkpoints, ``model.keras`` (the reward model),
            ``tokenizer/`` and the loss curve (``None``: keep nothing).
        resume: continue from the latest intact checkpoint in ``out``.
        verbose: Keras's progress bar (``"auto"``/1: a bar; 2: a line per interval; 0: none).
        callbacks: more Keras callbacks.
        state: more JSON-ready entries for each checkpoint (e.g. the base run and the task).
        jit_compile: as for ``sft.compile_for_fine_tuning`` (``None``: XLA on JAX and
            TensorFlow).

    Returns:
        The ``RewardHistory``: per interval ``train_loss``, ``train_accuracy`` and, with
        ``val_pairs``, ``val_loss`` and ``val_accuracy`` (``evaluations[-1]``).

    Raises:
        ValueError: a GPT without the chat tokens, a chat longer than the context, fewer pairs
            than ``batch_size``, ``resume`` without a checkpoint or with other settings.
    """
    if not isinstance(reward_model, RewardModel):
        raise ValueError(
            f"reward_model must be a RewardModel, got {type(reward_model).__name__}: wrap the "
            "GPT first, RewardModel(gpt, train_layers=...)."
        )
    if not isinstance(config, RewardConfig):
        raise ValueError(f"config must be a RewardConfig, got {type(config).__name__}.")
    check_vocabulary(
        tokenizer,
        {"GPT": reward_model.gpt},
        "start from a fine-tuned model, or grow its vocabulary first "
        f"(grow_vocabulary(gpt, {tokenizer.vocab_size})).",
    )
    if out is None and resume:
        raise ValueError("resume=True needs the run directory (out) that holds the checkpoints.")
    train_pairs, val_pairs = list(train_pairs), list(val_pairs or ())
    if len(train_pairs) < config.batch_size:
        raise ValueError(
            f"{len(train_pairs)} training pairs, fewer than batch_size={config.batch_size}: "
            "use a smaller batch_size or more pairs."
        )
    seq_len = config.seq_len
    if seq_len is None:  # the longest chat of both splits
        seq_len = encode_pairs(tokenizer, train_pairs + val_pairs)["token_ids"].shape[-1]
    if seq_len > reward_model.gpt.config.context_length:
        raise ValueError(
            f"The longest chat needs seq_len={seq_len} positions, more than the model's "
            f"context_length={reward_model.gpt.config.context_length}: use shorter examples."
        )
    train = encode_pairs(tokenizer, train_pairs, seq_len)
    margins = np.full(len(train_pairs), config.margin, dtype="float32")
    compile_for_fine_tuning(
        reward_model, config, BradleyTerryLoss(),
        metrics=[keras.metrics.MeanMetricWrapper(pairwise_correct, name="pairwise_accuracy")],
        jit_compile=jit_compile,
    )  # fmt: skip

    validation = None
    if val_pairs:
        val_margins = np.full(len(val_pairs), config.margin, dtype="float32")
        validation = (encode_pairs(tokenizer, val_pairs, seq_len), val_margins)
    state = {"reward_config": config.to_dict(), "train_layers": reward_model.train_layers,
             **(state or {})}  # fmt: skip
    history = RewardHistory(config.batch_size * 2 * seq_len)
    return fit_resumably(reward_model, (train, margins), validation, config, history, state,
                         out=out, resume=resume, tokenizer=tokenizer, verbose=verbose,
                         callbacks=callbacks)  # fmt: skip
