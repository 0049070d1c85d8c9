"""Alignment benchmark (week 7): a reward model, DPO and GRPO, timed and measured.

    .venv/bin/python benchmarks/alignment.py [--backend jax] [--quick] [--cache DIR]
        [--stages reward,dpo,...] [--out FILE]

One backend per run (``--backend``, else ``KERAS_BACKEND``), every stage in one process, on
2-digit addition and subtraction (``get_task("arithmetic", digits=2)``), whose answers a program
checks exactly. In order:

- ``pretrain``: the base model of the fine-tuning benchmark (``benchmarks/finetuning.py``'s
  ``pretrain``: ``shakespeare-char-cpu``, 2,000 steps); metric: the validation loss;
- ``sft``: the base grown with the chat tokens, then a *deliberately short* masked SFT (800
  steps on 4,000 prompts; the fine-tuning benchmark trains 1,200 on 8,000): GRPO learns only
  from groups in which some answers are right and some wrong, so it needs a model that is right
  *sometimes*, not one that is always right or never (``docs/alignment.md`` has the measured
  choice: after 200 steps, 9 % of the held-out prompts have a right answer among 8 samples;
  after 800, 43 %); metric: greedy exact match on held-out prompts, with pass@1 and pass@8 of
  8 samples at temperature 1;
- ``reward``: a ``RewardModel`` (the SFT model's body, a scalar head on the last token, every
  weight trained) on near-miss preference pairs (the reference answer chosen, a near miss the
  checker rejects: ``preferences.preference_pairs``); metric: pairwise accuracy on held-out
  pairs, before (a fresh head) and after; also on held-out pairs of the SFT model's own right
  and wrong answers (``sampled_pairs``), the answers GRPO will show it;
- ``reward_log_prob``: the same pairs and steps with the language model's vote,
  ``RewardModel(..., train_layers="head", log_prob_weight=LOG_PROB_WEIGHT)``: the reward adds
  ``a log p(answer | prompt)`` under the SFT model, frozen (``a`` learned), to the head, which
  starts at zero, so "before" is the SFT model's own ranking of the pairs;
- ``dpo`` (and ``dpo_averaged``, the log-probs averaged over the answer): DPO from the SFT model
  on the same kind of pairs, the SFT model as the frozen reference; metric: greedy exact match
  on held-out prompts; also the held-out reward accuracy (implicit rewards), the share of pairs
  whose chosen answer is the likelier one, and the final reward margin;
- ``grpo_verifiable``: GRPO from the SFT model, rewarded by the task's checker plus a small
  format reward; metric: pass@1 (8 samples per held-out prompt at temperature 1, as
  ``llm-keras grpo`` prints it), with pass@8 and the greedy exact match;
- ``grpo_counting``: the same on counting a letter in a word (``get_task("count")``), from an
  SFT model of its own made as ``sft`` is (the row ``sft_count``), the same settings: a task
  where the short SFT leaves most groups with right and wrong answers to learn from;
- ``grpo_reward_model``: the same with the reward model's score as the reward, the checker
  keeping score on the same samples: does the policy learn to please the reward model rather
  than to add (over-optimisation, Gao et al. 2022)?
- ``grpo_reachable_reward``: a check of the GRPO loop itself, 40 steps rewarded for answers that
  start with ``1`` (no arithmetic needed); metric: the samples' mean reward, first and last
  steps.

Each stage records its wall time (target: at most 10 minutes on the fastest backend), the
metric before and after, the trainable parameters and its settings; the curves of the DPO and
GRPO stages (one point per evaluation interval) go under ``"curves"``. The table is printed; the
results go to ``--out`` (default ``course/results/alignment.json``, read by the week 7 chapter)
under the key ``"<backend>-<cpu|gpu>"``, next to the other backends' runs, in the fine-tuning
benchmark's schema (``finetuning.write_result``), with the machine and its load average at the
start and the end.

**The cache** (``--cache DIR``, default ``~/.cache/llm_keras/alignment-benchmark``). The
pretrained base, the SFT model and the reward model are kept there, per backend, under a digest
of the settings that made them, so that rerunning one stage (``--stages grpo_verifiable``) does
not pretrain again. A stage read back from the cache has ``"cached": true`` in the record, and
its wall time is that of the run that made it.

The pretraining reads TinyShakespeare like ``llm-keras train``: from the cache, or from
``LLM_KERAS_DATA`` on a machine without internet access (``LLM_KERAS_DATA=/work/shared/data``
on the course's machine).

``--quick``: a smaller setting for a slow backend (300 pretraining steps, shorter stages, fewer
held-out prompts), recorded as ``"quick": true``; its metrics are not comparable with a full
run's.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import finetuning as finetuning_benchmark  # the base model, the machine, the table, the file
from finetuning import _has_gpu, _trainable, format_row, markdown_table, uptime
from machine_info import describe_machine

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "course" / "results" / "alignment.json"
DEFAULT_CACHE = Path.home() / ".cache" / "llm_keras" / "alignment-benchmark"
FULL = dict(pretrain_steps=2000, sft_steps=800, sft_examples=4000, eval_n=200,
            reward_pairs=4000, reward_steps=1600, dpo_pairs=2000, dpo_steps=200, eval_pairs=400,
            grpo_steps=600, grpo_reward_model_steps=300, grpo_eval_interval=50)  # fmt: skip
QUICK = dict(pretrain_steps=300, sft_steps=400, sft_examples=4000, eval_n=100,
             reward_pairs=2000, reward_steps=200, dpo_pairs=1000, dpo_steps=100, eval_pairs=100,
             grpo_steps=50, grpo_reward_model_steps=50, grpo_eval_interval=25)  # fmt: skip
TASK = {"name": "arithmetic", "digits": 2}
# grpo_counting's task: counting a letter in a word of 4 to 10 letters, where the same short SFT
# leaves a model right on a third of its samples (arithmetic: 9 %), so most of GRPO's groups
# hold right and wrong answers to learn from (docs/alignment.md).
COUNTING = {"name": "count"}  # (its default words: 4 to 10 letters)
TASK_NAMES = {"arithmetic": "arithmetic (2 digits, + and -)",
              "count": "counting a letter (words of 4 to 10 letters)"}  # fmt: skip
SFT_BATCH = 32
SFT_LEARNING_RATE = 1e-3
REWARD_LEARNING_RATE = 1e-3
# reward_log_prob: the starting weight of log p(answer | prompt), and what trains besides the
# head and that weight: the GPT frozen (training it too lowered the held-out accuracy: 0.895 at
# lr 1e-3, 0.9025 at 1e-4, against 0.9225 frozen; docs/alignment.md).
LOG_PROB_WEIGHT = 1.0
REWARD_LOG_PROB_LAYERS = "head"
DPO_BETA = 0.1
DPO_LEARNING_RATE = 1e-4
GRPO_SETTINGS = dict(group_size=16, prompts_per_step=16, learning_rate=1e-4, temperature=1.0,
                     epsilon=0.2, beta=0.0)  # fmt: skip
# The check that GRPO learns a reward the policy can reach: steps rewarded for answers that
# start with this digit (the SFT model starts about a fifth of its samples with it).
REACHABLE_DIGIT, REACHABLE_STEPS = "1", 40
FORMAT_WEIGHT = 0.1
SAMPLES = 8  # pass@k: samples per held-out prompt, at temperature 1
EVAL_SEED = 0
SAMPLES_SHOWN = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("jax", "tensorflow", "torch"),
                        help="the Keras backend (default: KERAS_BACKEND)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="the smaller setting (see above)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where the base, SFT and reward models are kept (default "
                             f"{DEFAULT_CACHE})")  # fmt: skip
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file to update")
    parser.add_argument("--stages", help="comma-separated subset of "
                        f"{', '.join(s.__name__ for s in STAGES)} (default: all)")  # fmt: skip
    args = parser.parse_args()
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    if "KERAS_BACKEND" not in os.environ:
        parser.error("give --backend or set KERAS_BACKEND")
    names = [s.__name__ for s in STAGES]
    # (--stages "": only the base and the SFT model, which every other stage starts from)
    wanted = names if args.stages is None else [n for n in args.stages.split(",") if n]
    unknown = [name for name in wanted if name not in names]
    if unknown:
        parser.error(f"unknown stage {unknown[0]!r}: choose among {', '.join(names)}")
    from llm_keras.host_memory import keep_freed_host_memory

    keep_freed_host_memory()  # as llm-keras does, before JAX's threads start
    settings = dict(QUICK if args.quick else FULL)
    def write(record):
        merged = finetuning_benchmark.with_recorded_stages(args.out, record, ORDER)
        finetuning_benchmark.write_result(args.out, merged or record)

    record = run_all(settings, args.quick, args.cache, wanted, on_stage=write)
    print()
    print(markdown_table(record))
    write(record)
    print(f"Results: {args.out} (key {record['key']!r})")


def run_all(settings, quick, cache, wanted, on_stage=None) -> dict:
    """Every wanted stage; the run's record, handed to ``on_stage`` after each stage as
    ``finetuning.run_all`` does (a run stopped half-way keeps what it finished)."""
    import keras

    backend = keras.backend.backend()
    device = "gpu" if _has_gpu(backend) else "cpu"
    record = {
        "key": f"{backend}-{device}",
        "backend": backend,
        "device": device,
        "keras_version": keras.version(),
        "machine": describe_machine(),
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average_start": list(os.getloadavg()),
        "uptime_start": uptime(),
        "quick": quick,
        "settings": {**settings, "task": TASK, "sft_batch": SFT_BATCH,
                     "sft_learning_rate": SFT_LEARNING_RATE,
                     "reward_learning_rate": REWARD_LEARNING_RATE,
                     "reward_log_prob": {"log_prob_weight": LOG_PROB_WEIGHT,
                                         "train_layers": REWARD_LOG_PROB_LAYERS},
                     "dpo_beta": DPO_BETA,
                     "dpo_learning_rate": DPO_LEARNING_RATE, "grpo": GRPO_SETTINGS,
                     "format_weight": FORMAT_WEIGHT, "samples": SAMPLES},
        "stages": [],
        "curves": {},
    }
    print(f"Machine: {record['machine']}; backend {backend} ({device}); {record['uptime_start']}")
    models = Models(Path(cache) / backend, settings, record)
    models.sft()  # the pretrain and sft rows, from the cache or trained now
    finetuning_benchmark.progress(record, on_stage)
    for stage in STAGES:
        if stage.__name__ in wanted:
            result = stage(models, settings)
            if not any(row is result for row in record["stages"]):  # (the cache adds its own)
                record["stages"].append(result)
                print(format_row(result), flush=True)
            finetuning_benchmark.progress(record, on_stage)
    return finetuning_benchmark.finish(record)


# --- the models every stage starts from, kept in the cache ---------------------------------


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


class Models:
    """The base, SFT and reward models of one backend: read from ``directory`` when a run with
    the same settings made them, else trained (and kept there). Each is made at most once per
    run; its row goes into ``record["stages"]`` then, marked ``"cached"`` when read back."""

    def __init__(self, directory, settings, record):
        self.settings, self.record = settings, record
        self.pretrain_dir = directory / f"pretrain-{_digest(settings['pretrain_steps'])}"
        self.directory = directory
        sft_key = self._sft_key(TASK)
        reward_key = (*sft_key, settings["reward_pairs"], settings["eval_pairs"],
                      settings["reward_steps"], REWARD_LEARNING_RATE)  # fmt: skip
        self.reward_dir = directory / f"reward-{_digest(*reward_key)}"
        log_prob_key = (*reward_key, LOG_PROB_WEIGHT, REWARD_LOG_PROB_LAYERS)
        self.reward_log_prob_dir = directory / f"reward-log-prob-{_digest(*log_prob_key)}"
        self._made = set()
        self._base = None  # (model, tokenizer) when pretrained in this run

    def _sft_key(self, task):
        settings = self.settings
        return (settings["pretrain_steps"], settings["sft_steps"], settings["sft_examples"],
                settings["eval_n"], SFT_BATCH, SFT_LEARNING_RATE, task, SAMPLES)  # fmt: skip

    def _cached_row(self, directory, make):
        """The row of ``directory``'s stage: read back (``"cached": true``) or made by
        ``make(directory)``, which returns it and saves the model there."""
        row_file = directory / "row.json"
        if row_file.is_file():
            row = {**json.loads(row_file.read_text(encoding="utf-8")), "cached": True,
                   "cache": str(directory)}  # fmt: skip
        else:
            row = make(directory)
            directory.mkdir(parents=True, exist_ok=True)
            row_file.write_text(json.dumps(row, indent=1) + "\n", encoding="utf-8")
        if directory not in self._made:
            self._made.add(directory)
            self.record["stages"].append(row)
            if row.get("cached") or row["stage"] != "pretrain":  # (pretrain prints its own)
                print(format_row(row) + ("  (cached)" if row.get("cached") else ""), flush=True)
        return row

    def base_row(self):
        """The pretraining's row (pretrained now when the cache has no such base)."""
        from llm_keras.training.run_directory import save_for_inference

        def make(directory):
            rows = []
            self._base = finetuning_benchmark.pretrain(self.settings, {"stages": rows})
            save_for_inference(directory, *self._base)
            return rows[0]

        return self._cached_row(self.pretrain_dir, make)

    def sft(self, task=TASK):
        """A fresh copy of ``(SFT GPT, ChatTokenizer)`` fine-tuned on ``task`` (a spec such as
        ``TASK``), and its SFT stage's row (``"sft"``, or ``"sft_<name>"`` for another task)."""
        from llm_keras.training.run_directory import load_for_inference, save_for_inference

        def make(directory):
            base = self._base or load_for_inference(self.pretrain_dir)
            model, tokenizer, row = sft_stage(*base, self.settings, task)
            save_for_inference(directory, model, tokenizer)
            return row

        self.base_row()
        directory = self.directory / f"sft-{_digest(*self._sft_key(task))}"
        row = self._cached_row(directory, make)
        model, tokenizer = load_for_inference(directory)
        return model, tokenizer, row

    def reward_model(self, log_prob_weight=None):
        """The trained ``RewardModel`` and its tokenizer; the reward stage's row (with
        ``log_prob_weight``, the ``reward_log_prob`` stage's)."""
        import keras

        import llm_keras.alignment.reward_model  # noqa: F401  (registers RewardModel)
        from llm_keras.tokenizers import Tokenizer

        def make(directory):
            reward_model, tokenizer, row = reward_stage(self, self.settings, log_prob_weight)
            directory.mkdir(parents=True, exist_ok=True)
            reward_model.save(directory / "reward.keras")
            tokenizer.save(directory / "tokenizer")
            return row

        directory = self.reward_dir if log_prob_weight is None else self.reward_log_prob_dir
        row = self._cached_row(directory, make)
        reward_model = keras.saving.load_model(directory / "reward.keras", compile=False)
        return reward_model, Tokenizer.load(directory / "tokenizer"), row


def _task(spec=TASK):
    from llm_keras.finetuning.tasks import get_task

    return get_task(**spec)


def _greedy(model, tokenizer, task, n):
    from llm_keras.finetuning.evaluate import evaluate_task

    return evaluate_task(model, tokenizer, task, n=n, seed=EVAL_SEED)


def _sampled(model, tokenizer, task, n):
    """pass@1 and pass@SAMPLES of SAMPLES answers per held-out prompt at temperature 1."""
    from llm_keras.finetuning.evaluate import evaluate_task

    result = evaluate_task(model, tokenizer, task, n=n, k=SAMPLES, samples=SAMPLES,
                           temperature=1.0, seed=EVAL_SEED)  # fmt: skip
    return result["exact_match"], result["pass_at_k"]


def _by_kind(pairs, accuracy):
    """``{kind: accuracy(the pairs of that kind)}``: which near misses are hard to tell."""
    kinds = sorted({pair.kind for pair in pairs})
    return {kind: accuracy([p for p in pairs if p.kind == kind]) for kind in kinds}


def _samples_before_after(before, after):
    return [
        {"prompt": p, "reference": r, "before": b, "after": a}
        for (p, b, r, _), (_, a, _, _) in zip(before["rows"], after["rows"], strict=True)
    ][:SAMPLES_SHOWN]


# --- the stages -------------------------------------------------------------------------------


def sft_stage(base, base_tokenizer, settings, spec=TASK):
    """The under-trained SFT model on the task ``spec``: ``(model, tokenizer, row)``."""
    import keras

    from llm_keras.finetuning.chat_template import add_chat_tokens, grow_vocabulary
    from llm_keras.finetuning.sft import SFTConfig, fine_tune

    task = _task(spec)
    tokenizer = add_chat_tokens(base_tokenizer, task.characters)
    model = grow_vocabulary(base, tokenizer.vocab_size)
    n, steps = settings["eval_n"], settings["sft_steps"]
    before = _greedy(model, tokenizer, task, n)
    config = SFTConfig(steps=steps, batch_size=SFT_BATCH, learning_rate=SFT_LEARNING_RATE,
                       min_learning_rate=SFT_LEARNING_RATE / 10, warmup_steps=steps // 20,
                       eval_interval=steps)  # fmt: skip
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    history = fine_tune(model, tokenizer, task.examples(settings["sft_examples"]), config,
                        verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    after = _greedy(model, tokenizer, task, n)
    pass_1, pass_k = _sampled(model, tokenizer, task, n)
    row = {
        "stage": "sft" if spec == TASK else f"sft_{spec['name']}",
        "what": f"{_options(spec)}, full fine-tuning, loss on answers only, {steps} steps of "
                f"{SFT_BATCH}, lr {SFT_LEARNING_RATE:g} (deliberately short)",
        "metric": f"exact match, greedy ({n} held-out prompts)",
        "before": before["exact_match"],
        "after": after["exact_match"],
        "pass_at_1": pass_1,
        f"pass_at_{SAMPLES}": pass_k,
        "task": TASK_NAMES[spec["name"]],
        "wall_seconds": round(seconds, 1),
        "steps": steps,
        "trainable_parameters": _trainable(model),
        "final_train_loss": history.evaluations[-1]["train_loss"],
        "samples": _samples_before_after(before, after),
    }
    return model, tokenizer, row


def reward_stage(models, settings, log_prob_weight=None):
    """The reward model (with ``log_prob_weight``, the one that adds the answer's
    log-probability): ``(reward_model, tokenizer, row)``."""
    import keras

    from llm_keras.alignment.preferences import preference_pairs, sampled_pairs
    from llm_keras.alignment.reward_model import (
        RewardConfig,
        RewardModel,
        pairwise_accuracy,
        train_reward_model,
    )

    task = _task()
    gpt, tokenizer, _ = models.sft()
    steps = settings["reward_steps"]
    train_pairs = preference_pairs(task, settings["reward_pairs"], "train", seed=0)
    val_pairs = preference_pairs(task, settings["eval_pairs"], "test", seed=1)
    # The SFT model's own right and wrong answers to held-out prompts: what GRPO will show it.
    own_pairs = sampled_pairs(gpt, tokenizer, task, settings["eval_pairs"], "test",
                              samples=SAMPLES, seed=1)  # fmt: skip
    keras.utils.set_random_seed(0)  # the new head
    with_log_prob = log_prob_weight is not None
    layers = REWARD_LOG_PROB_LAYERS if with_log_prob else "all"
    reward_model = RewardModel(gpt, train_layers=layers, log_prob_weight=log_prob_weight)
    before = pairwise_accuracy(reward_model, tokenizer, val_pairs)
    before_by_kind = _by_kind(val_pairs,
                              lambda pairs: pairwise_accuracy(reward_model, tokenizer, pairs))
    own_before = pairwise_accuracy(reward_model, tokenizer, own_pairs) if own_pairs else None
    config = RewardConfig(steps=steps, learning_rate=REWARD_LEARNING_RATE,
                          min_learning_rate=REWARD_LEARNING_RATE / 10,
                          warmup_steps=min(20, steps // 10), eval_interval=steps // 4)  # fmt: skip
    start = time.perf_counter()
    history = train_reward_model(reward_model, tokenizer, train_pairs, config,
                                 val_pairs=val_pairs, verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    after = pairwise_accuracy(reward_model, tokenizer, val_pairs)
    what = "all weights train"
    if with_log_prob:
        what = (f"+ a log p(answer) under the SFT model, a from {log_prob_weight:g}, the head "
                f"from 0; train_layers {layers}")  # fmt: skip
    row = {
        "stage": "reward_log_prob" if with_log_prob else "reward",
        "what": f"RewardModel from the SFT model ({what}), {len(train_pairs)} near-miss pairs, "
                f"{steps} steps of {config.batch_size}, lr {REWARD_LEARNING_RATE:g}",
        "metric": f"pairwise accuracy ({len(val_pairs)} held-out near-miss pairs)",
        "before": before,
        "after": after,
        "target": ">= 0.90",
        "before_by_kind": before_by_kind,
        "after_by_kind": _by_kind(val_pairs,
                                  lambda pairs: pairwise_accuracy(reward_model, tokenizer, pairs)),
        "sampled_pairs": len(own_pairs),
        "sampled_pairwise_accuracy_before": own_before,
        "sampled_pairwise_accuracy_after": (
            pairwise_accuracy(reward_model, tokenizer, own_pairs) if own_pairs else None
        ),
        "task": TASK_NAMES[TASK["name"]],
        "wall_seconds": round(seconds, 1),
        "steps": steps,
        "trainable_parameters": _trainable(reward_model),
        "final_train_loss": history.evaluations[-1]["train_loss"],
        "final_val_loss": history.evaluations[-1].get("val_loss"),
        "curve": [{"step": e["step"], "val_accuracy": e.get("val_accuracy")}
                  for e in history.evaluations],
    }
    if with_log_prob:  # a, as learned
        row["log_prob_weight_after"] = float(
            keras.ops.convert_to_numpy(reward_model.learned_log_prob_weight))
    return reward_model, tokenizer, row


def reward(models, settings):
    return models.reward_model()[2]


def reward_log_prob(models, settings):
    return models.reward_model(log_prob_weight=LOG_PROB_WEIGHT)[2]


def _dpo(models, settings, average):
    import keras
    import numpy as np

    from llm_keras.alignment.dpo import DPOConfig, pair_log_probs, preference_accuracy, train_dpo
    from llm_keras.alignment.dpo import encode_pairs as encode_dpo_pairs
    from llm_keras.alignment.preferences import preference_pairs

    task = _task()
    model, tokenizer, _ = models.sft()
    steps, n = settings["dpo_steps"], settings["eval_n"]
    train_pairs = preference_pairs(task, settings["dpo_pairs"], "train", seed=0)
    val_pairs = preference_pairs(task, settings["eval_pairs"], "test", seed=1)
    reference = pair_log_probs(model, encode_dpo_pairs(tokenizer, val_pairs), average)
    before = _greedy(model, tokenizer, task, n)
    def likelier(pairs):  # log pi(chosen) > log pi(rejected)
        return preference_accuracy(model, tokenizer, pairs, np.zeros((len(pairs), 2)), average)

    likelier_before, likelier_by_kind = likelier(val_pairs), _by_kind(val_pairs, likelier)
    config = DPOConfig(beta=DPO_BETA, average_log_probs=average, steps=steps,
                       learning_rate=DPO_LEARNING_RATE, min_learning_rate=DPO_LEARNING_RATE / 10,
                       warmup_steps=min(20, steps // 10), eval_interval=steps // 4)  # fmt: skip
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    history = train_dpo(model, tokenizer, train_pairs, config, val_pairs=val_pairs, verbose=0)
    seconds = time.perf_counter() - start
    after = _greedy(model, tokenizer, task, n)
    stage = "dpo_averaged" if average else "dpo"
    curve = [{"step": e["step"], "margin": e["val_reward_margin"],
              "accuracy": e["val_reward_accuracy"], "loss": e["val_loss"]}
             for e in history.evaluations]  # fmt: skip
    models.record["curves"][stage] = curve
    how = "averaged over" if average else "summed over"
    return {
        "stage": stage,
        "what": f"DPO from the SFT model (its own reference), beta {DPO_BETA:g}, log-probs {how} "
                f"the answer, {len(train_pairs)} near-miss pairs, {steps} steps of "
                f"{config.batch_size}, lr {DPO_LEARNING_RATE:g}",
        "metric": f"exact match, greedy ({n} held-out prompts)",
        "before": before["exact_match"],
        "after": after["exact_match"],
        "reward_accuracy_before": 0.0,  # the policy is its reference: every reward is 0, a tie
        "reward_accuracy_after": preference_accuracy(model, tokenizer, val_pairs, reference,
                                                     average),
        "chosen_likelier_before": likelier_before,
        "chosen_likelier_before_by_kind": likelier_by_kind,
        "chosen_likelier_after": likelier(val_pairs),
        "final_reward_margin": curve[-1]["margin"],
        "task": TASK_NAMES[TASK["name"]],
        "wall_seconds": round(seconds, 1),
        "steps": steps,
        "trainable_parameters": _trainable(model),
        "samples": _samples_before_after(before, after),
    }


def dpo(models, settings):
    return _dpo(models, settings, average=False)


def dpo_averaged(models, settings):
    return _dpo(models, settings, average=True)


def _options(spec):
    """``"arithmetic digits=2"``: a task spec as the row's ``what`` names it."""
    return " ".join([spec["name"], *(f"{k}={v}" for k, v in spec.items() if k != "name")])


def _grpo(models, settings, stage, learned, spec=TASK):
    import keras
    import numpy as np

    from llm_keras.alignment.grpo import GRPOConfig, train_grpo
    from llm_keras.alignment.rewards import reward_model_reward

    task = _task(spec)
    model, tokenizer, _ = models.sft(spec)
    # (against the reward model, the damage is done within a few hundred steps: fewer of them)
    steps = settings["grpo_reward_model_steps" if learned else "grpo_steps"]
    n = settings["eval_n"]
    interval = settings["grpo_eval_interval"]
    config = GRPOConfig(steps=steps, eval_interval=interval, eval_n=n, seed=EVAL_SEED,
                        format_weight=0.0 if learned else FORMAT_WEIGHT,
                        **GRPO_SETTINGS)  # fmt: skip
    reward_function, what = None, f"the checker + {FORMAT_WEIGHT:g} x the format reward"
    if learned:
        reward_model, reward_tokenizer, _ = models.reward_model()
        reward_function = reward_model_reward(reward_model, reward_tokenizer)
        what = "the reward model's score (the checker only keeps score)"
    greedy_before = _greedy(model, tokenizer, task, n)
    pass_1_before, pass_k_before = _sampled(model, tokenizer, task, n)
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    history = train_grpo(model, tokenizer, task, config, reward=reward_function, verbose=0)
    seconds = time.perf_counter() - start
    greedy_after = _greedy(model, tokenizer, task, n)
    pass_1_after, pass_k_after = _sampled(model, tokenizer, task, n)
    # One point per interval: the means over its steps' samples, the KL to the SFT model and the
    # held-out pass@1 at its end (train_grpo measures the KL there only: two forward passes);
    # step 0 holds the samples of the first step (drawn by the SFT model, before any update).
    records = history.evaluations
    chunks = [(0, records[:1])] + [(end, records[end - interval : end])
                                   for end in range(interval, steps + 1, interval)]  # fmt: skip
    curve = []
    for end, chunk in chunks:
        point = {"step": end, "pass_at_1": chunk[-1]["pass_at_1"] if end else
                 greedy_before["exact_match"]}  # fmt: skip
        for key in ("mean_reward", "fraction_right", "kl"):
            point[key] = float(np.mean([r[key] for r in chunk if key in r]))
        curve.append(point)
    if learned:  # the proxy (the reward model's score) and the truth (the checker's verdict)
        curve = [{"step": p["step"], "proxy_reward": p["mean_reward"],
                  "true_accuracy": p["fraction_right"], "pass_at_1": p["pass_at_1"],
                  "kl": p["kl"]} for p in curve]  # fmt: skip
    models.record["curves"][stage] = curve
    g = config
    return {
        "stage": stage,
        "what": f"GRPO from the SFT model, reward {what}, {steps} steps of "
                f"{g.prompts_per_step} prompts x {g.group_size} samples at temperature "
                f"{g.temperature:g}, lr {g.learning_rate:g}, epsilon {g.epsilon:g}, KL beta "
                f"{g.beta:g}",
        "metric": f"pass@1 ({SAMPLES} samples at T=1, {n} held-out prompts)",
        "before": pass_1_before,
        "after": pass_1_after,
        f"pass_at_{SAMPLES}_before": pass_k_before,
        f"pass_at_{SAMPLES}_after": pass_k_after,
        "greedy_exact_match_before": greedy_before["exact_match"],
        "greedy_exact_match_after": greedy_after["exact_match"],
        "learning_rate": g.learning_rate,
        "target": "pass@1 +0.20" if not learned else "measure over-optimisation",
        "task": TASK_NAMES[spec["name"]],
        "wall_seconds": round(seconds, 1),
        "steps": steps,
        "trainable_parameters": _trainable(model),
        "samples": _samples_before_after(greedy_before, greedy_after),
    }


def grpo_verifiable(models, settings):
    return _grpo(models, settings, "grpo_verifiable", learned=False)


def grpo_counting(models, settings):
    """``grpo_verifiable`` on counting a letter, from an SFT model of its own (the row
    ``sft_count``), with the same settings (docs/alignment.md: a learning rate of 3e-4 did
    worse on counting, +0.08 against 1e-4's +0.114, its KL to the start twice as large)."""
    return _grpo(models, settings, "grpo_counting", learned=False, spec=COUNTING)


def grpo_reward_model(models, settings):
    return _grpo(models, settings, "grpo_reward_model", learned=True)


def grpo_reachable_reward(models, settings):
    """The check of the GRPO loop itself: rewarded for answers that start with
    ``REACHABLE_DIGIT`` (no arithmetic needed), the policy should learn it in a few steps."""
    import keras
    import numpy as np

    from llm_keras.alignment.grpo import GRPOConfig, train_grpo

    model, tokenizer, _ = models.sft()

    def starts_with_digit(prompts, completions):
        return np.asarray([c.startswith(REACHABLE_DIGIT) for c in completions], dtype="float32")

    config = GRPOConfig(steps=REACHABLE_STEPS, eval_interval=REACHABLE_STEPS, eval_n=20,
                        seed=EVAL_SEED, **GRPO_SETTINGS)  # fmt: skip
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    history = train_grpo(model, tokenizer, _task(), config, reward=starts_with_digit, verbose=0)
    seconds = time.perf_counter() - start
    rewards = [record["mean_reward"] for record in history.evaluations]
    return {
        "stage": "grpo_reachable_reward",
        "what": f"GRPO from the SFT model, reward 1 for an answer starting with "
                f"{REACHABLE_DIGIT!r} (a check of the loop: no arithmetic needed), "
                f"{REACHABLE_STEPS} steps, the other settings of grpo_verifiable",
        "metric": "mean reward of the samples (first 5 steps, last 5 steps)",
        "before": float(np.mean(rewards[:5])),
        "after": float(np.mean(rewards[-5:])),
        "rewards": rewards,
        "task": TASK_NAMES[TASK["name"]],
        "wall_seconds": round(seconds, 1),
        "steps": REACHABLE_STEPS,
        "trainable_parameters": _trainable(model),
    }


STAGES = (reward, reward_log_prob, dpo, dpo_averaged, grpo_verifiable, grpo_counting,
          grpo_reward_model, grpo_reachable_reward)
# The table's rows in order: the stages, with the SFT models they start from before them.
ORDER = ["pretrain", "sft", *(name for stage in STAGES for name in
         ((f"sft_{COUNTING['name']}",) if stage is grpo_counting else ()) +
         (stage.__name__,))]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
