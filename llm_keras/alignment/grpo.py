"""Group relative policy optimisation: learning from rewards a program computes (week 7, "GRPO").

SFT copies reference answers and DPO learns from pairs someone ranked. GRPO (Shao et al. 2024,
"DeepSeekMath"; the RL of DeepSeek-R1) lets the model *try*: for each prompt, sample a group of
``G`` completions from the model itself, score each with a reward (``rewards.py``: is it right?
is it well formed?), and make the completions that scored above their group's mean more likely,
those below less likely. No reward model is needed when a program can check the answers, and no
value network: the group is the baseline.

**1. Advantages** (``group_advantages``). The ``G`` rewards of one prompt are compared with each
other, not with a fixed bar:

    A_i = (r_i - mean(r)) / (std(r) + 1e-4)          std with Bessel's correction (torch.std)

A group whose completions all scored the same (all right, or all wrong) has ``A = 0``: it teaches
nothing, however good or bad it is; a prompt is useful while the model gets it right *sometimes*.
``scale=False`` keeps ``r - mean(r)`` (Liu et al. 2025, "Dr. GRPO"; nanochat's ``chat_rl.py``):
dividing by the std gives the groups whose rewards barely differ the largest advantages.

**2. The clipped policy loss** (``clipped_policy_loss``): PPO's (Schulman et al. 2017), with the
completion's advantage as the advantage of each of its tokens ``t``:

    ratio_t = pi(y_t) / pi_old(y_t) = exp(log pi(y_t) - log pi_old(y_t))
    loss_t  = -min(ratio_t * A, clip(ratio_t, 1 - eps, 1 + eps) * A) + beta * kl_t

``pi_old`` is the model as it was when it sampled: its log-probs are computed once, at sampling
time. With one update per batch (``iterations=1``) the ratio is 1 at the update and the gradient
is REINFORCE's, ``-A * grad log pi(y_t)``. With more updates on the same samples, the clip stops
a token from moving further than ``eps`` in the direction its advantage pushes: the ``min``
makes it one-sided, so for ``A > 0`` only ``ratio > 1 + eps`` is cut (a good token already made
much likelier is not pushed further) and for ``A < 0`` only ``ratio < 1 - eps``. A completion's
loss is the mean over its tokens, and the batch's the mean over completions (TRL's ``"grpo"``
aggregation): a long and a short completion weigh the same.

**3. The KL penalty** (``k3_kl``). To keep the policy near a frozen reference (the SFT model),
add ``beta`` times an estimate of ``KL(pi || pi_ref)`` per token, from the sampled token alone
(Schulman 2020, "Approximating KL divergence", estimator k3):

    kl_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1  >= 0,     0 when ref_t = logp_t

``beta = 0`` (TRL's default; nanochat) drops it. The history reports the KL of the sampling
policy to the reference either way (on the first step and at every evaluation).

The formulas are TRL's (``trl/trainer/grpo_trainer.py``: ``_generate_and_score_completions`` for
the advantages and the completion mask, which covers the completion's tokens and its end token,
``_compute_loss`` for the loss, ``_get_per_token_logps`` for the log-probs of logits divided by
the sampling temperature, the distribution the tokens were drawn from).

**Training** (``train_grpo``). Each step (``grpo_step``):

1. draw ``prompts_per_step`` training prompts of the task and sample ``group_size`` completions
   of each with the week 4 generator (``generation.decode.generate``, KV cache), the chat
   template's ``[USER] prompt [END] [ASSISTANT]`` as the prompt and the end token as the stop;
2. score them (``reward(prompts, completions)``), compute the advantages;
3. pad every chat to one row length (the longest rounded up to a power of two: a handful of
   shapes, each compiled once) and compute, without a gradient, the per-token log-probs of the
   sampling policy (needed with ``iterations > 1``: with one update, the policy updated *is* the
   one that sampled, and the ratio is 1, as TRL skips them) and of the reference (needed with
   ``beta > 0``); each is a forward pass over the batch, so they are computed only when the
   loss needs them, and on the steps where the KL between the two is measured (the first, and
   every ``eval_interval``-th);
4. ``iterations`` updates on that batch through Keras's compiled train step
   (``GRPOModel.train_on_batch``), on JAX, TensorFlow and PyTorch alike.

Every ``eval_interval`` steps: the held-out pass@1 (greedy, ``evaluate.evaluate_task``) and a
checkpoint. The prompts and the sampling seed of step ``s`` depend on ``(seed, s)`` alone, so a
run resumed from a checkpoint draws the completions the uninterrupted run drew.

    >>> history = train_grpo(sft_model, tokenizer, get_task("arithmetic"), GRPOConfig(steps=50))
    >>> [(r["step"], r["mean_reward"]) for r in history.evaluations]
    >>> history.evaluations[-1]["pass_at_1"]
"""

from __future__ import annotations

import dataclasses
import numbers
import time
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np
from keras import ops

from llm_keras.alignment.log_probs import token_log_probs
from llm_keras.alignment.rewards import (
    check_rewards,
    combined_reward,
    correctness_reward,
    format_reward,
)
from llm_keras.config_dict import ConfigDict
from llm_keras.finetuning.chat_template import (
    ASSISTANT_ROLE,
    PROMPT_ROLE,
    check_vocabulary,
    format_example,
)
from llm_keras.finetuning.evaluate import evaluate_task
from llm_keras.finetuning.sft import compile_for_fine_tuning, pad_chats
from llm_keras.finetuning.wrapped_gpt import WrappedGPT
from llm_keras.generation.decode import compiled_for_model, default_max_length, generate
from llm_keras.interrupts import raise_if_stop_requested, stop_at_safe_points
from llm_keras.training.checkpoint import (
    arrays_digest,
    checkpoint_path,
    prune_checkpoints,
    save_checkpoint,
)
from llm_keras.training.history import LossHistory
from llm_keras.training.optimizer import build_optimizer
from llm_keras.training.run_directory import save_for_inference
from llm_keras.training.trainer import resume_run

# TRL's constant in the advantages' denominator.
ADVANTAGE_EPSILON = 1e-4


# ---------------------------------------------------------------------------------------------
# The formulas
# ---------------------------------------------------------------------------------------------


def group_advantages(rewards, group_size, scale=True, epsilon=ADVANTAGE_EPSILON):
    """Each reward compared with the other rewards of its group.

    Args:
        rewards: ``(n,)`` numbers, ``n`` a multiple of ``group_size``; rows ``g * group_size``
            to ``(g + 1) * group_size - 1`` are the completions of one prompt.
        group_size: completions per prompt (at least 2: one alone has nothing to compare with).
        scale: ``True``: ``(r - mean) / (std + epsilon)``, std with ``ddof=1`` as ``torch.std``
            (TRL); ``False``: ``r - mean`` (Dr. GRPO, nanochat).
        epsilon: added to the std (TRL: ``1e-4``).

    Returns:
        NumPy float32 ``(n,)``, computed in float64. A group of equal rewards gets exactly 0.

    >>> group_advantages([1, 0, 0, 0], group_size=4)     # mean 0.25, std 0.5
    array([ 1.4997001, -0.4999   , -0.4999   , -0.4999   ], dtype=float32)
    """
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, numbers.Integral)
        or (group_size < 2)
    ):
        raise ValueError(
            f"group_size={group_size!r} must be an integer >= 2: an advantage compares a "
            "completion with the others of its prompt's group."
        )
    rewards = np.asarray(rewards, dtype="float64")
    if rewards.ndim != 1 or len(rewards) % group_size:
        raise ValueError(
            f"rewards of shape {rewards.shape} are not groups of {group_size}: pass one reward "
            f"per completion, (n,), with n a multiple of group_size={group_size}."
        )
    groups = rewards.reshape(-1, group_size)  # (prompts, group_size)
    centred = groups - groups.mean(axis=1, keepdims=True)
    # Equal rewards: exactly 0 (r - mean can round to about 1e-17, which / 1e-4 is not 0).
    centred[groups.min(axis=1) == groups.max(axis=1)] = 0.0
    if scale:
        centred /= groups.std(axis=1, ddof=1, keepdims=True) + epsilon
    return centred.reshape(-1).astype("float32")


def k3_kl(log_probs, ref_log_probs):
    """Schulman's k3 estimate of ``KL(pi || pi_ref)`` at each sampled token.

    ``exp(ref - logp) - (ref - logp) - 1``, written ``expm1(d) - d`` with ``d = ref - logp``
    (exact for small ``d``, where ``exp(d) - 1`` would lose its digits). It is ``>= 0``, and 0
    exactly where the two log-probs are equal.

    Args:
        log_probs: the policy's log-probs of the sampled tokens, any shape.
        ref_log_probs: the reference's, the same shape.

    Returns:
        float32, the shape of the inputs.
    """
    d = ops.cast(ref_log_probs, "float32") - ops.cast(log_probs, "float32")
    return ops.expm1(d) - d


def sequence_policy_losses(log_probs, old_log_probs, advantages, mask, epsilon=0.2,
                           ref_log_probs=None, beta=0.0):  # fmt: skip
    """The clipped policy loss of each completion: its per-token losses averaged over its mask.

    Arguments as for ``clipped_policy_loss``; returns float32 ``(batch,)``. A row whose mask is
    all 0 has loss 0.
    """
    log_probs = ops.cast(log_probs, "float32")
    mask = ops.cast(mask, "float32")
    advantages = ops.cast(advantages, "float32")[:, None]  # (batch, 1): every token's advantage
    ratio = ops.exp(log_probs - ops.cast(old_log_probs, "float32"))  # (batch, seq)
    clipped = ops.clip(ratio, 1.0 - epsilon, 1.0 + epsilon)
    per_token = -ops.minimum(ratio * advantages, clipped * advantages)
    if beta:
        if ref_log_probs is None:
            raise ValueError(
                f"beta={beta} needs the reference's log-probs (ref_log_probs): the KL penalty "
                "compares the policy with it."
            )
        per_token = per_token + beta * k3_kl(log_probs, ref_log_probs)
    # Masked positions are multiplied by 0 with ops.where, not by mask: an inf there (a padding
    # token the policy finds impossible) would make inf * 0 = nan.
    per_token = ops.where(mask > 0, per_token * mask, 0.0)
    return ops.sum(per_token, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


def clipped_policy_loss(log_probs, old_log_probs, advantages, mask, epsilon=0.2,
                        ref_log_probs=None, beta=0.0):  # fmt: skip
    """GRPO's loss (PPO's clipped surrogate, plus ``beta`` times the k3 KL), TRL's ``"grpo"``.

    Per token: ``-min(ratio * A, clip(ratio, 1 - epsilon, 1 + epsilon) * A) + beta * k3``,
    ``ratio = exp(log_probs - old_log_probs)``; averaged over each completion's masked tokens,
    then over completions.

    Args:
        log_probs: ``(batch, seq)`` the policy's log-probs of the sampled tokens (with a
            gradient).
        old_log_probs: ``(batch, seq)`` those of the policy that sampled them (constants).
        advantages: ``(batch,)`` one per completion (``group_advantages``).
        mask: ``(batch, seq)`` 1 on the completion's tokens (and its end token), 0 on the prompt
            and padding.
        epsilon: the clip range (TRL and the paper: 0.2).
        ref_log_probs: ``(batch, seq)`` the reference's log-probs; needed when ``beta > 0``.
        beta: the weight of the KL penalty (0: none).

    Returns:
        A float32 scalar.
    """
    return ops.mean(sequence_policy_losses(log_probs, old_log_probs, advantages, mask, epsilon,
                                           ref_log_probs, beta))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The policy as a Keras model
# ---------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="llm_keras")
class GRPOModel(WrappedGPT):
    """The policy, seen by Keras's train step as a model from sampled chats to log-probs.

    Args:
        policy: the ``GPT`` being trained (its weights are this model's weights).
        epsilon: the clip range of the loss.
        beta: the weight of the KL penalty.
        temperature: the sampling temperature; log-probs are those of ``logits / temperature``,
            the distribution the tokens were drawn from.
        **kwargs: passed to ``keras.Model`` (``name``).

    Call arguments:
        batch: a dict with ``"inputs"`` and ``"targets"``, ``(batch, seq)`` int: the chats,
            shifted by one as for SFT.

    Returns:
        ``(batch, seq)`` float32: the policy's log-prob of each target, with a gradient. The
        policy runs without dropout (TRL's ``disable_dropout``): the sampling-time log-probs were
        computed without it, and with it the ratio would not be 1 at the first update.

    ``compute_loss`` (which ``train_on_batch`` calls) reads the rest of the batch from ``y``: a
    dict of ``"mask"`` ``(batch, seq)``, ``"advantages"`` ``(batch,)``, and, when the loss
    needs them, ``"old_log_probs"`` and ``"ref_log_probs"`` ``(batch, seq)``; it returns
    ``clipped_policy_loss``. Without ``"old_log_probs"`` the old policy is the policy itself
    (``stop_gradient(log_probs)``: the ratio is 1, the first update's); without
    ``"ref_log_probs"``, ``beta`` must be 0.
    """

    wrapped = "policy"  # saved in the config under this name (WrappedGPT)

    def __init__(self, policy, epsilon=0.2, beta=0.0, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.policy = policy
        self.epsilon, self.beta, self.temperature = epsilon, beta, temperature

    def call(self, batch, training=None):
        logits = self.policy(batch["inputs"], training=False)  # (batch, seq, vocab_size)
        return token_log_probs(logits / self.temperature, batch["targets"])  # (batch, seq)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # No "old_log_probs": one update per batch, whose policy is the one that sampled, so
        # the ratio is 1 (TRL: per_token_logps.detach()); no "ref_log_probs": beta = 0.
        old_log_probs = y.get("old_log_probs")
        if old_log_probs is None:
            old_log_probs = ops.stop_gradient(y_pred)
        return clipped_policy_loss(
            y_pred, old_log_probs, y["advantages"], y["mask"], self.epsilon,
            y.get("ref_log_probs"), self.beta,
        )  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "beta": self.beta,
                "temperature": self.temperature}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class GRPOConfig(ConfigDict):
    """How to train with GRPO.

    Args:
        group_size: completions sampled per prompt (TRL: 8; at least 2).
        prompts_per_step: prompts per step; a step trains on ``prompts_per_step * group_size``
            completions.
        steps: sampling steps; a multiple of ``eval_interval``.
        epsilon: the clip range of the ratio (0.2).
        beta: the weight of the KL penalty to the reference (TRL: 0; DeepSeekMath: 0.04).
        temperature: the sampling temperature (> 0).
        max_new_tokens: the longest completion, in tokens; ``None``: the longest reference
            answer of the held-out prompts evaluated, plus one for the end token (as
            ``evaluate_task``).
        learning_rate: AdamW's learning rate (constant).
        iterations: updates per batch of samples (TRL's ``num_iterations``, the paper's mu); with
            more than 1 the ratio moves away from 1 and the clip matters.
        scale_rewards: ``True``: advantages divided by the group's std (GRPO); ``False``: not
            (Dr. GRPO, nanochat).
        format_weight: with the default reward, the weight of ``format_reward`` added to
            ``correctness_reward`` (0: correctness alone).
        weight_decay: AdamW's decoupled weight decay on 2-D weights.
        grad_clip: the largest global gradient norm (0: no clipping).
        eval_interval: steps between held-out evaluations and checkpoints.
        eval_n: held-out prompts per evaluation (greedy pass@1).
        seed: seeds the prompts and the samples of every step.
        keep_checkpoints: how many checkpoints to keep.
    """

    group_size: int = 8
    prompts_per_step: int = 8
    steps: int = 100
    epsilon: float = 0.2
    beta: float = 0.0
    temperature: float = 1.0
    max_new_tokens: int | None = None
    learning_rate: float = 1e-4
    iterations: int = 1
    scale_rewards: bool = True
    format_weight: float = 0.0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_interval: int = 25
    eval_n: int = 100
    seed: int = 0
    keep_checkpoints: int = 2
    # Not a setting: each update is one call of ``train_on_batch`` (``compile_for_fine_tuning``).
    steps_per_execution: ClassVar[int] = 1

    def __post_init__(self):
        for name in ("group_size", "prompts_per_step", "steps", "max_new_tokens", "iterations",
                     "eval_interval", "eval_n", "seed", "keep_checkpoints"):  # fmt: skip
            value = getattr(self, name)
            if name == "max_new_tokens" and value is None:
                continue
            smallest = {"group_size": 2, "seed": 0}.get(name, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                raise ValueError(f"{name} must be an integer >= {smallest}, got {name}={value!r}.")
        for name in ("epsilon", "beta", "temperature", "learning_rate", "format_weight",
                     "weight_decay", "grad_clip"):  # fmt: skip
            value = getattr(self, name)
            positive = name in ("epsilon", "temperature", "learning_rate")
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not np.isfinite(value)
                or value < 0
                or (positive and value == 0)
            ):
                raise ValueError(
                    f"{name} must be a number {'> 0' if positive else '>= 0'}, got "
                    f"{name}={value!r}."
                )
        if not self.epsilon < 1:
            raise ValueError(
                f"epsilon={self.epsilon} must be below 1: the ratio is clipped to "
                "[1 - epsilon, 1 + epsilon] (0.2 is usual)."
            )
        if not isinstance(self.scale_rewards, bool):
            raise ValueError(
                f"scale_rewards must be True or False, got scale_rewards={self.scale_rewards!r}."
            )
        if self.steps % self.eval_interval:
            raise ValueError(
                f"steps={self.steps} is not a multiple of eval_interval={self.eval_interval}: "
                "training runs in whole evaluation intervals. Use e.g. steps="
                f"{(self.steps // self.eval_interval + 1) * self.eval_interval}."
            )

    def optimizer(self, model):
        """AdamW for ``model`` (``build_optimizer``: weight decay on 2-D weights only, clipped
        gradients) at the constant ``learning_rate``, with Adam's default decay rates."""
        return build_optimizer(model, self.learning_rate, weight_decay=self.weight_decay,
                               clipnorm=self.grad_clip)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Sampling a batch
# ---------------------------------------------------------------------------------------------


def default_reward(task, format_weight=0.0):
    """``correctness_reward(task)``, plus ``format_weight`` times ``format_reward(task)``."""
    if not format_weight:
        return correctness_reward(task)
    return combined_reward([correctness_reward(task), format_reward(task)], [1.0, format_weight])


def _sampled_log_probs(model_ref, inputs, targets, *, temperature):
    """``token_log_probs`` of ``logits / temperature`` (compiled per model, no dropout)."""
    logits = model_ref()(inputs, training=False)
    return token_log_probs(logits / temperature, targets)


def sample_batch(model, tokenizer, prompts, config, max_new_tokens, seed):
    """Sample ``group_size`` completions of each prompt and lay them out as training rows.

    Args:
        model: the policy ``GPT``.
        tokenizer: its ``ChatTokenizer``.
        prompts: the users' texts.
        config: the ``GRPOConfig`` (``group_size``, ``temperature``).
        max_new_tokens: the most tokens of a completion (its end token included).
        seed: the sampling seed.

    Returns:
        ``(prompts, completions, arrays)``: each prompt repeated ``group_size`` times; the
        completions as text, the end token written out when the model produced it
        (``rewards.parse_completion``); and ``arrays``, ``{"inputs", "targets", "mask"}``
        ``(n, seq_len)`` from ``pad_chats`` (the mask is 1 on the completion's tokens and its
        end token, SFT's mask), ``seq_len`` the longest chat rounded up to a power of two.
    """
    repeated = [p for p in prompts for _ in range(config.group_size)]
    chats = [format_example(tokenizer, p)[0] for p in repeated]  # [USER] p [END] [ASSISTANT]
    context = model.config.context_length
    longest = max(len(chat) for chat in chats)
    if longest - 1 + max_new_tokens > context:
        raise ValueError(
            f"A prompt of {longest} tokens and max_new_tokens={max_new_tokens} make rows of "
            f"{longest - 1 + max_new_tokens} positions, more than the model's "
            f"context_length={context}: lower max_new_tokens or use shorter prompts."
        )
    new_ids = generate(model, chats, max_new_tokens, temperature=config.temperature, seed=seed,
                       end_token_id=tokenizer.end_id)  # fmt: skip
    completions, rows = [], []
    for chat, ids in zip(chats, new_ids, strict=True):
        # Fewer than max_new_tokens ids: the generator stopped at the end token (not returned).
        ids = ids + [tokenizer.end_id] if len(ids) < max_new_tokens else ids
        completions.append(tokenizer.decode(ids))
        rows.append((chat + ids, [PROMPT_ROLE] * len(chat) + [ASSISTANT_ROLE] * len(ids)))
    seq_len = default_max_length(max(len(ids) for ids, _ in rows) - 1, context)
    inputs, targets, mask = pad_chats(rows, seq_len, tokenizer.end_id)
    return repeated, completions, {"inputs": inputs, "targets": targets, "mask": mask}


def _step_seeds(seed, step):
    """The seeds of the prompts and of the samples of ``step``: functions of ``(seed, step)``."""
    prompts_seed, sample_seed = np.random.default_rng((seed, step)).integers(0, 2**31, size=2)
    return int(prompts_seed), int(sample_seed)


def _frozen_copy(model):
    """A copy of ``model`` with its current weights, not trainable: the default reference."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.trainable = False
    return copy


def _weights_digest(model):
    """SHA-256 of a model's weights: a resumed run must compare with the same reference."""
    return arrays_digest({f"{i:05d}": weight for i, weight in enumerate(model.get_weights())})


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def train_grpo(
    model,
    tokenizer,
    task,
    config,
    reward=None,
    reference=None,
    out=None,
    resume=False,
    verbose="auto",
    jit_compile=None,
):
    """Train ``model`` with GRPO on ``task``'s training prompts, resumably.

    Args:
        model: the policy, a ``GPT`` whose vocabulary holds the tokenizer's (an SFT model). It
            is trained in place.
        tokenizer: its ``ChatTokenizer``.
        task: a ``tasks.Task``: training prompts (``examples(n, "train", seed)``), the checker
            of ``fraction_right`` and the held-out prompts of ``pass_at_1``.
        config: the ``GRPOConfig``.
        reward: ``reward(prompts, completions) -> (n,)`` (``rewards.py``); ``None``:
            ``correctness_reward(task)`` plus ``format_weight`` times ``format_reward(task)``.
        reference: the frozen reference ``GPT`` of the KL; ``None``: a copy of ``model``'s
            weights before training. When resuming, pass the model the run *started* from: its
            weights are the reference again (checked: the checkpoint records their SHA-256), and
            the trained weights come from the checkpoint.
        out: the run directory for checkpoints and the policy as ``model.keras`` with
            ``tokenizer/`` (``None``: keep nothing).
        resume: continue from the latest intact checkpoint in ``out``.
        verbose: ``"auto"``/1: a progress bar; 2: one line per ``eval_interval`` (for a file or a
            pipe: ``llm-keras grpo --quiet``); 0: none.
        jit_compile: as for ``sft.compile_for_fine_tuning`` (``None``: XLA on JAX and
            TensorFlow).

    Returns:
        A ``LossHistory`` whose ``evaluations`` hold one record per step: ``step``, ``loss``
        (the mean over the step's updates), ``mean_reward``, ``fraction_right`` (of the
        samples, by ``task.check``), ``seconds`` (sampling and updates); ``kl`` (mean k3 per
        completion token, sampling policy to reference) on the first step and every
        ``eval_interval`` steps, or every step when the loss needs both log-probs
        (``iterations > 1`` and ``beta > 0``); and ``pass_at_1`` (held-out, greedy) every
        ``eval_interval`` steps; ``train`` holds ``[step, loss]``.

    Raises:
        ValueError: a model whose vocabulary lacks the chat tokens, rows longer than the
            context, a reward of the wrong shape, ``resume`` without a checkpoint or with other
            settings or another reference.
    """
    if not isinstance(config, GRPOConfig):
        raise ValueError(f"config must be a GRPOConfig, got {type(config).__name__}.")
    check_vocabulary(
        tokenizer,
        {"model": model, "reference": reference},
        "GRPO starts from a model fine-tuned with this tokenizer (grow_vocabulary, then "
        "fine_tune).",
    )
    if out is None and resume:
        raise ValueError("resume=True needs the run directory (out) that holds the checkpoints.")
    reward = default_reward(task, config.format_weight) if reward is None else reward
    max_new_tokens = config.max_new_tokens
    if max_new_tokens is None:
        held_out = task.examples(config.eval_n, split="test", seed=config.seed)
        max_new_tokens = max(len(tokenizer.encode(e.answer)) for e in held_out) + 1
    reference = _frozen_copy(model) if reference is None else reference

    grpo_model = GRPOModel(model, config.epsilon, config.beta, config.temperature)
    compile_for_fine_tuning(grpo_model, config, jit_compile=jit_compile)  # the loss: its own
    state = {"grpo_config": config.to_dict(), "task": getattr(task, "name", ""),
             "reference_sha256": _weights_digest(reference)}  # fmt: skip
    history = LossHistory(config.prompts_per_step * config.group_size, log_every=1)
    start = 0
    if resume:
        start, history = resume_run(grpo_model, Path(out), state, history)
    progress = None
    if verbose and verbose != 2:  # 2: one line per interval (a file or a pipe), as fit does
        progress = keras.utils.Progbar(
            config.steps, stateful_metrics=["loss", "reward", "right", "kl"]
        )
        progress.update(start)

    with stop_at_safe_points():  # Ctrl-C waits for the step in progress (training.safe_stop)
        for step in range(start, config.steps):
            raise_if_stop_requested()
            evaluated = (step + 1) % config.eval_interval == 0
            record = grpo_step(grpo_model, tokenizer, task, reward, config, step, reference,
                               max_new_tokens, measure_kl=evaluated or step == 0)  # fmt: skip
            if evaluated:
                record["pass_at_1"] = evaluate_task(
                    model, tokenizer, task, n=config.eval_n, seed=config.seed,
                    max_new_tokens=max_new_tokens,
                )["exact_match"]  # fmt: skip
            history.train.append([step + 1, record["loss"]])
            history.evaluations.append(record)
            if out is not None and evaluated:
                _save(out, grpo_model, tokenizer, state, history, step + 1,
                      config.keep_checkpoints)  # fmt: skip
            shown = {"loss": "loss", "reward": "mean_reward", "right": "fraction_right",
                     "kl": "kl", "pass@1": "pass_at_1"}  # fmt: skip
            values = [(name, record[key]) for name, key in shown.items() if key in record]
            if progress is not None:
                progress.update(step + 1, values)
            elif verbose == 2 and (step + 1) % config.eval_interval == 0:
                print(f"step {step + 1}/{config.steps} - "
                      + " - ".join(f"{name}: {value:.4f}" for name, value in values), flush=True)
    return history


def grpo_step(grpo_model, tokenizer, task, reward, config, step, reference, max_new_tokens,
              measure_kl=True):  # fmt: skip
    """One step of GRPO: sample, score, compare within groups, update; returns its record.

    The prompts and the samples of ``step`` depend only on ``config.seed`` and ``step``.

    Args:
        measure_kl: also measure the KL of the sampling policy to the reference (two forward
            passes over the batch when the loss needs neither: ``iterations=1``, ``beta=0``).

    Returns:
        ``{"step", "loss", "mean_reward", "fraction_right", "seconds"}``, and ``"kl"`` when
        measured or when the loss computed both log-probs anyway (see ``train_grpo``).
    """
    started = time.perf_counter()
    model = grpo_model.policy
    prompts_seed, sample_seed = _step_seeds(config.seed, step)
    prompts = [e.prompt for e in task.examples(config.prompts_per_step, "train", prompts_seed)]
    prompts, completions, arrays = sample_batch(model, tokenizer, prompts, config,
                                                max_new_tokens, sample_seed)  # fmt: skip
    rewards = check_rewards(reward(prompts, completions), len(completions))
    x = {"inputs": arrays["inputs"], "targets": arrays["targets"]}  # (n, seq_len) each
    advantages = group_advantages(rewards, config.group_size, config.scale_rewards)  # (n,)
    y = {"mask": arrays["mask"], "advantages": advantages}
    # The log-probs of the policy that sampled and of the reference, without a gradient, each
    # only where it is needed (each is a forward pass over the batch, an eighth of a step's
    # work): by the loss, or to measure the KL on this step.
    log_probs = {}
    for key, network, in_loss in (("old_log_probs", model, config.iterations > 1),
                                  ("ref_log_probs", reference, config.beta > 0)):  # fmt: skip
        if in_loss or measure_kl:
            function = compiled_for_model(network, _sampled_log_probs,
                                          temperature=config.temperature)  # fmt: skip
            log_probs[key] = ops.convert_to_numpy(function(*map(ops.convert_to_tensor,
                                                                x.values())))  # fmt: skip
            if in_loss:
                y[key] = log_probs[key]
    losses = [float(grpo_model.train_on_batch(x, y, return_dict=True)["loss"])
              for _ in range(config.iterations)]  # fmt: skip
    record = {
        "step": step + 1,
        "loss": float(np.mean(losses)),
        "mean_reward": float(rewards.mean()),
        "fraction_right": float(correctness_reward(task)(prompts, completions).mean()),
    }
    if len(log_probs) == 2:  # (n, seq_len) each
        kl = ops.convert_to_numpy(k3_kl(log_probs["old_log_probs"], log_probs["ref_log_probs"]))
        record["kl"] = float((kl * y["mask"]).sum() / y["mask"].sum())
    return {**record, "seconds": time.perf_counter() - started}


def _save(out, grpo_model, tokenizer, state, history, step, keep):
    """The checkpoint of ``step`` (policy and optimizer), then the policy for generation."""
    state = {**state, "step": step, "history": history.state()}
    save_checkpoint(checkpoint_path(out, step), grpo_model, state)
    save_for_inference(out, grpo_model.policy, tokenizer)
    prune_checkpoints(out, keep)
