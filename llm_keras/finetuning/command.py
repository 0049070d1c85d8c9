"""``llm-keras sft``, ``llm-keras evaluate`` and ``llm-keras classify``: fine-tuning from the command line (week 6, "Instruction tuning with a masked loss").

The commands are named as Hugging Face TRL names its trainers (``SFTTrainer``: supervised
fine-tuning) and follow ``llm-keras train`` (``llm_keras.training.command``): a progress bar on a
terminal (one line per interval in a file, or with ``--quiet``), checkpoints, ``--resume``, and
errors that name the option to fix. The course's flow, from a base model to a measured gain:

    llm-keras train --preset shakespeare-char-cpu --data tiny_shakespeare --out runs/base
    llm-keras evaluate --checkpoint runs/base --task arithmetic          # exact match ~0
    llm-keras sft --base runs/base --task arithmetic --out runs/sft      # prints before/after
    llm-keras evaluate --checkpoint runs/sft --task arithmetic           # exact match, table
    llm-keras generate --checkpoint runs/sft --prompt "<|user|>12+7<|end|><|assistant|>" \\
        --end-token "<|end|>" --temperature 0

**sft** (``run_sft``) does, in order: load the base run (``model.keras`` and ``tokenizer/`` of
``llm-keras train --out RUN``); add the chat tokens and the task's missing characters to its
tokenizer (``chat_template.add_chat_tokens``) and grow the model to match
(``chat_template.grow_vocabulary``, the old logits unchanged); measure the exact match of the
grown base model on held-out prompts; with ``--lora-rank R`` put LoRA adapters on the attention's
query and value projections (``lora.apply_lora``) and freeze everything else but the token
table (its new rows start equal, at the mean of the old ones, and must learn to differ);
fine-tune with the loss on the answers only (``sft.fine_tune``; ``--no-mask-prompt``: on every
token, the ablation);
merge the adapters into the kernels (``lora.merge_lora``); measure again. The run directory
``--out DIR`` then holds

    run.json                the settings (read by --resume) and the exact match before / after
    checkpoints/step-*.npz  resumable checkpoints (every --eval-interval steps)
    model.keras, tokenizer/ the fine-tuned model (LoRA merged: a plain GPT) and its ChatTokenizer
    loss_curve.png          the training and held-out loss on the answers

so ``llm-keras generate --checkpoint DIR`` and ``llm-keras evaluate --checkpoint DIR`` read it.
(While a LoRA run trains, ``model.keras`` holds the unmerged model, which does not load; the
merged one is written at the end. Resume a stopped run with ``--resume`` to get it.)

**evaluate** (``run_evaluate``) scores a run directory on a task: exact match of greedy answers,
or with ``--samples K --temperature T`` the exact match of all samples (pass@1) and pass@k, and a
few rows of prompt / answer / reference / correct. Given a *base* run (a tokenizer without the chat
tokens), it grows the model on the fly, as ``sft`` does before training, and says so: that is the
"before" number of the flow above.

**classify** (``run_classify``) trains a ``LastTokenClassifier`` (``classification.py``) on the
genre of Shakespeare passages (``--data genre``, test passages from held-out plays) or on the
synthetic ``letters_in_order`` task, from the base run or, with ``--from-scratch``, from a GPT of
the same shape with fresh weights; it writes ``DIR/classifier.keras``, ``DIR/tokenizer/`` and
``DIR/run.json`` (accuracies and the majority baseline). It takes a minute or two and keeps no
checkpoints (no ``--resume``).

Mistakes (a base run that does not exist, an unknown task, a task option the task does not have,
``--lora-rank 0``, a fine-tuned model evaluated on a task whose characters its tokenizer lacks)
raise ``ValueError``s in plain words, which ``llm-keras`` prints as one line (exit status 2),
before anything in ``--out`` is touched.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from llm_keras.files import atomic_output
from llm_keras.training.command_output import kept_on_interrupt, progress_verbosity

RUN_FILE = "run.json"
CLASSIFIER_FILE = "classifier.keras"
# The settings of `llm-keras sft` and their defaults (None: given by another setting).
SFT_DEFAULTS = {
    "steps": 600,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "lora_rank": None,
    "lora_alpha": None,
    "mask_prompt": True,
    "examples": 4000,
    "eval_n": 100,
    "eval_interval": 100,  # or --steps when that is not a multiple of 100
    "seed": 0,
}
# Task options on the command line: option -> (keyword of the task's constructor, type, help).
TASK_OPTIONS = {
    "--digits": ("digits", int, "arithmetic: digits of each number (default 2)"),
    "--operations": ("operations", str, "arithmetic: '+', '-' or '+-' (default '+-')"),
    "--min-length": ("min_length", int, "reverse, count, sort: shortest word"),
    "--max-length": ("max_length", int, "reverse, count, sort: longest word"),
}
# The seed of the held-out prompts that sft and evaluate score (the same sample in both).
EVAL_SEED = 0
# classification.CLASSIFICATION_DATA, not imported here: it imports Keras (a slow start).
CLASSIFY_DATA = ("genre", "letters")


# --- the sub-commands -----------------------------------------------------------------------


def add_finetuning_commands(commands) -> None:
    """Add ``sft``, ``evaluate`` and ``classify`` to the ``llm-keras`` sub-commands."""
    add_sft_command(commands)
    add_evaluate_command(commands)
    add_classify_command(commands)


def add_task_options(parser, required: bool) -> None:
    parser.add_argument(
        "--task", required=required,
        help="arithmetic, reverse, count or sort (llm_keras.finetuning.tasks)",
    )  # fmt: skip
    section = parser.add_argument_group("task options (default: the task's)")
    for option, (dest, kind, text) in TASK_OPTIONS.items():
        section.add_argument(option, dest=dest, type=kind, help=text)


def add_sft_command(commands) -> None:
    """Add ``sft`` (supervised fine-tuning on a task's chats) to the sub-commands."""
    sft = commands.add_parser(
        "sft",
        help="fine-tune a trained GPT to answer a task's prompts (masked loss, LoRA, resume)",
        description="Supervised fine-tuning of a `llm-keras train` run on chats of a task.",
    )
    sft.add_argument("--base", metavar="RUN", help="the run directory of `llm-keras train`")
    sft.add_argument("--out", type=Path, required=True, help="the fine-tuning run directory")
    sft.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_task_options(sft, required=False)
    d = SFT_DEFAULTS
    section = sft.add_argument_group("fine-tuning settings")
    section.add_argument("--steps", type=int, help=f"optimizer steps (default {d['steps']})")
    section.add_argument("--batch-size", type=int,
                         help=f"chats per step (default {d['batch_size']})")  # fmt: skip
    section.add_argument("--learning-rate", type=float,
                         help=f"peak learning rate (default {d['learning_rate']:g})")  # fmt: skip
    section.add_argument("--lora-rank", type=int, help="train LoRA adapters of this rank only")
    section.add_argument("--lora-alpha", type=float, help="LoRA's alpha (default: the rank)")
    section.add_argument(
        "--no-mask-prompt", dest="mask_prompt", action="store_const", const=False,
        help="put the loss on every token of the chat, prompt included (the ablation)",
    )  # fmt: skip
    section.add_argument("--examples", type=int,
                         help=f"training prompts drawn (default {d['examples']})")  # fmt: skip
    section.add_argument("--eval-n", type=int,
                         help="held-out prompts scored before and after "
                              f"(default {d['eval_n']})")  # fmt: skip
    section.add_argument("--eval-interval", type=int,
                         help="steps between checkpoints (default 100, or --steps)")  # fmt: skip
    section.add_argument("--seed", type=int,
                         help="the training prompts and their order (default 0)")  # fmt: skip
    sft.add_argument("--quiet", action="store_true", help="one line per interval, no bar")
    sft.set_defaults(handler=run_sft)


def add_evaluate_command(commands) -> None:
    """Add ``evaluate`` (exact match and pass@k on a task) to the sub-commands."""
    evaluate = commands.add_parser(
        "evaluate",
        help="score a run on a task's held-out prompts: exact match, pass@k",
        description="Exact match (and pass@k) of a run directory's model on a task.",
    )
    evaluate.add_argument("--checkpoint", required=True, metavar="DIR",
                          help="a run directory of `llm-keras sft` (or of `llm-keras train`)",
                          )  # fmt: skip
    add_task_options(evaluate, required=True)
    evaluate.add_argument("--n", type=int, default=200, help="prompts to score (default 200)")
    evaluate.add_argument("--split", default="test", help="test (held out, default) or train")
    evaluate.add_argument("--samples", type=int, default=1,
                          help="answers per prompt (more than 1: give --temperature)")  # fmt: skip
    evaluate.add_argument("--temperature", type=float, default=0.0,
                          help="0: greedy (default); above 0: sampling")  # fmt: skip
    evaluate.add_argument("--k", type=int, help="the k of pass@k (default: --samples)")
    evaluate.add_argument("--max-new-tokens", type=int,
                          help="longest answer (default: the longest reference's, plus one)",
                          )  # fmt: skip
    evaluate.add_argument("--seed", type=int, default=EVAL_SEED,
                          help=f"the prompts drawn and the sampling (default {EVAL_SEED})",
                          )  # fmt: skip
    evaluate.set_defaults(handler=run_evaluate)


def add_classify_command(commands) -> None:
    """Add ``classify`` (a classification head on the last token) to the sub-commands."""
    classify = commands.add_parser(
        "classify",
        help="train a classification head on a GPT: genre of a passage, letters in order",
        description="Classification fine-tuning of a `llm-keras train` run (LastTokenClassifier).",
    )
    classify.add_argument("--base", required=True, metavar="RUN",
                          help="the run directory of `llm-keras train`")  # fmt: skip
    classify.add_argument("--data", required=True, choices=CLASSIFY_DATA,
                          help="genre: comedy/history/tragedy of Shakespeare passages (held-out "
                               "plays); letters: are the letters in order")  # fmt: skip
    classify.add_argument("--out", type=Path, required=True, help="folder for the classifier")
    classify.add_argument("--train-layers", default="last_block",
                          help="head, last_block (default) or all")  # fmt: skip
    classify.add_argument("--from-scratch", action="store_true",
                          help="a GPT of the base's shape with fresh weights (the comparison)",
                          )  # fmt: skip
    classify.add_argument("--epochs", type=int, default=1, help="passes over the data (default 1)")
    classify.add_argument("--batch-size", type=int, default=32, help="texts per step (default 32)")
    classify.add_argument("--learning-rate", type=float, default=1e-3,
                          help="peak learning rate (default 1e-3)")  # fmt: skip
    classify.add_argument("--max-per-class", type=int,
                          help="genre: at most this many passages per genre and split")  # fmt: skip
    classify.add_argument("--examples", type=int, default=4000,
                          help="letters: training strings (default 4000; 1000 test strings)",
                          )  # fmt: skip
    classify.add_argument("--seed", type=int, default=0, help="the draw and the order (default 0)")
    classify.add_argument("--quiet", action="store_true", help="one line per epoch, no bar")
    classify.set_defaults(handler=run_classify)


# --- llm-keras sft --------------------------------------------------------------------------


def run_sft(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras sft`` (errors are ValueErrors naming the bad option)."""
    out = Path(args.out)
    settings, saved = command_settings(args, out, "sft", SFT_DEFAULTS, _check_sft_numbers)
    task = task_from_options(settings["task"], settings["task_options"])
    base = checked_run_directory(settings["base"], "--base")

    from llm_keras.finetuning.chat_template import grow_vocabulary
    from llm_keras.finetuning.evaluate import evaluate_task
    from llm_keras.finetuning.lora import apply_lora, merge_lora
    from llm_keras.finetuning.sft import SFTConfig, fine_tune
    from llm_keras.training.run_directory import load_for_inference, save_for_inference

    config = SFTConfig(
        steps=settings["steps"], batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"], min_learning_rate=settings["learning_rate"] / 10,
        warmup_steps=min(30, settings["steps"] // 10), eval_interval=settings["eval_interval"],
        mask_prompt=settings["mask_prompt"], seed=settings["seed"],
    )  # fmt: skip  (checks the values, naming the field: --steps, --eval-interval...)
    model, base_tokenizer = load_for_inference(base)
    tokenizer = chat_tokenizer(base_tokenizer, task, base)
    if model.config.vocab_size < tokenizer.vocab_size:
        model = grow_vocabulary(model, tokenizer.vocab_size, seed=settings["seed"])
    eval_n = held_out_size(task, settings["eval_n"])
    train_examples = task.examples(settings["examples"], "train", seed=settings["seed"])
    val_examples = task.examples(min(eval_n, 4 * settings["batch_size"]), "test", EVAL_SEED + 1)

    def exact_match():
        return evaluate_task(model, tokenizer, task, n=eval_n, seed=EVAL_SEED)["exact_match"]

    if saved is None:
        print(f"Base {base}: {model.num_parameters():,} parameters, vocabulary grown to "
              f"{tokenizer.vocab_size} ids (chat tokens, extra characters "
              f"{tokenizer.extra_characters!r}).")  # fmt: skip
        before = exact_match()
        print(f"Exact match before fine-tuning, {eval_n} held-out prompts: {before:.3f}")
        record = {"command": "sft", "settings": settings, "exact_match_before": before}
        write_json(out / RUN_FILE, record)
    else:
        record = saved
    if settings["lora_rank"] is not None:
        apply_lora(model, settings["lora_rank"], settings["lora_alpha"], seed=settings["seed"])
        # The new rows (chat tokens, digits) start equal, at the mean of the old ones: frozen,
        # the model could never tell them apart (measured: exact match 0). So they train, with
        # the whole table (tied to the output head), as PEFT's `modules_to_save` does.
        for weight in model.token_embedding.weights:  # (apply_lora froze each weight)
            weight.trainable = True
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    how = "LoRA rank {lora_rank}".format(**settings) if settings["lora_rank"] else "full"
    mask = "answers only" if settings["mask_prompt"] else "every token (no mask)"
    import keras

    print(f"Fine-tuning ({how}, {trainable:,} trainable parameters, loss on {mask}) on "
          f"{len(train_examples):,} {task!r} chats, {config.steps} steps of {config.batch_size}; "
          f"backend {keras.backend.backend()}; run directory {out}")  # fmt: skip
    state = {key: settings[key] for key in ("base", "task", "task_options", "lora_rank",
                                             "lora_alpha", "examples")}  # fmt: skip
    start = time.perf_counter()
    with kept_on_interrupt(out, "sft"):
        history = fine_tune(
            model, tokenizer, train_examples, config, out=out, resume=args.resume,
            val_examples=val_examples, verbose=progress_verbosity(args.quiet), state=state,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    if settings["lora_rank"] is not None:
        merge_lora(model)
    save_for_inference(out, model, tokenizer)
    after = exact_match()
    last = history.evaluations[-1] if history.evaluations else {}
    record.update(
        exact_match_after=after, trainable_parameters=trainable, seconds=round(seconds, 1),
        train_loss=last.get("train_loss"), val_loss=last.get("val_loss"), eval_n=eval_n,
    )  # fmt: skip
    write_json(out / RUN_FILE, record)
    print(f"Exact match on {eval_n} held-out prompts of {task!r}: "
          f"{record['exact_match_before']:.3f} before, {after:.3f} after. "
          f"Model: {out / 'model.keras'}; try `llm-keras evaluate --checkpoint {out} "
          f"--task {settings['task']}`.")  # fmt: skip
    return 0


def command_settings(args, out, command, defaults, check, run_directories=()):
    """A run's settings and its saved record (``None`` for a new run), for ``llm-keras sft`` and
    the alignment commands (``reward``, ``dpo``, ``grpo``) alike.

    A new run takes ``--base``, ``--task``, the task options and the options of ``defaults``
    from the command line, the defaults for the rest; ``--resume`` takes them from
    ``out/run.json``, where an option given again must have the value the run started with.

    Args:
        args: the parsed command line (``base``, ``task``, ``resume``, the task options and
            every key of ``defaults``; ``None`` where an option was not given).
        out: the run directory (``--out``).
        command: the command's name, as ``run.json`` records it.
        defaults: the command's settings and their defaults. When ``eval_interval`` is not
            given and its default does not divide ``steps``, it becomes ``steps``.
        check: ``check(settings)`` raises a ValueError naming the option of a bad value (before
            any backend work); called for a new run only (a resumed one was checked then).
        run_directories: settings that name a run directory (``--base`` always does): kept as
            absolute paths, so that a run resumed from elsewhere compares equal.

    Returns:
        ``(settings, saved)``: ``saved`` is ``run.json``'s record when resuming, else ``None``.
    """
    given = {key: getattr(args, key) for key in defaults}
    given = {key: value for key, value in given.items() if value is not None}
    for key in run_directories:
        if key in given:
            given[key] = str(Path(given[key]).expanduser().resolve())
    options = {dest: getattr(args, dest) for dest, _, _ in TASK_OPTIONS.values()}
    options = {dest: value for dest, value in options.items() if value is not None}
    if args.base is not None:
        given["base"] = str(Path(args.base).expanduser().resolve())
    if args.task is not None:
        given["task"] = args.task
    if options:
        given["task_options"] = options
    if args.resume:
        run_file = out / RUN_FILE
        if not run_file.is_file():
            raise ValueError(
                f"--resume: there is no {command} run to resume in {out} (no {RUN_FILE}). Start "
                "one without --resume."
            )
        saved = json.loads(run_file.read_text(encoding="utf-8"))
        if saved.get("command") != command:
            raise ValueError(f"--resume: {out} is not an `llm-keras {command}` run directory.")
        settings = saved.get("settings", {})
        for key, value in given.items():
            if settings.get(key) != value:
                option = "--" + key.replace("_", "-")
                raise ValueError(
                    f"--resume: {option} {value!r} differs from the run's {settings.get(key)!r}; "
                    "a resumed run keeps its settings (leave the option out)."
                )
        return settings, saved
    if (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir()):
        raise ValueError(
            f"{out} already holds a run (checkpoints/): pass --resume to continue it, or choose "
            "another --out."
        )
    for option, key in (("--base RUN", "base"), ("--task NAME", "task")):
        if key not in given:
            raise ValueError(f"{option.split()[0]} is required: {option} (a new run needs it).")
    settings = {**defaults, "task_options": {}, **given}
    steps = settings["steps"]
    if "eval_interval" not in given and steps > 0 and steps % settings["eval_interval"]:
        settings["eval_interval"] = steps  # (the default does not divide --steps)
    check(settings)
    return settings, None


def _check_sft_numbers(settings):
    """The integers and the LoRA options make sense (before any backend work)."""
    for key in ("steps", "batch_size", "examples", "eval_n", "lora_rank"):
        value = settings[key]
        if value is not None and value < 1:
            raise ValueError(f"--{key.replace('_', '-')} {value}: give an integer >= 1.")
    if settings["lora_alpha"] is not None:
        if settings["lora_rank"] is None:
            raise ValueError("--lora-alpha needs --lora-rank (LoRA's update is scaled by "
                             "alpha / rank).")  # fmt: skip
        if settings["lora_alpha"] <= 0:
            raise ValueError(f"--lora-alpha {settings['lora_alpha']:g}: give a number > 0.")
    if settings["learning_rate"] <= 0:
        raise ValueError(f"--learning-rate {settings['learning_rate']:g}: give a number > 0.")


def task_from_options(name, options):
    from llm_keras.finetuning.tasks import get_task

    return get_task(name, **options)


def checked_run_directory(path, option):
    """``path`` as a folder that holds ``model.keras``, or a ValueError naming ``option``."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise ValueError(
            f"{option} {path}: no such run directory. Give the --out folder of `llm-keras train` "
            "(it holds model.keras and tokenizer/)."
        )
    if not (directory / "model.keras").is_file():
        raise ValueError(
            f"{option} {path} holds no model.keras: give the --out folder of a finished (or "
            "checkpointed) `llm-keras train` run."
        )
    return directory


def chat_tokenizer(tokenizer, task, where):
    """``tokenizer`` with the chat tokens and the characters of ``task`` (a ChatTokenizer that
    already has them is kept; one that lacks some is an error: its chat tokens' ids would move)."""
    from llm_keras.finetuning.chat_template import ChatTokenizer, _can_encode, add_chat_tokens

    if isinstance(tokenizer, ChatTokenizer):
        missing = sorted({c for c in task.characters if not _can_encode(tokenizer, c)})
        if missing:
            raise ValueError(
                f"{where} was fine-tuned with a tokenizer that cannot write {''.join(missing)!r}, "
                f"which the {task.name!r} task needs: evaluate it on the task it was tuned for "
                f"(see {Path(where) / RUN_FILE}), or fine-tune the base run on --task "
                f"{task.name} with `llm-keras sft`."
            )
        return tokenizer
    return add_chat_tokens(tokenizer, task.characters)


def held_out_size(task, wanted):
    """``wanted``, or fewer when the task's held-out split has fewer prompts."""
    size = task.split_size("test")
    return wanted if size is None else min(wanted, size)


def write_json(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1)


# --- llm-keras evaluate ---------------------------------------------------------------------


def run_evaluate(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras evaluate``: print the scores and a few rows."""
    options = {dest: getattr(args, dest) for dest, _, _ in TASK_OPTIONS.values()}
    task = task_from_options(args.task, {k: v for k, v in options.items() if v is not None})
    directory = checked_run_directory(args.checkpoint, "--checkpoint")
    if args.n < 1:
        raise ValueError(f"--n {args.n}: give a number of prompts >= 1.")

    from llm_keras.finetuning.chat_template import ChatTokenizer, grow_vocabulary
    from llm_keras.finetuning.evaluate import evaluate_task
    from llm_keras.training.run_directory import load_for_inference

    model, tokenizer = load_for_inference(directory)
    if not isinstance(tokenizer, ChatTokenizer):
        tokenizer = chat_tokenizer(tokenizer, task, directory)
        model = grow_vocabulary(model, tokenizer.vocab_size)
        print(f"{directory} is a base run (its tokenizer has no chat tokens): evaluating it with "
              "the chat tokens added, as `llm-keras sft` starts from it (new embedding rows at "
              "the mean of the old ones). Fine-tune it with `llm-keras sft` to teach it the "
              "task.")  # fmt: skip
    else:
        chat_tokenizer(tokenizer, task, directory)
    result = evaluate_task(
        model, tokenizer, task, n=args.n, split=args.split,
        k=args.samples if args.k is None else args.k, samples=args.samples,
        temperature=args.temperature, seed=args.seed, max_new_tokens=args.max_new_tokens,
    )  # fmt: skip
    print(format_evaluation(result, task))
    return 0


def format_evaluation(result, task) -> str:
    """``evaluate_task``'s result as the lines ``llm-keras evaluate`` prints: the scores, then
    a table of the first rows (prompt, answer, reference, correct)."""
    how = "greedy" if result["samples"] == 1 else f"{result['samples']} samples per prompt"
    right = round(result["exact_match"] * result["n"] * result["samples"])
    lines = [
        f"{task!r}, {result['split']} split, {result['n']} prompts, {how}",
        f"exact match  {result['exact_match']:.3f}  ({right} of {result['n'] * result['samples']})",
    ]
    if result["pass_at_k"] is not None:
        lines.append(f"pass@{result['k']}       {result['pass_at_k']:.3f}")
    rows = [("prompt", "answer", "reference", "correct")]
    rows += [(repr(p), repr(a), repr(r), "yes" if ok else "no") for p, a, r, ok in result["rows"]]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines.append("")
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


# --- llm-keras classify ---------------------------------------------------------------------


def run_classify(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras classify``: train, print the accuracies, save."""
    from llm_keras.finetuning.classification import TRAIN_LAYERS

    if args.train_layers not in TRAIN_LAYERS:
        raise ValueError(
            f"--train-layers {args.train_layers}: choose one of {', '.join(TRAIN_LAYERS)}."
        )
    for option, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                          ("--examples", args.examples)):  # fmt: skip
        if value < 1:
            raise ValueError(f"{option} {value}: give an integer >= 1.")
    base = checked_run_directory(args.base, "--base")

    import keras

    from llm_keras.finetuning.classification import (
        LastTokenClassifier,
        classification_data,
        majority_baseline,
        train_classifier,
    )
    from llm_keras.keras_files import save_model
    from llm_keras.models import GPT
    from llm_keras.seeding import set_seed
    from llm_keras.training.run_directory import load_for_inference

    gpt, tokenizer = load_for_inference(base)
    if args.from_scratch:
        set_seed(args.seed)
        gpt = GPT(gpt.config)
    train, test, inputs = classification_data(
        args.data, tokenizer, gpt.config.context_length, seed=args.seed,
        max_per_class=args.max_per_class, num_train=args.examples,
    )  # fmt: skip
    classifier = LastTokenClassifier(gpt, len(train.class_names), train_layers=args.train_layers)
    start = "fresh weights" if args.from_scratch else f"the base run {base}"
    print(f"Classifying {args.data} ({', '.join(train.class_names)}): {len(train):,} training and "
          f"{len(test):,} test texts; a new head on the last token of {start}, training "
          f"{args.train_layers}; backend {keras.backend.backend()}")  # fmt: skip
    try:
        result = train_classifier(
            classifier, (inputs["train"], train.labels), (inputs["test"], test.labels),
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
            seed=args.seed, verbose=2 if args.quiet or not sys.stdout.isatty() else 1,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"\nStopped before the classifier was saved: nothing was written to {args.out} "
              "(classify keeps no checkpoints); run the command again to train it.")  # fmt: skip
        raise
    baseline = majority_baseline(train, test)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_model(classifier, out / CLASSIFIER_FILE)
    tokenizer.save(out / "tokenizer")
    record = {
        "command": "classify",
        "settings": {key: (str(value) if isinstance(value, Path) else value)
                     for key, value in vars(args).items() if key != "handler"},  # fmt: skip
        "base": str(base.resolve()),
        "class_names": list(train.class_names),
        "accuracy": result.accuracy,
        "train_accuracy": result.train_accuracy,
        "majority_baseline": baseline,
        "seconds": round(result.seconds, 1),
        "steps": result.steps,
    }
    write_json(out / RUN_FILE, record)
    print(f"Test accuracy {result.accuracy:.3f} (always the commonest class: {baseline:.3f}), "
          f"training accuracy {result.train_accuracy:.3f}, {result.steps} steps in "
          f"{result.seconds:.0f} s. Classifier: {out / CLASSIFIER_FILE}")  # fmt: skip
    return 0
