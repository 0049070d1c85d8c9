"""Fine-tuning benchmark (week 6): every stage of ``llm_keras.finetuning`` timed and measured.

    .venv/bin/python benchmarks/finetuning.py [--backend jax] [--quick] [--out FILE]

One backend per run (``--backend``, else ``KERAS_BACKEND``), all stages in one process, on the
same base model, in order:

- ``pretrain``: the base, ``shakespeare-char-cpu`` (4 layers, 4 heads, d_model 128, context 64,
  character-level TinyShakespeare, batch 12, AdamW, warm-up and cosine decay), ``--pretrain-steps``
  steps (default 2,000, nanoGPT's CPU run); metric: the validation loss before and after;
- ``sft_masked``: the base grown with the chat tokens (``add_chat_tokens``, ``grow_vocabulary``),
  fine-tuned on 2-digit addition and subtraction (``get_task("arithmetic", digits=2)``), the loss
  on the answers only; metric: exact match on 200 held-out prompts, before and after;
- ``sft_unmasked``: the same with the loss on every token (the ablation);
- ``sft_lora``: the same as ``sft_masked`` with LoRA of rank 8 on the attention's query and value
  projections (everything else frozen, learning rate 3e-3), merged at the end;
- ``sft_lora_embeddings``: the same, with the token table trainable too (the new rows of the
  digits and chat tokens start equal, at the mean of the old rows: frozen, the model cannot tell
  the digits apart; Hugging Face PEFT trains added tokens the same way, ``modules_to_save``);
- ``classify_genre_pretrained`` / ``classify_genre_scratch``: a ``LastTokenClassifier`` on the
  genre of Shakespeare passages (comedy, history, tragedy; test passages from held-out plays,
  balanced: the majority baseline is 1/3), one epoch, from the base (``last_block`` trains) and from
  fresh weights of the same shape (``all`` trains); metric: test accuracy, "before" is the
  majority baseline;
- ``classify_letters_pretrained`` / ``classify_letters_scratch``: the same on the synthetic
  ``letters_in_order`` task.

Each stage records its wall time (the target: at most 10 minutes per stage on the fastest
backend), the metric before and after, the trainable parameters and, for SFT, a few answers
before and after. The table is printed; the results go to ``--out`` (default
``course/results/finetuning.json``, read by the week 6 chapter) under the key
``"<backend>-<cpu|gpu>"``, next to the runs of the other backends already there. The machine, its
load average (``uptime``) at the start and the end, the date and the Keras version are recorded:
the course's CPU machine is shared, and the wall times depend on the load.

``--stages a,b --merge``: run only those stages (after the pretraining, whose row replaces the
recorded one: the pretraining is deterministic, so its loss checks that the base is the same) and
put them into the run already recorded under the same key with the same settings, keeping its
other stages, each marked with the date of the run that made it (``"run_date"``;
``with_recorded_stages``). Runs merged before 5 December 2026 have a ``"merged"`` note instead.

``--quick``: a smaller setting for a slow backend (300 pretraining steps, 300 SFT steps, fewer
classification passages), recorded as ``"quick": true``; its metrics are not comparable with a
full run's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from machine_info import describe_machine

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "course" / "results" / "finetuning.json"
SCHEMA_VERSION = 1
FULL = dict(pretrain_steps=2000, sft_steps=1200, sft_examples=8000, eval_n=200,
            genre_per_class=2000, letters_train=4000, lora_rank=8)  # fmt: skip
QUICK = dict(pretrain_steps=300, sft_steps=300, sft_examples=4000, eval_n=100,
             genre_per_class=600, letters_train=1000, lora_rank=8)  # fmt: skip
SFT_BATCH = 32
SFT_LEARNING_RATE = 1e-3
LORA_LEARNING_RATE = 3e-3
SAMPLES_SHOWN = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("jax", "tensorflow", "torch"),
                        help="the Keras backend (default: KERAS_BACKEND)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="the smaller setting (see above)")
    parser.add_argument("--pretrain-steps", type=int, help="override the setting's")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file to update")
    parser.add_argument("--stages", help="comma-separated subset of the stages (default: all)")
    parser.add_argument("--merge", action="store_true",
                        help="with --stages: put these stages into the run already recorded under "
                             "the same key and settings, keeping its other stages")  # fmt: skip
    args = parser.parse_args()
    if args.merge and not args.stages:
        parser.error("--merge adds the stages given with --stages to a recorded run: give --stages")
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    if "KERAS_BACKEND" not in os.environ:
        parser.error("give --backend or set KERAS_BACKEND")
    from llm_keras.host_memory import keep_freed_host_memory

    keep_freed_host_memory()  # as llm-keras does, before JAX's threads start
    settings = dict(QUICK if args.quick else FULL)
    if args.pretrain_steps:
        settings["pretrain_steps"] = args.pretrain_steps
    def save(record):
        if args.merge:
            order = ["pretrain", *(stage.__name__ for stage in STAGES)]
            merged = with_recorded_stages(args.out, record, order)
            if merged is None:
                raise SystemExit(
                    f"--merge: {args.out} holds no run {record['key']!r} with these settings to "
                    "add stages to; run without --merge to record a new run."
                )
            record = merged
        write_result(args.out, record)

    record = run_all(settings, args.quick, args.stages, on_stage=save)
    print_table(record)
    save(record)
    print(f"Results: {args.out} (key {record['key']!r})")


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def run_all(settings, quick, stages=None, on_stage=None) -> dict:
    """Every wanted stage on one base model; the run's record. ``on_stage(record)`` is called
    after each stage with the record so far (``"complete": false``), so that a run stopped
    half-way (a time limit, a lost machine) keeps the stages it finished."""
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
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_start": list(os.getloadavg()),
        "uptime_start": uptime(),
        # the libraries' thread limits, when the environment set any (on a loaded machine,
        # PyTorch with one OpenMP thread per core can be several times slower than with one)
        "thread_limits": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
        "quick": quick,
        "settings": settings,
        "stages": [],
    }
    print(f"Machine: {record['machine']}; backend {backend} ({device}); {record['uptime_start']}")
    wanted = None if stages is None else set(stages.split(","))
    base, tokenizer = pretrain(settings, record)
    progress(record, on_stage)
    for stage in STAGES:
        if wanted is None or stage.__name__ in wanted:
            result = stage(base, tokenizer, settings)
            record["stages"].append(result)
            print(format_row(result), flush=True)
            progress(record, on_stage)
    return finish(record)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "XLA_FLAGS")


def finish(record, complete=True) -> dict:
    """``record`` with the load at its end (and ``complete``), as written to the results."""
    record["load_average_end"] = list(os.getloadavg())
    record["uptime_end"] = uptime()
    record["load"] = load_line(record)
    record["complete"] = complete
    return record


def progress(record, on_stage) -> None:
    """Hand a copy of the record so far to ``on_stage`` (if any), marked incomplete."""
    if on_stage is not None:
        on_stage(finish(json.loads(json.dumps(record)), complete=False))


def load_line(record) -> str:
    """The machine's load during the run, in words (the chapter prints it)."""
    start, end = record["load_average_start"][0], record["load_average_end"][0]
    limits = ", ".join(f"{name}={value}" for name, value in record.get("thread_limits", {}).items())
    return (f"load average {start:.1f} at the start and {end:.1f} at the end on "
            f"{record['cpu_count']} cores (a machine shared with other jobs)"
            + (f"; threads limited by {limits}" if limits else ""))


def _has_gpu(backend) -> bool:
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def _trainable(model) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


# --- the stages -------------------------------------------------------------------------------


def pretrain(settings, record):
    """The base model; its row goes into ``record``. Returns ``(model, tokenizer)``."""
    import keras
    import numpy as np

    from llm_keras.data import load_tiny_shakespeare, train_val_split
    from llm_keras.models import GPT, GPTConfig
    from llm_keras.tokenizers import CharTokenizer
    from llm_keras.training.trainer import TrainingConfig, compile_for_training, train

    text = load_tiny_shakespeare()
    tokenizer = CharTokenizer.train(text)
    train_ids, val_ids = train_val_split(np.asarray(tokenizer.encode(text), dtype=np.int32))
    config = TrainingConfig.preset("shakespeare-char-cpu", steps=settings["pretrain_steps"],
                                   eval_interval=math.gcd(250, settings["pretrain_steps"]),
                                   warmup_steps=min(100, settings["pretrain_steps"] // 10),
                                   sample_tokens=0)  # fmt: skip
    keras.utils.set_random_seed(config.seed)
    model = GPT(GPTConfig.preset("shakespeare-char-cpu"))
    compile_for_training(model, config)
    before = float(model.evaluate(*_val_windows(val_ids, model, config), verbose=0)[0])
    start = time.perf_counter()
    history = train(model, train_ids, val_ids, config, verbose=2)
    seconds = time.perf_counter() - start
    after = history.evaluations[-1]["val_loss"]
    row = {
        "stage": "pretrain",
        "what": f"shakespeare-char-cpu, {config.steps} steps of {config.batch_size} windows",
        "metric": "validation loss (nats)",
        "before": before,
        "after": after,
        "task": "next character of TinyShakespeare",
        "wall_seconds": round(seconds, 1),
        "steps": config.steps,
        "trainable_parameters": _trainable(model),
    }
    record["stages"].append(row)
    print(format_row(row), flush=True)
    return model, tokenizer


def _val_windows(val_ids, model, config):
    from llm_keras.data.windows import evaluation_windows

    n = config.eval_batches * config.batch_size
    return evaluation_windows(val_ids, model.config.context_length, n, config.seed)


def _sft(base, base_tokenizer, settings, stage, mask_prompt=True, lora_rank=None,
         train_embeddings=False):
    import keras

    from llm_keras.finetuning.chat_template import add_chat_tokens, grow_vocabulary
    from llm_keras.finetuning.evaluate import evaluate_task
    from llm_keras.finetuning.lora import apply_lora, merge_lora
    from llm_keras.finetuning.sft import SFTConfig, fine_tune
    from llm_keras.finetuning.tasks import get_task

    task = get_task("arithmetic", digits=2)
    tokenizer = add_chat_tokens(base_tokenizer, task.characters)
    model = grow_vocabulary(base, tokenizer.vocab_size)  # a copy: the base stays as it is
    n = settings["eval_n"]
    before = evaluate_task(model, tokenizer, task, n=n)
    if lora_rank is not None:
        apply_lora(model, lora_rank, alpha=2 * lora_rank)
        # The new rows (digits, chat tokens) start equal, at the mean: frozen, they stay so.
        for weight in model.token_embedding.weights:  # (apply_lora froze each weight)
            weight.trainable = train_embeddings
    learning_rate = LORA_LEARNING_RATE if lora_rank else SFT_LEARNING_RATE
    steps = settings["sft_steps"]
    config = SFTConfig(steps=steps, batch_size=SFT_BATCH, learning_rate=learning_rate,
                       min_learning_rate=learning_rate / 10, warmup_steps=steps // 20,
                       eval_interval=steps // 3, mask_prompt=mask_prompt)  # fmt: skip
    trainable = _trainable(model)
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    history = fine_tune(model, tokenizer, task.examples(settings["sft_examples"]), config,
                        val_examples=task.examples(4 * SFT_BATCH, "test", seed=1),
                        verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    if lora_rank is not None:
        merge_lora(model)
    after = evaluate_task(model, tokenizer, task, n=n)
    what = "LoRA rank {0}, alpha {1} (query, value)".format(lora_rank, 2 * lora_rank) \
        if lora_rank else "full fine-tuning"
    if train_embeddings:
        what += " and the token table"
    mask = "answers only" if mask_prompt else "every token"
    return {
        "stage": stage,
        "what": f"arithmetic digits=2, {what}, loss on {mask}, {steps} steps of {SFT_BATCH}, "
                f"lr {learning_rate:g}",
        "metric": f"exact match ({n} held-out prompts)",
        "before": before["exact_match"],
        "after": after["exact_match"],
        "task": "arithmetic (2 digits, + and -)",
        "wall_seconds": round(seconds, 1),
        "steps": steps,
        "trainable_parameters": trainable,
        "final_train_loss": history.evaluations[-1].get("train_loss"),
        "final_val_loss": history.evaluations[-1].get("val_loss"),
        "samples": [
            {"prompt": p, "reference": r, "before": b, "after": a}
            for (p, b, r, _), (_, a, _, _) in zip(before["rows"], after["rows"], strict=True)
        ][:SAMPLES_SHOWN],
    }


def sft_masked(base, tokenizer, settings):
    return _sft(base, tokenizer, settings, "sft_masked")


def sft_unmasked(base, tokenizer, settings):
    return _sft(base, tokenizer, settings, "sft_unmasked", mask_prompt=False)


def sft_lora(base, tokenizer, settings):
    return _sft(base, tokenizer, settings, "sft_lora", lora_rank=settings["lora_rank"])


def sft_lora_embeddings(base, tokenizer, settings):
    return _sft(base, tokenizer, settings, "sft_lora_embeddings", lora_rank=settings["lora_rank"],
                train_embeddings=True)


def _classify(base, tokenizer, settings, data, pretrained):
    import keras

    from llm_keras.finetuning.classification import (
        LastTokenClassifier,
        classification_data,
        majority_baseline,
        train_classifier,
    )
    from llm_keras.models import GPT

    train, test, inputs = classification_data(
        data, tokenizer, base.config.context_length, max_per_class=settings["genre_per_class"],
        num_train=settings["letters_train"],
    )  # fmt: skip
    x_train, x_test = inputs["train"], inputs["test"]
    keras.utils.set_random_seed(0)
    if pretrained:
        gpt = GPT.from_config(base.get_config())
        gpt.set_weights(base.get_weights())  # a copy: the base stays as it is
        layers = "last_block"
    else:
        gpt, layers = GPT(base.config), "all"
    classifier = LastTokenClassifier(gpt, len(train.class_names), train_layers=layers)
    result = train_classifier(classifier, (x_train, train.labels), (x_test, test.labels))
    start = "pretrained base, last_block trains" if pretrained else "fresh weights, all train"
    return {
        "stage": f"classify_{data}_{'pretrained' if pretrained else 'scratch'}",
        "what": f"{data}: {len(train)} train / {len(test)} test texts, 1 epoch of 32, {start}",
        "metric": "test accuracy (before: majority baseline)",
        "before": majority_baseline(train, test),
        "after": result.accuracy,
        "train_accuracy": result.train_accuracy,
        "task": "genre of a passage" if data == "genre" else "letters in order",
        "wall_seconds": round(result.seconds, 1),
        "steps": result.steps,
        "trainable_parameters": _trainable(classifier),
    }


def classify_genre_pretrained(base, tokenizer, settings):
    return _classify(base, tokenizer, settings, "genre", pretrained=True)


def classify_genre_scratch(base, tokenizer, settings):
    return _classify(base, tokenizer, settings, "genre", pretrained=False)


def classify_letters_pretrained(base, tokenizer, settings):
    return _classify(base, tokenizer, settings, "letters", pretrained=True)


def classify_letters_scratch(base, tokenizer, settings):
    return _classify(base, tokenizer, settings, "letters", pretrained=False)


STAGES = (sft_masked, sft_unmasked, sft_lora, sft_lora_embeddings, classify_genre_pretrained,
          classify_genre_scratch, classify_letters_pretrained, classify_letters_scratch)  # fmt: skip


# --- the table and the file -------------------------------------------------------------------


def format_row(row) -> str:
    return (f"{row['stage']:<28} {row['wall_seconds']:>8.1f} s  {row['before']:>7.3f} -> "
            f"{row['after']:<7.3f} {row['trainable_parameters']:>10,}  "
            f"{row['metric']}")  # fmt: skip


def print_table(record) -> None:
    print()
    print(markdown_table(record))


def markdown_table(record) -> str:
    lines = [
        f"{record['backend']} ({record['device']}), {record['machine']}, "
        f"load average {record['load_average_start'][0]:.1f} at the start, "
        f"{record['load_average_end'][0]:.1f} at the end"
        + (", --quick" if record["quick"] else ""),
        "",
        "| stage | wall time (s) | metric | before | after | trainable parameters |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for row in record["stages"]:
        lines.append(f"| {row['stage']} | {row['wall_seconds']:.1f} | {row['metric']} | "
                     f"{row['before']:.3f} | {row['after']:.3f} | "
                     f"{row['trainable_parameters']:,} |")  # fmt: skip
    return "\n".join(lines)


def with_recorded_stages(path, record, order):
    """``record`` with the stage rows (and curves) it did not run, taken from the run recorded in
    ``path`` under its key, or ``None`` when ``path`` holds no run of that key with the same
    settings. Rerunning some stages (``--stages a,b``) so keeps the others' rows; each kept row
    says when it was made in ``"run_date"`` (a row without it was made on the run's ``"date"``).
    ``order``: the stage names in the table's order. Both benchmarks merge this way
    (``finetuning.py --merge``, ``alignment.py --stages``)."""
    path = Path(path)
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.is_file() else {}
    recorded = runs.get(record["key"])
    settings = json.loads(json.dumps(record["settings"]))  # (as the file holds them)
    if recorded is None or recorded.get("settings") != settings:
        return None
    ran = {row["stage"] for row in record["stages"]}
    kept = [{**row, "run_date": row.get("run_date", recorded["date"])}
            for row in recorded["stages"] if row["stage"] not in ran]  # fmt: skip
    position = {name: i for i, name in enumerate(order)}
    stages = sorted(record["stages"] + kept, key=lambda row: position.get(row["stage"], len(order)))
    curves = {name: curve for name, curve in recorded.get("curves", {}).items()
              if name not in ran}  # fmt: skip
    merged = {**record, "stages": stages}
    if curves or "curves" in record:
        merged["curves"] = {**curves, **record.get("curves", {})}
    return merged


def write_result(path, record) -> None:
    """Put ``record`` under its key in ``path``, keeping the other backends' runs.

    The file's schema (version 1): ``runs``, ``{"<backend>-<cpu|gpu>": run}``, every run made;
    and at the top level, the keys of the main run (the chapter's table reads them): ``date``,
    ``backend``, ``device``, ``machine``, ``load``, ``quick``, ``settings``, ``stages``. The main
    run is a full (not ``--quick``) run on a CPU, or a quick one while there is none; on JAX,
    the course's default backend, when there is one, else the latest; a run stopped half-way
    (``"complete": false``) only while there is no complete one. (The chapter's text describes
    the main run; the other backends' runs are in its last table.)
    Each stage: ``stage``, ``task``, ``what``, ``metric``, ``before``, ``after``,
    ``wall_seconds``, ``steps``, ``trainable_parameters`` (and, for SFT, ``samples``: a few
    prompts with the answers before and after).
    """
    path = Path(path)
    runs = {}
    if path.is_file():
        runs = json.loads(path.read_text(encoding="utf-8")).get("runs", {})
    runs[record["key"]] = record
    main_run = max(runs.values(), key=lambda r: (r["device"] == "cpu", r.get("complete", True),
                                                 not r["quick"], r["backend"] == "jax",
                                                 r["date"]))  # fmt: skip
    document = {"schema_version": SCHEMA_VERSION, "main_run": main_run["key"],
                **{k: v for k, v in main_run.items() if k != "key"}, "runs": runs}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
