"""Direct preference optimisation: learning from pairs of answers without a reward model (week 7, "DPO").

A preference pair is a prompt ``x``, an answer people (or a checker) prefer, ``y_w`` ("chosen"),
and one they do not, ``y_l`` ("rejected"). RLHF learns a reward model from such pairs (the
Bradley-Terry loss of ``reward_model.py``) and then trains the policy to get high rewards while
staying close to a frozen reference (the SFT model), maximising ``E[r(x, y)] - beta KL(pi ||
pi_ref)``. Rafailov et al. (2023, "Direct Preference Optimization: Your Language Model is
Secretly a Reward Model") noticed that the best policy for that objective is known in closed
form, ``pi(y | x) = pi_ref(y | x) exp(r(x, y) / beta) / Z(x)``, so a policy *defines* a reward:

    r(x, y) = beta * (log pi(y | x) - log pi_ref(y | x)) + beta * log Z(x)

Put into the Bradley-Terry loss, ``-log sigmoid(r(x, y_w) - r(x, y_l))``, the unknown ``Z(x)``
cancels (both answers share the prompt) and what is left is a loss on the policy alone:

    loss = -log sigmoid(beta * ((log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))))

No reward model, no sampling: one forward pass of the policy on both answers per step, a
classification loss on the difference. ``-log sigmoid(z)`` is computed as ``softplus(-z)``,
finite for any ``z`` (``sigmoid(-100)`` is ``0`` in float32, its log ``-inf``).

**Implicit rewards.** ``beta * (log pi(y) - log pi_ref(y))`` is the reward the policy gives an
answer (``dpo_loss`` returns it for the chosen and the rejected answers; as TRL's
``rewards/chosen``, ``rewards/rejected``, their ``margins`` and ``accuracies``, the share of
pairs whose chosen reward is strictly higher). At the start the policy *is* the reference:
every reward is 0, every loss ``log 2 = 0.693`` and the accuracy 0 (a tie is not a win). The
loss asks for the margin only: both rewards may fall, the rejected one faster (as in this
module's tests, where a tiny model's held-out margin reaches about 1 with both rewards negative).

**What the gradient does.** With ``z = r_w - r_l``, ``d loss / d log pi(y_w) = -beta *
sigmoid(-z)`` and ``d loss / d log pi(y_l) = +beta * sigmoid(-z)``: gradient descent raises the
chosen answer's log-probability and lowers the rejected one's, by ``beta / 2`` each at the start,
and less and less as the pair gets ranked right (``sigmoid(-z) -> 0``): pairs already won stop
pulling. ``beta`` sets how far the policy may move: the loss sees ``beta`` times the log-ratios,
so a small ``beta`` needs a larger change of the policy to reach the same loss (the paper and TRL
use 0.1).

**Summed or averaged log-probabilities.** ``log pi(y)`` is a sum over the answer's tokens
(``log_probs.sequence_log_probs``); the paper and TRL's default use the sum
(``average_log_probs=False``). A sum of negative numbers favours short answers, and a pair whose
rejected answer is a truncated chosen one (a near miss) differs only in its last tokens; the
per-token mean (``average_log_probs=True``, Raschka's DPO chapter and TRL's ``"sigmoid_norm"``)
takes the answers' lengths out of the comparison.

**The reference is computed once.** ``pi_ref`` is frozen, so its log-probabilities of every
chosen and rejected answer are computed before training (TRL's ``precompute_ref_log_probs``):
no second model in memory while training, and half the forward passes. ``reference=None`` means
the policy's own starting weights (the usual case: DPO starts from the SFT model, which is also
the reference). With a run directory they are written to ``reference_log_probs.npz``, so a
resumed run continues against the very same numbers, whatever model it is handed.

**Training in Keras.** ``DPOModel`` wraps the policy so that ``model.fit`` does the rest: its
input is a batch of pairs, a dict of six ``(batch, seq)`` arrays (``encode_pairs``), its "labels"
are the reference log-probs ``(batch, 2)``, and its output the policy's ``(batch, 2)`` (chosen,
rejected; both answers go through the policy in one pass of ``2 * batch`` rows). ``DPOLoss``
turns output and labels into the loss, ``RewardStatistic`` metrics into the implicit rewards, and
Keras's compiled train step runs it on JAX, TensorFlow and PyTorch alike, in SFT's resumable
loop (``sft.fit_resumably``). The policy runs
without dropout (TRL's ``disable_dropout``): the reference log-probs were computed without it,
and with it the policy would differ from itself at step 0.

    >>> pairs = preference_pairs(task, 2000)
    >>> history = train_dpo(sft_model, tokenizer, pairs, DPOConfig(steps=200), val_pairs=held_out)
    >>> history.evaluations[-1]["val_reward_accuracy"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from pathlib import Path

import keras
import numpy as np
from keras import ops

from llm_keras.alignment.log_probs import encode_responses, response_log_probs, sequence_log_probs
from llm_keras.files import atomic_output
from llm_keras.finetuning.chat_template import check_vocabulary, format_example
from llm_keras.finetuning.sft import FineTuningConfig, compile_for_fine_tuning, fit_resumably
from llm_keras.finetuning.wrapped_gpt import WrappedGPT
from llm_keras.training.history import LossHistory
from llm_keras.training.run_directory import save_for_inference

# The six arrays of a batch of pairs (``encode_pairs``), each (batch, seq).
PAIR_KEYS = ("chosen_inputs", "chosen_targets", "chosen_mask",
             "rejected_inputs", "rejected_targets", "rejected_mask")  # fmt: skip
# What the metrics report, in the order of TRL's logs.
REWARD_STATISTICS = ("chosen_reward", "rejected_reward", "reward_margin", "reward_accuracy")
# The reference's log-probs in a run directory, kept for a resumed run.
REFERENCE_FILE = "reference_log_probs.npz"


def _check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta > 0:
        raise ValueError(
            f"beta must be a number > 0 (the paper and TRL use 0.1), got beta={beta!r}."
        )


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
             beta=0.1):  # fmt: skip
    """The DPO loss of each pair and the implicit rewards of its two answers.

    Args:
        policy_chosen_logps, policy_rejected_logps: ``(batch,)`` log-probabilities of the chosen
            and the rejected answers under the policy (summed or averaged over their tokens).
        ref_chosen_logps, ref_rejected_logps: ``(batch,)``, the same under the reference.
        beta: how strongly the policy is held to the reference (> 0).

    Returns:
        ``(losses, chosen_rewards, rejected_rewards)``, each ``(batch,)`` float32:
        ``chosen_rewards = beta * (policy_chosen - ref_chosen)``, the same for the rejected, and
        ``losses = -log sigmoid(chosen_rewards - rejected_rewards)``, finite for any margin. The
        rewards are reported, not optimised: no gradient flows through them (as in TRL).

    Example:
        >>> losses, chosen, rejected = dpo_loss([-3.0], [-5.0], [-3.0], [-5.0])
        >>> keras.ops.convert_to_numpy(losses)       # log 2: the policy is the reference
        array([0.6931472], dtype=float32)
    """
    _check_beta(beta)
    given = (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)
    logps = [ops.cast(ops.convert_to_tensor(x), "float32") for x in given]
    shapes = [tuple(x.shape) for x in logps]
    if len(set(shapes)) > 1 or len(shapes[0]) != 1:
        raise ValueError(
            f"The four log-probs must each be (batch,), one per pair, got shapes {shapes}: pass "
            "the policy's and the reference's log-probs of the same pairs."
        )
    policy_chosen, policy_rejected, ref_chosen, ref_rejected = logps
    chosen_rewards = beta * (policy_chosen - ref_chosen)  # (batch,)
    rejected_rewards = beta * (policy_rejected - ref_rejected)  # (batch,)
    losses = ops.softplus(rejected_rewards - chosen_rewards)  # = -log sigmoid(chosen - rejected)
    return losses, ops.stop_gradient(chosen_rewards), ops.stop_gradient(rejected_rewards)


def _pair_columns(log_probs):
    """``(batch, 2)`` log-probs -> ``(chosen, rejected)``, each ``(batch,)`` float32."""
    log_probs = ops.cast(log_probs, "float32")
    return log_probs[:, 0], log_probs[:, 1]


@keras.saving.register_keras_serializable(package="llm_keras")
class DPOLoss(keras.losses.Loss):
    """``dpo_loss`` for ``fit``: ``loss(reference_log_probs, policy_log_probs)``, each
    ``(batch, 2)``.

    Column 0 holds the chosen answers' log-probs, column 1 the rejected ones' (``DPOModel``'s
    output; the reference's are the labels). The per-pair losses are averaged over the batch.

    Args:
        beta: as for ``dpo_loss``.
    """

    def __init__(self, beta=0.1, name="dpo_loss", **kwargs):
        _check_beta(beta)
        super().__init__(name=name, **kwargs)
        self.beta = float(beta)

    def call(self, y_true, y_pred):
        losses, _, _ = dpo_loss(*_pair_columns(y_pred), *_pair_columns(y_true), beta=self.beta)
        return losses  # (batch,); Keras takes the mean

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="llm_keras")
class RewardStatistic(keras.metrics.Mean):
    """The mean of one statistic of the implicit rewards, from the same ``(y_true, y_pred)`` as
    ``DPOLoss``.

    Args:
        statistic: ``"chosen_reward"``, ``"rejected_reward"``, ``"reward_margin"`` (chosen minus
            rejected) or ``"reward_accuracy"`` (1 where the chosen reward is strictly higher).
        beta: as for ``dpo_loss``.
        name: the name in the logs (default: ``statistic``).

    Example:
        >>> model.compile(..., loss=DPOLoss(0.1),
        ...               metrics=[RewardStatistic(s, 0.1) for s in REWARD_STATISTICS])
    """

    def __init__(self, statistic, beta=0.1, name=None, dtype=None):
        if statistic not in REWARD_STATISTICS:
            raise ValueError(
                f"Unknown statistic={statistic!r}: choose one of {', '.join(REWARD_STATISTICS)}."
            )
        _check_beta(beta)
        super().__init__(name=name or statistic, dtype=dtype)
        self.statistic, self.beta = statistic, float(beta)

    def update_state(self, y_true, y_pred, sample_weight=None):
        _, chosen, rejected = dpo_loss(*_pair_columns(y_pred), *_pair_columns(y_true),
                                       beta=self.beta)  # fmt: skip
        values = {
            "chosen_reward": chosen,
            "rejected_reward": rejected,
            "reward_margin": chosen - rejected,
            "reward_accuracy": ops.cast(chosen > rejected, "float32"),
        }[self.statistic]
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "statistic": self.statistic, "beta": self.beta}


# ---------------------------------------------------------------------------------------------
# Pairs as arrays, and their log-probs
# ---------------------------------------------------------------------------------------------


def _check_pairs(pairs, name):
    pairs = list(pairs)
    for i, pair in enumerate(pairs):
        if not all(isinstance(getattr(pair, field, None), str)
                   for field in ("prompt", "chosen", "rejected")):  # fmt: skip
            raise ValueError(
                f"{name}[{i}] is a {type(pair).__name__}, not a preference pair: give "
                "PreferencePair(prompt, chosen, rejected, kind) objects (preference_pairs makes "
                "them)."
            )
    return pairs


def _longest_chat(tokenizer, pairs):
    """The positions (tokens minus one) of the longest chat, chosen or rejected, of ``pairs``."""
    return max(len(format_example(tokenizer, pair.prompt, answer)[0]) - 1
               for pair in pairs for answer in (pair.chosen, pair.rejected))  # fmt: skip


def encode_pairs(tokenizer, pairs, seq_len=None):
    """Preference pairs as the six arrays of ``DPOModel``'s input.

    Each answer is encoded with its prompt by ``encode_responses`` (the week 6 chat, padded on
    the right; the mask is 1 on the answer's tokens and its end token).

    Args:
        tokenizer: a ``ChatTokenizer``.
        pairs: ``PreferencePair``s (``prompt``, ``chosen``, ``rejected``).
        seq_len: positions per row; ``None``: the longest chat's, chosen or rejected.

    Returns:
        ``{"chosen_inputs", "chosen_targets", "chosen_mask", "rejected_inputs",
        "rejected_targets", "rejected_mask"}``, each NumPy ``(len(pairs), seq_len)``; inputs and
        targets int32, masks float32.
    """
    pairs = _check_pairs(pairs, "pairs")
    if not pairs:
        raise ValueError("pairs is empty: give at least one preference pair.")
    seq_len = seq_len or _longest_chat(tokenizer, pairs)
    prompts = [pair.prompt for pair in pairs]
    arrays = {}
    for side in ("chosen", "rejected"):
        answers = [getattr(pair, side) for pair in pairs]
        inputs, targets, mask = encode_responses(tokenizer, prompts, answers, seq_len)
        arrays.update({f"{side}_inputs": inputs, f"{side}_targets": targets, f"{side}_mask": mask})
    return arrays


def pair_log_probs(model, encoded_pairs, average=False, batch_size=64):
    """The log-probability ``model`` gives each pair's chosen and rejected answer, no gradient.

    Args:
        model: a ``GPT`` (the policy, or a reference).
        encoded_pairs: ``encode_pairs``'s dict.
        average: ``False``: summed over each answer's tokens; ``True``: their mean.
        batch_size: rows per call of the model (``response_log_probs``).

    Returns:
        NumPy float32 ``(n, 2)``: column 0 the chosen answers', column 1 the rejected ones'.
    """
    columns = []
    for side in ("chosen", "rejected"):
        inputs, targets, mask = (encoded_pairs[f"{side}_{part}"]
                                 for part in ("inputs", "targets", "mask"))  # fmt: skip
        columns.append(response_log_probs(model, inputs, targets, mask, average, batch_size))
    return np.stack(columns, axis=1)  # (n, 2)


def preference_accuracy(model, tokenizer, pairs, reference, average=False, batch_size=64):
    """The share of ``pairs`` whose chosen answer gets the higher implicit reward under ``model``.

    The implicit reward of an answer is ``beta * (log pi(y) - log pi_ref(y))`` (``dpo_loss``);
    whatever ``beta > 0``, the chosen answer wins when ``log pi(y_w) - log pi_ref(y_w) >
    log pi(y_l) - log pi_ref(y_l)``. A tie (the model is the reference) is not a win.

    Args:
        model: the policy, a ``GPT``.
        tokenizer: its ``ChatTokenizer``.
        pairs: ``PreferencePair``s.
        reference: the reference model (a ``GPT``), or its log-probs of these pairs, ``(n, 2)``
            (``pair_log_probs``; e.g. kept from before training).
        average: as for ``pair_log_probs`` (use the setting the model was trained with).
        batch_size: rows per call of the model.

    Returns:
        A float in ``[0, 1]``.
    """
    encoded = encode_pairs(tokenizer, pairs)
    if isinstance(reference, keras.Model):
        reference = pair_log_probs(reference, encoded, average, batch_size)
    reference = np.asarray(reference, dtype="float32")
    if reference.shape != (len(encoded["chosen_inputs"]), 2):
        raise ValueError(
            f"reference holds log-probs of shape {reference.shape}, but there are "
            f"{len(encoded['chosen_inputs'])} pairs: pass the reference model, or its "
            "pair_log_probs of these very pairs, (n, 2)."
        )
    policy = pair_log_probs(model, encoded, average, batch_size)
    _, chosen, rejected = dpo_loss(*policy.T, *reference.T, beta=1.0)
    return float(np.mean(ops.convert_to_numpy(chosen) > ops.convert_to_numpy(rejected)))


# ---------------------------------------------------------------------------------------------
# The policy as a Keras model of pairs
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="llm_keras")
class DPOModel(WrappedGPT):
    """The policy, seen by ``fit`` as a model from a batch of pairs to their log-probs.

    Args:
        policy: the ``GPT`` being trained (its weights are this model's weights).
        average_log_probs: ``False``: each answer's log-probs summed over its tokens; ``True``:
            averaged.
        **kwargs: passed to ``keras.Model`` (``name``).

    Call arguments:
        pairs: ``encode_pairs``'s dict of six ``(batch, seq)`` arrays.

    Returns:
        ``(batch, 2)`` float32: the policy's log-probs of the chosen (column 0) and rejected
        (column 1) answers, with a gradient. The policy runs without dropout.
    """

    wrapped = "policy"  # saved in the config under this name (WrappedGPT)

    def __init__(self, policy, average_log_probs=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(average_log_probs, bool):
            raise ValueError(f"average_log_probs must be True or False, got {average_log_probs!r}.")
        self.policy = policy
        self.average_log_probs = average_log_probs

    def call(self, pairs, training=None):
        if not isinstance(pairs, dict) or set(pairs) != set(PAIR_KEYS):
            got = sorted(pairs) if isinstance(pairs, dict) else type(pairs).__name__
            raise ValueError(
                f"DPOModel expects a dict of {', '.join(PAIR_KEYS)}, got {got}: make it with "
                "encode_pairs(tokenizer, pairs)."
            )
        # Chosen rows, then rejected rows: one pass of (2 * batch, seq).
        inputs, targets, mask = (
            ops.concatenate([pairs[f"chosen_{part}"], pairs[f"rejected_{part}"]], axis=0)
            for part in ("inputs", "targets", "mask")
        )
        logits = self.policy(inputs, training=False)  # (2 * batch, seq, vocab_size)
        log_probs = sequence_log_probs(logits, targets, mask, self.average_log_probs)  # (2b,)
        return ops.transpose(ops.reshape(log_probs, (2, -1)))  # (batch, 2)

    def get_config(self):
        return {**super().get_config(), "average_log_probs": self.average_log_probs}


# ---------------------------------------------------------------------------------------------
# Settings and training
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DPOConfig(FineTuningConfig):
    """How to train with DPO: the loss's settings and the optimizer's (as ``SFTConfig``).

    The fields are ``sft.FineTuningConfig``'s (``batch_size`` pairs per step; ``beta_1`` and
    ``beta_2`` are Adam's, not DPO's ``beta``), with fewer steps and a lower learning rate by
    default, and:

    Args:
        beta: how strongly the policy is held to the reference (> 0; the paper's 0.1).
        average_log_probs: ``False``: answers' log-probs summed over their tokens (the paper,
            TRL); ``True``: averaged (Raschka, TRL's ``"sigmoid_norm"``).
    """

    steps: int = 200
    learning_rate: float = 1e-4
    min_learning_rate: float = 1e-5
    warmup_steps: int = 20
    eval_interval: int = 50
    beta: float = 0.1
    average_log_probs: bool = False

    def __post_init__(self):
        _check_beta(self.beta)
        if not isinstance(self.average_log_probs, bool):
            raise ValueError(
                f"average_log_probs must be True or False, got "
                f"average_log_probs={self.average_log_probs!r}."
            )
        super().__post_init__()


class DPOHistory(LossHistory):
    """``LossHistory`` whose evaluations also hold the implicit rewards of the interval.

    Each record adds ``train_chosen_reward``, ``train_rejected_reward``, ``train_reward_margin``
    and ``train_reward_accuracy`` (means over the interval's training batches) and, with
    validation pairs, the same with ``val_`` over all of them (``train_loss`` and ``val_loss``
    are the DPO loss).
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        logs = logs or {}
        record = self.evaluations[-1]
        for statistic in REWARD_STATISTICS:
            record[f"train_{statistic}"] = float(logs[statistic])
            if f"val_{statistic}" in logs:
                record[f"val_{statistic}"] = float(logs[f"val_{statistic}"])


class _SavePolicy(keras.callbacks.Callback):
    """At the end of each interval, the policy as ``DIR/model.keras`` and the tokenizer, so a DPO
    run directory loads for generation like an SFT one (``load_for_inference``)."""

    def __init__(self, directory, tokenizer):
        super().__init__()
        self.directory, self.tokenizer = Path(directory), tokenizer

    def on_epoch_end(self, epoch, logs=None):
        policy = self.model.policy  # on JAX, reading .model copies the training state into it
        save_for_inference(self.directory, policy, self.tokenizer)


def _pairs_digest(*pair_lists):
    """SHA-256 of the pairs' texts: a resumed run must train on the same pairs."""
    texts = [[[p.prompt, p.chosen, p.rejected] for p in pairs] for pairs in pair_lists]
    return hashlib.sha256(json.dumps(texts).encode()).hexdigest()


def _reference_log_probs(reference, encoded, average, out, resume):
    """The reference's ``(n, 2)`` log-probs of each split: read back when resuming, else
    computed (and written to ``out``)."""
    path = None if out is None else Path(out) / REFERENCE_FILE
    if resume:
        if not path.is_file():
            raise ValueError(
                f"{path} is missing: a DPO run directory keeps its reference's log-probs there, "
                "and a resumed run needs them. Start the run again without resume."
            )
        with np.load(path, allow_pickle=False) as saved:
            kept = {split: saved[split] for split in saved.files}
        for split, pairs in encoded.items():
            expected = (len(pairs["chosen_inputs"]), 2) if pairs else (0, 2)
            if kept.get(split, np.zeros((0, 2))).shape != expected:
                raise ValueError(
                    f"{path} holds the reference's log-probs of other {split} pairs: resume "
                    "with the pairs the run started with."
                )
        return kept
    computed = {split: pair_log_probs(reference, pairs, average) if pairs else np.zeros((0, 2))
                for split, pairs in encoded.items()}  # fmt: skip
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as file:
            np.savez(file, **computed)
    return computed


def train_dpo(
    model,
    tokenizer,
    train_pairs,
    config,
    reference=None,
    val_pairs=None,
    out=None,
    resume=False,
    verbose="auto",
    callbacks=(),
    state=None,
    jit_compile=None,
):
    """Train ``model`` with DPO on ``train_pairs`` through ``model.fit``, resumably.

    Args:
        model: the policy, a ``GPT`` whose vocabulary holds the tokenizer's (an SFT model).
            It is trained in place.
        tokenizer: its ``ChatTokenizer``.
        train_pairs: ``PreferencePair``s (``prompt``, ``chosen``, ``rejected``).
        config: the ``DPOConfig``.
        reference: the frozen reference ``GPT``; ``None``: ``model``'s weights before training.
            Its log-probs of every pair are computed once, before the first step (when resuming,
            they are read back from ``out``, and ``reference`` is not used).
        val_pairs: pairs whose loss and implicit rewards are measured at each
            ``eval_interval`` (``val_loss``, ``val_reward_accuracy``...), never trained on.
        out: the run directory for checkpoints, the reference's log-probs, the policy as
            ``model.keras``, ``tokenizer/`` and the loss curve (``None``: keep nothing).
        resume: continue from the latest intact checkpoint in ``out``.
        verbose: Keras's progress bar (``"auto"``/1: a bar; 2: a line per interval; 0: none).
        callbacks: more Keras callbacks.
        state: more JSON-ready entries for each checkpoint (e.g. the SFT run and the task).
        jit_compile: as for ``sft.compile_for_fine_tuning`` (``None``: XLA on JAX and
            TensorFlow).

    Returns:
        The ``DPOHistory``: ``evaluations[-1]["train_loss"]``, ``["train_reward_margin"]``,
        ``["val_reward_accuracy"]``...

    Raises:
        ValueError: a model whose vocabulary lacks the chat tokens, a chat longer than the
            context, fewer pairs than ``batch_size``, ``resume`` without a checkpoint or with
            other settings or pairs.
    """
    if not isinstance(config, DPOConfig):
        raise ValueError(f"config must be a DPOConfig, got {type(config).__name__}.")
    check_vocabulary(
        tokenizer,
        {"model": model, "reference": reference},
        "DPO starts from a model fine-tuned with this tokenizer (grow_vocabulary, then fine_tune).",
    )
    if out is None and resume:
        raise ValueError("resume=True needs the run directory (out) that holds the checkpoints.")
    train_pairs = _check_pairs(train_pairs, "train_pairs")
    val_pairs = _check_pairs(val_pairs or (), "val_pairs")
    if len(train_pairs) < config.batch_size:
        raise ValueError(
            f"{len(train_pairs)} training pairs for batch_size={config.batch_size}: give at "
            "least batch_size pairs, or a smaller batch_size."
        )
    seq_len = config.seq_len or _longest_chat(tokenizer, train_pairs + val_pairs)
    if seq_len > model.config.context_length:
        raise ValueError(
            f"The longest chat needs seq_len={seq_len} positions, more than the model's "
            f"context_length={model.config.context_length}: use shorter pairs."
        )
    encoded = {"train": encode_pairs(tokenizer, train_pairs, seq_len), "val": None}
    if val_pairs:
        encoded["val"] = encode_pairs(tokenizer, val_pairs, seq_len)
    references = _reference_log_probs(reference or model, encoded, config.average_log_probs,
                                      out, resume)  # fmt: skip

    dpo_model = compile_for_fine_tuning(
        DPOModel(model, config.average_log_probs), config, DPOLoss(config.beta),
        metrics=[RewardStatistic(statistic, config.beta) for statistic in REWARD_STATISTICS],
        jit_compile=jit_compile,
    )  # fmt: skip
    state = {"dpo_config": config.to_dict(),
             "pairs_sha256": _pairs_digest(train_pairs, val_pairs), **(state or {})}  # fmt: skip
    history = DPOHistory(2 * config.batch_size * seq_len)  # tokens: both answers of each pair
    validation = (encoded["val"], references["val"]) if val_pairs else None
    if out is not None:  # the policy as model.keras, after each checkpoint (of the DPOModel)
        callbacks = [_SavePolicy(out, tokenizer), *callbacks]
    return fit_resumably(dpo_model, (encoded["train"], references["train"]), validation, config,
                         history, state, out=out, resume=resume, verbose=verbose,
                         callbacks=callbacks)  # fmt: skip
