"""``llm-keras reward``, ``llm-keras dpo`` and ``llm-keras grpo``: alignment from the command line (week 7, "Alignment: rewards, DPO and GRPO").

The commands are named as Hugging Face TRL names its trainers (``RewardTrainer``,
``DPOTrainer``, ``GRPOTrainer``) and follow ``llm-keras sft`` (``llm_keras.finetuning.command``,
whose helpers they reuse): a progress bar on a terminal (one line per interval in a file, or with
``--quiet``), checkpoints, ``--resume`` with the run's settings kept, and errors that name the
option to fix. Each starts from a *fine-tuned* run (``llm-keras sft --out RUN``: its tokenizer has
the chat tokens) and measures the same held-out prompts before and after. The course's flow:

    llm-keras train --preset shakespeare-char-cpu --data tiny_shakespeare --out runs/base
    llm-keras sft --base runs/base --task arithmetic --out runs/sft
    llm-keras reward --base runs/sft --task arithmetic --out runs/reward    # pairwise accuracy
    llm-keras dpo --base runs/sft --task arithmetic --out runs/dpo          # exact match, rewards
    llm-keras grpo --base runs/sft --task arithmetic --out runs/grpo        # pass@1, pass@k
    llm-keras grpo --base runs/sft --task arithmetic --out runs/grpo-rm --reward-model runs/reward
    llm-keras evaluate --checkpoint runs/dpo --task arithmetic

**reward** (``run_reward``) trains a ``RewardModel`` (``reward_model.py``: the SFT model's body,
a scalar head on the last token) with the Bradley-Terry loss on preference pairs of the task:
the reference answer chosen, a near miss the checker rejects (a digit off by one, a stray
character, a cut answer) rejected (``preferences.preference_pairs``); with ``--sampled``, pairs
of the SFT model's own answers, a right one chosen and a wrong one rejected
(``preferences.sampled_pairs``). It prints the pairwise accuracy on held-out pairs (prompts
never trained on) before (a fresh head: about 0.5) and after. ``--log-prob-weight A`` adds the
language model's vote, ``a log p(answer | prompt)`` with ``a`` learned from ``A`` (the head then
starts at zero, so "before" is the SFT model's own ranking of the pairs). ``DIR`` holds
``run.json``, ``checkpoints/``, ``reward.keras`` (the reward model) and ``tokenizer/``.

**dpo** (``run_dpo``) trains the SFT model with DPO (``dpo.train_dpo``) on the same kind of
pairs, against the SFT model itself as the frozen reference (its log-probs of every pair are
computed once, before the first step, and kept in ``DIR/reference_log_probs.npz`` for
``--resume``). It prints the exact match on held-out prompts before and after, the held-out
reward accuracy (the share of pairs whose chosen answer has the higher implicit reward
``beta * (log pi - log pi_ref)``: 0 before, when the policy is its reference), the share of pairs
whose chosen answer is the likelier one, and the final reward margin.

**grpo** (``run_grpo``) trains the SFT model with GRPO (``grpo.train_grpo``): each step samples
``--group-size`` answers to each of ``--prompts-per-step`` training prompts (the week 4 generator,
KV cache), rewards them (by default 1 when the task's checker accepts the answer: a verifiable
reward; with ``--reward-model DIR``, the score of a ``llm-keras reward`` run, which can be
gamed), and pushes up the answers better than their group's mean with the clipped policy loss
(``--epsilon``) and, with ``--beta`` above 0, a KL penalty towards the SFT model. It prints
pass@1 and pass@k (k the group size) on held-out prompts, sampled at ``--temperature``, before
and after.

The ``dpo`` and ``grpo`` run directories are laid out as ``sft``'s (``model.keras``,
``tokenizer/``, ``run.json``, ``checkpoints/``), so ``llm-keras evaluate``, ``generate`` and
``serve`` read them.

Mistakes (a base run that does not exist or is not fine-tuned, an unknown task, ``--beta 0`` for
DPO, ``--epsilon`` outside (0, 1), ``--group-size 1``, a ``--reward-model`` folder without
``reward.keras``) raise ``ValueError``s in plain words, which ``llm-keras`` prints as one line
(exit status 2), before anything in ``--out`` is written.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from llm_keras.finetuning.command import (
    EVAL_SEED,
    RUN_FILE,
    add_task_options,
    chat_tokenizer,
    checked_run_directory,
    command_settings,
    held_out_size,
    task_from_options,
    write_json,
)
from llm_keras.training.command_output import kept_on_interrupt, progress_verbosity

REWARD_FILE = "reward.keras"
# The settings of each command and their defaults. Chosen so that each command takes a few
# minutes on a 2-core CPU for the course's small preset (shakespeare-char-cpu after
# `llm-keras sft`); docs/alignment.md gives the measured times.
REWARD_DEFAULTS = {
    "pairs": 2000,
    "sampled": False,
    "steps": 200,
    "batch_size": 32,
    "learning_rate": 3e-4,
    "train_layers": "all",
    "log_prob_weight": None,  # None: the head alone
    "eval_pairs": 200,
    "eval_interval": 50,  # steps between checkpoints; --steps when 50 does not divide it
    "seed": 0,
}
DPO_DEFAULTS = {
    "beta": 0.1,
    "average_log_probs": False,
    "pairs": 2000,
    "sampled": False,
    "steps": 200,
    "batch_size": 32,
    "learning_rate": 1e-4,
    "eval_pairs": 200,
    "eval_n": 100,
    "eval_interval": 50,  # or --steps
    "seed": 0,
}
GRPO_DEFAULTS = {
    "reward_model": None,  # None: the task's checker (a verifiable reward)
    "group_size": 8,
    "prompts_per_step": 8,
    "steps": 50,
    "epsilon": 0.2,
    "beta": 0.0,
    "temperature": 1.0,
    "learning_rate": 1e-4,
    "eval_n": 100,
    "eval_interval": 10,  # or --steps
    "seed": 0,
}
# Answers sampled per prompt for --sampled pairs, and their temperature.
SAMPLES_PER_PROMPT = 8
SAMPLING_TEMPERATURE = 1.0


# --- the sub-commands -----------------------------------------------------------------------


def add_alignment_commands(commands) -> None:
    """Add ``reward``, ``dpo`` and ``grpo`` to the ``llm-keras`` sub-commands."""
    add_reward_command(commands)
    add_dpo_command(commands)
    add_grpo_command(commands)


def _add_run_options(parser, command):
    """--base, --out, --resume and the task options, as ``llm-keras sft`` has them."""
    parser.add_argument("--base", metavar="RUN",
                        help="the run directory of `llm-keras sft` (a fine-tuned model)",
                        )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help=f"the {command} run directory")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_task_options(parser, required=False)


def _add_training_options(section, defaults, unit):
    section.add_argument("--steps", type=int,
                         help=f"optimizer steps (default {defaults['steps']})")  # fmt: skip
    if "batch_size" in defaults:
        section.add_argument("--batch-size", type=int,
                             help=f"{unit} per step (default {defaults['batch_size']})",
                             )  # fmt: skip
    section.add_argument("--learning-rate", type=float,
                         help=f"peak learning rate (default {defaults['learning_rate']:g})",
                         )  # fmt: skip


def _add_pair_options(section, defaults):
    section.add_argument("--pairs", type=int,
                         help=f"training pairs (prompts) drawn (default {defaults['pairs']})",
                         )  # fmt: skip
    section.add_argument(
        "--sampled", action="store_const", const=True,
        help=f"pairs of the base model's own answers ({SAMPLES_PER_PROMPT} per prompt, a right "
             "one chosen, a wrong one rejected) instead of near misses of the reference",
    )  # fmt: skip
    section.add_argument("--eval-pairs", type=int,
                         help="held-out pairs measured before and after "
                              f"(default {defaults['eval_pairs']})")  # fmt: skip


def _add_last_options(parser, section, defaults):
    section.add_argument("--eval-interval", type=int,
                         help=f"steps between checkpoints (default {defaults['eval_interval']}, "
                              "or --steps)")  # fmt: skip
    section.add_argument("--seed", type=int, help="the pairs or prompts drawn, their order and "
                                                  "the sampling (default 0)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="one line per interval, no bar")


def add_reward_command(commands) -> None:
    """Add ``reward`` (a Bradley-Terry reward model on preference pairs) to the sub-commands."""
    reward = commands.add_parser(
        "reward",
        help="train a reward model on preference pairs of a task (Bradley-Terry, resume)",
        description="Train a RewardModel on a fine-tuned run: chosen vs rejected answers.",
    )
    _add_run_options(reward, "reward")
    d = REWARD_DEFAULTS
    section = reward.add_argument_group("reward-model settings")
    _add_pair_options(section, d)
    _add_training_options(section, d, "pairs")
    section.add_argument("--train-layers",
                         help="all, last_block or head: what trains besides the new head "
                              f"(default {d['train_layers']})")  # fmt: skip
    section.add_argument("--log-prob-weight", type=float, metavar="A",
                         help="add A x log p(answer | prompt), the base model's own "
                              "log-probability of the answer, to the head's score; A is learned "
                              "from this start (e.g. 1; default: the head alone)")  # fmt: skip
    _add_last_options(reward, section, d)
    reward.set_defaults(handler=run_reward)


def add_dpo_command(commands) -> None:
    """Add ``dpo`` (direct preference optimisation) to the sub-commands."""
    dpo = commands.add_parser(
        "dpo",
        help="train a fine-tuned GPT on preference pairs with DPO (no reward model, resume)",
        description="Direct preference optimisation of a `llm-keras sft` run on pairs of a task.",
    )
    _add_run_options(dpo, "dpo")
    d = DPO_DEFAULTS
    section = dpo.add_argument_group("DPO settings")
    section.add_argument("--beta", type=float,
                         help="how strongly the policy is held to the SFT model, > 0 "
                              f"(default {d['beta']:g})")  # fmt: skip
    section.add_argument("--average-log-probs", action="store_const", const=True,
                         help="an answer's log-prob is the mean over its tokens (default: "
                              "the sum, as the paper)")  # fmt: skip
    _add_pair_options(section, d)
    _add_training_options(section, d, "pairs")
    section.add_argument("--eval-n", type=int,
                         help="held-out prompts whose exact match is measured before and after "
                              f"(default {d['eval_n']})")  # fmt: skip
    _add_last_options(dpo, section, d)
    dpo.set_defaults(handler=run_dpo)


def add_grpo_command(commands) -> None:
    """Add ``grpo`` (group relative policy optimisation) to the sub-commands."""
    grpo = commands.add_parser(
        "grpo",
        help="train a fine-tuned GPT on its own sampled answers with GRPO (verifiable rewards)",
        description="GRPO of a `llm-keras sft` run: sampled groups, the task's checker (or a "
                    "reward model) as reward, a clipped policy loss.",
    )  # fmt: skip
    _add_run_options(grpo, "grpo")
    d = GRPO_DEFAULTS
    section = grpo.add_argument_group("GRPO settings")
    section.add_argument("--reward-model", metavar="REWARD_RUN",
                         help="reward the answers with a `llm-keras reward` run's score "
                              "(default: 1 when the task's checker accepts the answer, else "
                              "0)")  # fmt: skip
    section.add_argument("--group-size", type=int,
                         help=f"answers sampled per prompt, >= 2 (default {d['group_size']}); "
                              "also the k of pass@k")  # fmt: skip
    section.add_argument("--prompts-per-step", type=int,
                         help=f"training prompts per step (default {d['prompts_per_step']})")
    _add_training_options(section, d, "prompts")
    section.add_argument("--epsilon", type=float,
                         help=f"the clip range of the probability ratio, in (0, 1) "
                              f"(default {d['epsilon']:g})")  # fmt: skip
    section.add_argument("--beta", type=float,
                         help=f"weight of the KL penalty towards the SFT model, >= 0 "
                              f"(default {d['beta']:g}: none)")  # fmt: skip
    section.add_argument("--temperature", type=float,
                         help=f"sampling temperature, > 0 (default {d['temperature']:g})")
    section.add_argument("--eval-n", type=int,
                         help="held-out prompts whose pass@1 and pass@k are measured before "
                              f"and after (default {d['eval_n']})")  # fmt: skip
    _add_last_options(grpo, section, d)
    grpo.set_defaults(handler=run_grpo)


# --- settings, shared by the three commands -------------------------------------------------


def _settings(args, out, command, defaults):
    """The run's settings and its saved record (``None`` for a new run), as ``llm-keras sft``
    reads them (``finetuning.command.command_settings``), with this command's checks."""
    return command_settings(args, out, command, defaults,
                            check=lambda settings: _check_numbers(settings, command),
                            run_directories=("reward_model",))  # fmt: skip


# option -> (the test a good value passes, what to give)
_NUMBER_RULES = {
    "steps": (lambda v: v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "pairs": (lambda v: v >= 1, "an integer >= 1"),
    "eval_pairs": (lambda v: v >= 1, "an integer >= 1"),
    "eval_n": (lambda v: v >= 1, "an integer >= 1"),
    "eval_interval": (lambda v: v >= 1, "an integer >= 1"),
    "prompts_per_step": (lambda v: v >= 1, "an integer >= 1"),
    "group_size": (
        lambda v: v >= 2,
        "an integer >= 2: an advantage compares an answer with the others of its group",
    ),
    "learning_rate": (lambda v: v > 0, "a number > 0"),
    "log_prob_weight": (
        lambda v: 0 <= v < math.inf,
        ("a finite number >= 0, e.g. 1: the starting weight of the answer's log-probability "
         "(leave the option out for the head alone)"),
    ),
    "temperature": (lambda v: v > 0, "a number > 0: GRPO learns from different samples"),
    "epsilon": (
        lambda v: 0 < v < 1,
        "a number in (0, 1), e.g. 0.2: the ratio is clipped to [1 - epsilon, 1 + epsilon]",
    ),
}


# --beta: DPO's scale of the implicit reward, GRPO's weight of the KL penalty.
_BETA_RULES = {
    "dpo": (
        lambda v: v > 0,
        "a number > 0 (the paper's 0.1): the loss sees beta times the log-ratios",
    ),
    "grpo": (lambda v: v >= 0, "a number >= 0 (0: no KL penalty)"),
}


def _check_numbers(settings, command):
    """The numbers of a new run make sense (before any backend work)."""
    rules = {**_NUMBER_RULES, "beta": _BETA_RULES.get(command)}
    for key, (good, what) in ((k, r) for k, r in rules.items() if r is not None):
        value = settings.get(key)
        if value is not None and not good(value):
            raise ValueError(f"--{key.replace('_', '-')} {value:g}: give {what}.")
    if "pairs" in settings and settings["pairs"] < settings["batch_size"]:
        raise ValueError(
            f"--pairs {settings['pairs']} is fewer than --batch-size {settings['batch_size']}: "
            "give at least a batch of pairs."
        )


def _fine_tuned_base(settings):
    """The base run directory, the task and the base's ChatTokenizer (which must write the
    task's characters), or a ValueError naming --base; the model itself is not loaded."""
    task = task_from_options(settings["task"], settings["task_options"])
    base = checked_run_directory(settings["base"], "--base")
    from llm_keras.finetuning.chat_template import ChatTokenizer
    from llm_keras.tokenizers import Tokenizer
    from llm_keras.training.run_directory import TOKENIZER_DIR

    tokenizer = Tokenizer.load(base / TOKENIZER_DIR)
    if not isinstance(tokenizer, ChatTokenizer):
        raise ValueError(
            f"--base {base} is not a fine-tuned run (its tokenizer has no chat tokens): fine-tune "
            f"it first with `llm-keras sft --base {base} --task {task.name} --out runs/sft` and "
            "pass that run."
        )
    chat_tokenizer(tokenizer, task, base)  # checks the task's characters
    return base, task, tokenizer


def _load_base(base):
    from llm_keras.training.run_directory import load_for_inference

    model, _ = load_for_inference(base)
    return model


def _make_pairs(settings, task, model, tokenizer):
    """The training and held-out preference pairs: near misses of the reference answers, or
    with ``sampled`` the base model's own right and wrong answers."""
    from llm_keras.alignment.preferences import preference_pairs, sampled_pairs

    def pairs(n, split, seed):
        if settings["sampled"]:
            return sampled_pairs(model, tokenizer, task, n, split, samples=SAMPLES_PER_PROMPT,
                                 temperature=SAMPLING_TEMPERATURE, seed=seed)  # fmt: skip
        return preference_pairs(task, n, split, seed=seed)

    try:
        train = pairs(settings["pairs"], "train", settings["seed"])
    except ValueError as error:  # more pairs than the task has training prompts
        raise ValueError(f"--pairs {settings['pairs']}: {error}") from None
    held_out = pairs(held_out_size(task, settings["eval_pairs"]), "test", EVAL_SEED)
    if len(train) < settings["batch_size"] or not held_out:  # (sampled pairs only)
        raise ValueError(
            f"--sampled: the base model's {SAMPLES_PER_PROMPT} answers to a prompt were rarely "
            f"one right and one wrong ({len(train)} training pairs from {settings['pairs']} "
            f"prompts, {len(held_out)} held-out): ask for more --pairs, or use near misses "
            "(leave out --sampled)."
        )
    return train, held_out


def _pair_kinds(pairs):
    kinds = {}
    for pair in pairs:
        kinds[pair.kind] = kinds.get(pair.kind, 0) + 1
    return ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))


# --- llm-keras reward -----------------------------------------------------------------------


def run_reward(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras reward`` (errors are ValueErrors naming the bad option)."""
    out = Path(args.out)
    settings, saved = _settings(args, out, "reward", REWARD_DEFAULTS)
    from llm_keras.finetuning.classification import TRAIN_LAYERS

    if settings["train_layers"] not in TRAIN_LAYERS:
        raise ValueError(
            f"--train-layers {settings['train_layers']}: choose one of {', '.join(TRAIN_LAYERS)}."
        )
    base, task, tokenizer = _fine_tuned_base(settings)

    import keras

    from llm_keras.alignment.reward_model import (
        RewardConfig,
        RewardModel,
        pairwise_accuracy,
        train_reward_model,
    )
    from llm_keras.keras_files import save_model
    from llm_keras.seeding import set_seed
    from llm_keras.training.run_directory import TOKENIZER_DIR

    config = RewardConfig(**_optimizer_settings(settings))
    model = _load_base(base)
    train_pairs, val_pairs = _make_pairs(settings, task, model, tokenizer)
    set_seed(settings["seed"])  # the new head's weights
    weight = settings["log_prob_weight"]
    reward_model = RewardModel(model, train_layers=settings["train_layers"],
                               log_prob_weight=weight)  # fmt: skip
    if saved is None:
        before = pairwise_accuracy(reward_model, tokenizer, val_pairs)
        vote = "" if weight is None else f" plus {weight:g} x log p(answer) (the weight learned)"
        print(f"Base {base}: a new reward head on its last token{vote}, training "
              f"{settings['train_layers']}. Pairwise accuracy before training, "
              f"{len(val_pairs)} held-out pairs: {before:.3f} (chance: 0.5)")  # fmt: skip
        record = {"command": "reward", "settings": settings, "pairwise_accuracy_before": before}
        write_json(out / RUN_FILE, record)
    else:
        record = saved
    print(f"Training the reward model on {len(train_pairs):,} {task!r} pairs "
          f"({_pair_kinds(train_pairs)}), {config.steps} steps of {config.batch_size}; backend "
          f"{keras.backend.backend()}; run directory {out}")  # fmt: skip
    start = time.perf_counter()
    with kept_on_interrupt(out, "reward"):
        history = train_reward_model(
            reward_model, tokenizer, train_pairs, config, val_pairs=val_pairs, out=out,
            resume=args.resume, verbose=progress_verbosity(args.quiet),
            state={"run_settings": settings},
        )  # fmt: skip
    seconds = time.perf_counter() - start
    save_model(reward_model, out / REWARD_FILE)
    tokenizer.save(out / TOKENIZER_DIR)
    after = pairwise_accuracy(reward_model, tokenizer, val_pairs)
    last = history.evaluations[-1] if history.evaluations else {}
    record.update(
        pairwise_accuracy_after=after, pairs=len(train_pairs), eval_pairs=len(val_pairs),
        train_loss=last.get("train_loss"), val_loss=last.get("val_loss"),
        train_accuracy=last.get("train_accuracy"), seconds=round(seconds, 1),
    )  # fmt: skip
    write_json(out / RUN_FILE, record)
    print(f"Pairwise accuracy on {len(val_pairs)} held-out pairs: "
          f"{record['pairwise_accuracy_before']:.3f} before, {after:.3f} after. Reward model: "
          f"{out / REWARD_FILE}; use it with `llm-keras grpo --base {base} --task "
          f"{settings['task']} --reward-model {out} --out DIR`.")  # fmt: skip
    return 0


# --- llm-keras dpo --------------------------------------------------------------------------


def run_dpo(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras dpo`` (errors are ValueErrors naming the bad option)."""
    out = Path(args.out)
    settings, saved = _settings(args, out, "dpo", DPO_DEFAULTS)
    base, task, tokenizer = _fine_tuned_base(settings)

    import keras
    import numpy as np

    from llm_keras.alignment.dpo import REFERENCE_FILE, DPOConfig, preference_accuracy, train_dpo
    from llm_keras.finetuning.evaluate import evaluate_task
    from llm_keras.training.run_directory import save_for_inference

    config = DPOConfig(beta=settings["beta"], average_log_probs=settings["average_log_probs"],
                       **_optimizer_settings(settings))  # fmt: skip
    model = _load_base(base)
    train_pairs, val_pairs = _make_pairs(settings, task, model, tokenizer)
    eval_n = held_out_size(task, settings["eval_n"])
    average = settings["average_log_probs"]

    def exact_match():
        return evaluate_task(model, tokenizer, task, n=eval_n, seed=EVAL_SEED)["exact_match"]

    def chosen_likelier():  # log pi(chosen) > log pi(rejected): the reference taken as 0
        return preference_accuracy(model, tokenizer, val_pairs, np.zeros((len(val_pairs), 2)),
                                   average)  # fmt: skip

    if saved is None:
        before, likelier = exact_match(), chosen_likelier()
        print(f"Base {base}: exact match {before:.3f} on {eval_n} held-out prompts; the chosen "
              f"answer is the likelier one in {likelier:.3f} of {len(val_pairs)} held-out "
              "pairs.")  # fmt: skip
        record = {"command": "dpo", "settings": settings, "exact_match_before": before,
                  "chosen_likelier_before": likelier}  # fmt: skip
        write_json(out / RUN_FILE, record)
    else:
        record = saved
    how = "averaged" if average else "summed"
    print(f"DPO (beta {config.beta:g}, log-probs {how} over the answer) on {len(train_pairs):,} "
          f"{task!r} pairs ({_pair_kinds(train_pairs)}), {config.steps} steps of "
          f"{config.batch_size}; backend {keras.backend.backend()}; run directory {out}",
          )  # fmt: skip
    start = time.perf_counter()
    with kept_on_interrupt(out, "dpo"):
        history = train_dpo(
            model, tokenizer, train_pairs, config, val_pairs=val_pairs, out=out,
            resume=args.resume, verbose=progress_verbosity(args.quiet),
            state={"run_settings": settings},
        )  # fmt: skip
    seconds = time.perf_counter() - start
    save_for_inference(out, model, tokenizer)
    with np.load(out / REFERENCE_FILE, allow_pickle=False) as kept:
        reference = kept["val"]  # the SFT model's log-probs of the held-out pairs
    last = history.evaluations[-1] if history.evaluations else {}
    record.update(
        exact_match_after=exact_match(), chosen_likelier_after=chosen_likelier(),
        reward_accuracy_after=preference_accuracy(model, tokenizer, val_pairs, reference,
                                                  average),
        reward_margin=last.get("val_reward_margin"), train_loss=last.get("train_loss"),
        val_loss=last.get("val_loss"), pairs=len(train_pairs), eval_pairs=len(val_pairs),
        eval_n=eval_n, seconds=round(seconds, 1),
    )  # fmt: skip
    write_json(out / RUN_FILE, record)
    print(f"Exact match on {eval_n} held-out prompts of {task!r}: "
          f"{record['exact_match_before']:.3f} before, {record['exact_match_after']:.3f} after. "
          f"Held-out pairs ({len(val_pairs)}): reward accuracy "
          f"{record['reward_accuracy_after']:.3f} (0 before: the policy was its reference), "
          f"chosen answer likelier {record['chosen_likelier_before']:.3f} before, "
          f"{record['chosen_likelier_after']:.3f} after; final reward margin "
          f"{record['reward_margin']:.3f}. Model: {out / 'model.keras'}; try `llm-keras "
          f"evaluate --checkpoint {out} --task {settings['task']}`.")  # fmt: skip
    return 0


def _optimizer_settings(settings):
    """The optimizer fields of a command's config, as ``llm-keras sft`` sets them: a floor of a
    tenth of the peak learning rate, a tenth of the steps (at most 20) of warm-up."""
    fields = {"steps": settings["steps"], "learning_rate": settings["learning_rate"],
              "min_learning_rate": settings["learning_rate"] / 10,
              "warmup_steps": min(20, settings["steps"] // 10),
              "eval_interval": settings["eval_interval"], "seed": settings["seed"]}  # fmt: skip
    if "batch_size" in settings:
        fields["batch_size"] = settings["batch_size"]
    return fields


# --- llm-keras grpo -------------------------------------------------------------------------


def run_grpo(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras grpo`` (errors are ValueErrors naming the bad option)."""
    out = Path(args.out)
    settings, saved = _settings(args, out, "grpo", GRPO_DEFAULTS)
    base, task, tokenizer = _fine_tuned_base(settings)
    reward_run = _reward_run(settings["reward_model"])

    import keras

    from llm_keras.alignment.grpo import GRPOConfig, train_grpo
    from llm_keras.alignment.rewards import reward_model_reward
    from llm_keras.finetuning.evaluate import evaluate_task
    from llm_keras.training.run_directory import save_for_inference

    eval_n = held_out_size(task, settings["eval_n"])
    config = GRPOConfig(eval_n=eval_n, **{key: settings[key] for key in (
        "group_size", "prompts_per_step", "steps", "epsilon", "beta", "temperature",
        "learning_rate", "eval_interval", "seed")})  # fmt: skip
    model = _load_base(base)
    # The frozen reference: the base read again, not copied (a Keras copy goes through
    # get_config, which makes Keras import TensorFlow on JAX and PyTorch too, and TensorFlow
    # prints its start-up lines, "Could not find cuda drivers..." among them).
    reference = _load_base(base)
    reference.trainable = False
    reward, what = None, "1 when the task's checker accepts the answer"
    if reward_run is not None:
        reward = reward_model_reward(*_load_reward_model(reward_run))
        what = f"the score of the reward model {reward_run}"
    k = settings["group_size"]

    def pass_at():
        result = evaluate_task(model, tokenizer, task, n=eval_n, k=k, samples=k,
                               temperature=settings["temperature"], seed=EVAL_SEED)  # fmt: skip
        return result["exact_match"], result["pass_at_k"]

    if saved is None:
        pass_1, pass_k = pass_at()
        print(f"Base {base}: on {eval_n} held-out prompts, {k} samples each at temperature "
              f"{settings['temperature']:g}: pass@1 {pass_1:.3f}, pass@{k} {pass_k:.3f}.",
              )  # fmt: skip
        record = {"command": "grpo", "settings": settings, "pass_at_1_before": pass_1,
                  f"pass_at_{k}_before": pass_k}  # fmt: skip
        write_json(out / RUN_FILE, record)
    else:
        record = saved
    print(f"GRPO on {task!r}: {config.steps} steps of {config.prompts_per_step} prompts x "
          f"{config.group_size} answers, reward {what}, epsilon {config.epsilon:g}, KL beta "
          f"{config.beta:g}; backend {keras.backend.backend()}; run directory {out}")  # fmt: skip
    start = time.perf_counter()
    with kept_on_interrupt(out, "grpo"):
        history = train_grpo(
            model, tokenizer, task, config, reward=reward, reference=reference, out=out,
            resume=args.resume, verbose=progress_verbosity(args.quiet),
        )  # fmt: skip
    seconds = time.perf_counter() - start
    save_for_inference(out, model, tokenizer)
    pass_1, pass_k = pass_at()
    last = history.evaluations[-1] if history.evaluations else {}
    record.update({"pass_at_1_after": pass_1, f"pass_at_{k}_after": pass_k, "eval_n": eval_n,
                   "seconds": round(seconds, 1),
                   **{key: last.get(key) for key in ("loss", "mean_reward", "fraction_right",
                                                     "kl")}})  # fmt: skip (the last step's)
    write_json(out / RUN_FILE, record)
    print(f"On {eval_n} held-out prompts of {task!r}, {k} samples each: pass@1 "
          f"{record['pass_at_1_before']:.3f} before, {pass_1:.3f} after; pass@{k} "
          f"{record[f'pass_at_{k}_before']:.3f} before, {pass_k:.3f} after. Model: "
          f"{out / 'model.keras'}; try `llm-keras evaluate --checkpoint {out} --task "
          f"{settings['task']}`.")  # fmt: skip
    return 0


def _reward_run(path):
    """``--reward-model``'s folder, which must hold ``reward.keras`` (``None``: none given)."""
    if path is None:
        return None
    directory = Path(path)
    if not (directory / REWARD_FILE).is_file():
        raise ValueError(
            f"--reward-model {path} holds no {REWARD_FILE}: give the --out folder of a finished "
            "`llm-keras reward` run (or leave --reward-model out to reward with the task's "
            "checker)."
        )
    return directory


def _load_reward_model(directory):
    """``(reward_model, tokenizer)`` of a ``llm-keras reward`` run directory."""
    import keras

    import llm_keras.alignment.reward_model  # noqa: F401  (registers RewardModel)
    from llm_keras.tokenizers import Tokenizer
    from llm_keras.training.run_directory import TOKENIZER_DIR

    reward_model = keras.saving.load_model(directory / REWARD_FILE, compile=False)
    return reward_model, Tokenizer.load(directory / TOKENIZER_DIR)
