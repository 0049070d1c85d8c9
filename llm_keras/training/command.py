"""``llm-keras train``: train a GPT on a text file, resumably (week 3, "The training loop").

    llm-keras train --preset shakespeare-char-cpu --data tinyshakespeare.txt --out runs/cpu
    llm-keras train --out runs/cpu --resume          # after a crash or Ctrl-C: go on

The run directory ``--out`` receives

    run.json                   the settings, the data file and its digest (read by --resume)
    checkpoints/step-*.npz     the last --keep-checkpoints checkpoints (weights, optimizer, step)
    model.keras, tokenizer/    the latest model, ready for `llm-keras generate --checkpoint DIR`
    loss_curve.png             training and validation loss against the step
    samples.txt                a sample of generated text at each evaluation
    logs/                      TensorBoard logs (tensorboard --logdir DIR/logs)

The text of ``--data`` is split 90/10 into training and validation text (nanoGPT's split) and
tokenised with a character tokenizer trained on it, or with ``--tokenizer DIR``.

``--data DIR`` may instead be a folder of token shards (``manifest.json``, written by
``llm-keras data curate`` or ``llm_keras.data.shards.write_shards``): the run trains on the
shards' training split and validates on their last tenth (``ShardedTokens``), reading from disk
only the windows it draws; the tokenizer is the shards' own (a ``--tokenizer`` that is not the
same file is refused), ``run.json`` records the manifest's SHA-256 (which names every shard's),
and ``--resume`` refuses shards written again or altered since.

Parallel training (week 5, ``llm_keras.distributed``; docs/distributed.md):

    llm-keras train ... --distribution data --devices 2     # each device trains on half a batch
    llm-keras train ... --distribution model --devices 2    # each device holds half of each block
    llm-keras train ... --distribution data --workers 10.0.0.1:12345,10.0.0.2:12345 \
        --worker-index 0                                     # (and 1 on the second machine)

``--devices`` runs on one machine: JAX with ``keras.distribution`` (data or model), TensorFlow
with ``MirroredStrategy`` (data), both through ``model.fit``, with checkpoints and ``--resume``;
on a CPU the processor is split into that many devices. ``--workers`` runs one process per
machine with a training loop of its own: JAX's mesh over every process (``train_on_batch``),
TensorFlow's ``MultiWorkerMirroredStrategy`` or PyTorch's ``torch.distributed``; it prints the
training loss, worker 0 writes a checkpoint every ``--eval-interval`` steps, then
``model.keras`` and the final validation loss. When a worker is lost, the others stop with a
message that says how to resume: every worker started again with ``--resume`` goes on from
worker 0's newest checkpoint. On PyTorch, ``--devices N`` is that mode on one machine: the
command starts workers 1 .. N-1 on free local ports and is worker 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from llm_keras.data.download import file_digest
from llm_keras.data.shards import is_shard_directory, manifest_digest
from llm_keras.files import atomic_output

RUN_FILE = "run.json"
DEFAULT_PRESET = "shakespeare-char-cpu"
DISTRIBUTIONS = ("data", "model")

# Training settings settable on the command line: option -> TrainingConfig field.
_TRAINING_OPTIONS = {
    "--steps": ("steps", int, "optimizer steps (nanoGPT's max_iters)"),
    "--batch-size": ("batch_size", int, "windows per batch"),
    "--learning-rate": ("learning_rate", float, "peak learning rate after warm-up"),
    "--min-learning-rate": ("min_learning_rate", float, "floor of the cosine decay"),
    "--warmup-steps": ("warmup_steps", int, "steps of linear warm-up"),
    "--decay-steps": ("decay_steps", int, "step where the decay ends (default: --steps)"),
    "--weight-decay": ("weight_decay", float, "AdamW weight decay on 2-D weights"),
    "--beta2": ("beta_2", float, "Adam's beta_2"),
    "--grad-clip": ("grad_clip", float, "largest global gradient norm (0: off)"),
    "--grad-accum": ("gradient_accumulation_steps", int, "micro-batches per optimizer step"),
    "--eval-interval": ("eval_interval", int, "steps between evaluations and checkpoints"),
    "--eval-batches": ("eval_batches", int, "validation batches per evaluation"),
    "--dtype-policy": ("dtype_policy", str, "float32, mixed_bfloat16 or mixed_float16"),
    "--seed": ("seed", int, "seed of the weights, batches and dropout"),
    "--keep-checkpoints": ("keep_checkpoints", int, "checkpoints to keep"),
    "--steps-per-execution": ("steps_per_execution", int, "steps per compiled call (JAX, TF)"),
    "--sample-tokens": ("sample_tokens", int, "tokens of sample text per evaluation (0: none)"),
}
# Model settings that may change a preset: option -> GPTConfig field.
_MODEL_OPTIONS = {
    "--context-length": ("context_length", int, "tokens of context"),
    "--n-layers": ("n_layers", int, "transformer blocks"),
    "--n-heads": ("n_heads", int, "attention heads"),
    "--d-model": ("d_model", int, "features per token"),
    "--dropout": ("dropout", float, "dropout rate"),
}


def add_train_command(commands) -> None:
    """Add ``train`` to the ``llm-keras`` sub-commands."""
    train = commands.add_parser(
        "train",
        help="train a GPT on a text file (checkpoints, resume, loss curve)",
        description=__doc__.split("\n\n")[0],
    )
    train.add_argument("--preset", help=f"model and training preset (default {DEFAULT_PRESET})")
    train.add_argument(
        "--data",
        help="UTF-8 text file, a corpus name (tiny_shakespeare), or a folder of token shards",
    )
    train.add_argument("--out", type=Path, required=True, help="the run directory")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument(
        "--tokenizer", type=Path, help="a saved tokenizer folder (default: characters of --data)"
    )
    for options, group in ((_TRAINING_OPTIONS, "training"), (_MODEL_OPTIONS, "model")):
        section = train.add_argument_group(f"{group} settings (default: the preset's)")
        for option, (field, kind, text) in options.items():
            section.add_argument(option, dest=field, type=kind, help=text)
    parallel = train.add_argument_group("parallel training (docs/distributed.md)")
    parallel.add_argument(
        "--distribution",
        choices=DISTRIBUTIONS,
        help="data: split each batch over the devices; model: split each block's weights (JAX)",
    )
    parallel.add_argument(
        "--devices", type=int, help="devices of this machine to train on (PyTorch: processes)"
    )
    parallel.add_argument(
        "--workers", help="host:port of every worker process, worker 0 first (one process each)"
    )
    parallel.add_argument("--worker-index", type=int, help="this process's place in --workers")
    parallel.add_argument(  # set by `--devices N` on PyTorch for the workers it starts
        "--devices-of-run", type=int, help=argparse.SUPPRESS
    )
    train.add_argument("--quiet", action="store_true", help="one line per evaluation, no bar")
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    """The handler of ``llm-keras train`` (errors are ValueErrors naming the bad value)."""
    out = Path(args.out)
    _check_parallel_options(args)
    settings = _settings(args, out)
    shards = is_shard_directory(settings["data"])
    if shards:  # the manifest's digest: it names the digest of every shard and the tokenizer
        digest = manifest_digest(settings["data"])
    else:
        text, digest = _read_data(settings["data"])
    if args.resume and digest != settings["data_sha256"]:
        what = "its manifest.json: the shards were written again" if shards else "its SHA-256"
        raise ValueError(
            f"{settings['data']} changed since the run in {out} started ({what}): resume with "
            "the same data."
        )
    settings["data_sha256"] = digest

    import keras
    import numpy as np

    from llm_keras.data import train_val_split
    from llm_keras.models import GPT, GPTConfig
    from llm_keras.seeding import set_seed
    from llm_keras.tokenizers import CharTokenizer, Tokenizer
    from llm_keras.training.command_output import progress_verbosity, say_what_was_kept
    from llm_keras.training.trainer import TrainingConfig, compile_for_training, train

    if args.resume:
        tokenizer = Tokenizer.load(out / "tokenizer")
    elif shards:
        tokenizer = _shards_tokenizer(settings["data"], settings["tokenizer"])
    elif settings["tokenizer"] is not None:
        tokenizer = Tokenizer.load(settings["tokenizer"])
    else:
        tokenizer = CharTokenizer.train(text)
    if shards:
        from llm_keras.data.shards import ShardedTokens

        train_ids = ShardedTokens(settings["data"], "train")
        val_ids = ShardedTokens(settings["data"], "val")
        sample = train_ids[:100_000].tolist()  # (characters per token, from a sample)
        tokens_per_character = len(sample) / max(len(tokenizer.decode(sample)), 1)
    else:
        ids = np.asarray(tokenizer.encode(text), dtype=np.int32)
        train_ids, val_ids = train_val_split(ids)
        tokens_per_character = len(ids) / len(text)
    model_config = GPTConfig.preset(
        settings["preset"], **{"vocab_size": tokenizer.vocab_size, **settings["model"]}
    )
    training_config = TrainingConfig.preset(_training_preset(settings["preset"]),
                                            **settings["training"])  # fmt: skip
    if not args.resume:
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save(out / "tokenizer")
        with atomic_output(out / RUN_FILE, "w", encoding="utf-8") as file:
            json.dump(settings, file, indent=1)

    if args.devices is not None and keras.backend.backend() == "torch":
        return _train_local_torch_workers(args, model_config, training_config, tokenizer,
                                          train_ids, val_ids, out)  # fmt: skip
    if args.workers is not None:
        return _train_workers(args, model_config, training_config, tokenizer, train_ids, val_ids,
                              out)  # fmt: skip
    scope = _parallel_scope(args, model_config, training_config)
    with scope:
        set_seed(training_config.seed)
        model = GPT(model_config, dtype=training_config.dtype_policy)
        compile_for_training(
            model, training_config, tokens_per_character=tokens_per_character,
            jit_compile=False if keras.backend.backend() == "tensorflow" and args.devices else None,
        )  # fmt: skip
        parameters = model.num_parameters()  # (builds it: under a strategy, in its scope)
    where = f"backend {keras.backend.backend()}"
    if args.distribution is not None:
        where += f", --distribution {args.distribution} on {args.devices} devices"
    print(
        f"Training a {parameters:,}-parameter GPT ({settings['preset']}) on "
        f"{len(train_ids):,} tokens ({tokenizer.vocab_size} ids), validating on "
        f"{len(val_ids):,}; {where}; run directory {out}"
    )
    try:
        history = train(
            model, train_ids, val_ids, training_config, directory=out, tokenizer=tokenizer,
            resume=args.resume, verbose=progress_verbosity(args.quiet),
            state={"model_config": model_config.to_dict()},
        )  # fmt: skip
    except KeyboardInterrupt:
        say_what_was_kept(
            out,
            "train",
            every=f"--eval-interval {training_config.eval_interval} steps",
            step_of=lambda kept: (
                int(kept.stem.split("-")[1]) // training_config.gradient_accumulation_steps
            ),
        )
        raise
    if not history.evaluations:
        print("Nothing to train.")
        return 0
    last = history.evaluations[-1]
    print(
        f"Done: step {last['step']}, validation loss {last['val_loss']:.4f} "
        f"({last['val_bits_per_character']:.3f} bits per character). Model: {out / 'model.keras'}"
        f"; loss curve: {out / 'loss_curve.png'}"
    )
    return 0


def _check_parallel_options(args):
    """The parallel options fit together (before any backend work)."""
    if args.distribution is None:
        for option, value in (("--devices", args.devices), ("--workers", args.workers),
                              ("--worker-index", args.worker_index)):  # fmt: skip
            if value is not None:
                raise ValueError(f"{option} needs --distribution data (or model).")
        return
    if (args.workers is None) != (args.worker_index is None):
        raise ValueError(
            "--workers and --worker-index go together: every process gets the same --workers "
            "list and its own --worker-index (0 on the first host of the list)."
        )
    if args.workers is not None:
        from llm_keras.distributed.worker_loop import check_worker_index, parse_workers

        if args.devices is not None:
            raise ValueError(
                "Give --devices (several devices of this machine) or --workers (one process per "
                "device or machine), not both."
            )
        if args.distribution != "data":
            raise ValueError(
                "--workers runs data parallelism (--distribution data); tensor parallelism "
                "(--distribution model) runs on the devices of one JAX process: use --devices."
            )
        check_worker_index(args.worker_index, len(parse_workers(args.workers)))
    elif args.devices is None:
        raise ValueError(
            f"--distribution {args.distribution} needs --devices N (devices of this machine) or "
            "--workers host:port,... with --worker-index (one process per machine)."
        )
    elif args.devices < 1:
        raise ValueError(f"--devices must be at least 1, got {args.devices}.")
    _check_backend_offers(args)


def _check_backend_offers(args):
    """Each backend runs some of the parallel options (llm_keras.distributed.backends)."""
    from llm_keras.distributed.backends import require_keras_distribution

    if args.distribution == "model":
        require_keras_distribution("--distribution model (tensor parallelism)")


def _parallel_scope(args, model_config, training_config):
    """Set up ``--distribution`` over ``--devices`` before the model is built, and return the
    scope to build it in (a do-nothing scope without ``--distribution``)."""
    import contextlib

    import keras

    from llm_keras.distributed.mesh import check_batch_divides

    if args.distribution is None:
        return contextlib.nullcontext()
    if args.distribution == "data":
        check_batch_divides(training_config.batch_size, args.devices)
    if keras.backend.backend() == "tensorflow":
        from llm_keras.distributed.tf_mirrored import mirrored_strategy

        return mirrored_strategy(args.devices).scope()
    from llm_keras.distributed.keras_distribution import data_parallel, model_parallel
    from llm_keras.distributed.layout_map import check_tensor_parallel_fits
    from llm_keras.distributed.mesh import use_cpu_devices

    if args.distribution == "model":
        check_tensor_parallel_fits(model_config, args.devices)
    use_cpu_devices(args.devices)
    if args.distribution == "data":
        distribution = data_parallel(args.devices)
    else:
        distribution = model_parallel(model_config, data=1, model=args.devices)
    keras.distribution.set_distribution(distribution)
    return contextlib.nullcontext()


def _train_local_torch_workers(args, model_config, training_config, tokenizer, train_ids,
                               val_ids, out):  # fmt: skip
    """``--devices N`` on PyTorch: N worker processes on this machine, as ``--workers`` would
    run them. This process is worker 0; it starts the others and waits for them."""
    import subprocess
    import sys

    from llm_keras.distributed.mesh import check_batch_divides
    from llm_keras.distributed.worker_loop import local_workers

    check_batch_divides(training_config.batch_size, args.devices, what="the workers")
    workers = local_workers(args.devices)
    command = [sys.executable, "-m", "llm_keras.training.command", *_worker_argv(args, workers)]
    others = [subprocess.Popen([*command, "--worker-index", str(i)])
              for i in range(1, args.devices)]  # fmt: skip
    resume_command = _devices_resume_command(out, args.devices)
    args.workers, args.worker_index, args.devices = workers, 0, None
    try:
        status = _train_workers(args, model_config, training_config, tokenizer, train_ids,
                                val_ids, out, resume_command)  # fmt: skip
    except BaseException:  # the others would wait for worker 0 in vain
        for other in others:
            other.kill()
        raise
    finally:
        for other in others:
            other.wait()
    failed = [i for i, other in enumerate(others, 1) if other.returncode != 0]
    if failed:
        raise ValueError(f"Worker(s) {failed} of {workers} failed: see their messages above.")
    return status


def _devices_resume_command(out, devices):
    return f"llm-keras train --out {out} --resume --distribution data --devices {devices}"


def _worker_argv(args, workers):
    """The command-line options of this run (``--devices N`` on PyTorch), for a worker process
    of ``workers``."""
    argv = ["--out", str(args.out), "--distribution", "data", "--workers", workers,
            "--devices-of-run", str(args.devices)]  # fmt: skip
    if args.resume:
        argv.append("--resume")
    for name in ("preset", "data", "tokenizer"):
        if getattr(args, name) is not None:
            argv += [f"--{name}", str(getattr(args, name))]
    for option, (field, _, _) in {**_TRAINING_OPTIONS, **_MODEL_OPTIONS}.items():
        if getattr(args, field) is not None:
            argv += [option, str(getattr(args, field))]
    return [*argv, "--quiet"] if args.quiet else argv


def _train_workers(args, model_config, training_config, tokenizer, train_ids, val_ids, out,
                   resume_command=None):  # fmt: skip
    """``--workers``: this process's part of a multi-worker run (JAX, TensorFlow or PyTorch).

    Worker 0 writes a checkpoint every ``--eval-interval`` steps; with ``--resume`` every worker
    goes on from worker 0's newest one (``WorkerCheckpoints``). When another worker is lost,
    the collective fails here and the message says how to resume."""
    import keras
    from keras import ops

    from llm_keras.data.windows import evaluation_windows
    from llm_keras.training.losses import token_losses
    from llm_keras.training.run_directory import save_for_inference

    index = args.worker_index
    if resume_command is None and args.devices_of_run is not None:  # started by --devices N
        resume_command = _devices_resume_command(out, args.devices_of_run)
    resume_command = resume_command or (
        f"llm-keras train --out {out} --resume --distribution data --workers {args.workers} "
        f"--worker-index {index}"
    )

    def log(line):
        print(line if index == 0 else f"worker {index}: {line}", flush=True)

    checkpointing = dict(directory=out, resume=args.resume,
                         state={"model_config": model_config.to_dict()})  # fmt: skip
    try:
        if keras.backend.backend() == "jax":  # one mesh over every process's devices
            from llm_keras.distributed.jax_multi_process import (
                start_jax_workers,
                train_jax_workers,
            )

            start_jax_workers(args.workers, index)
            model, _ = train_jax_workers(model_config, training_config, train_ids, log,
                                         **checkpointing)  # fmt: skip
        elif keras.backend.backend() == "tensorflow":
            from llm_keras.distributed.tf_multi_worker import (
                multi_worker_strategy,
                train_multi_worker_tf,
            )

            strategy = multi_worker_strategy(args.workers, index)
            model, _ = train_multi_worker_tf(strategy, model_config, training_config, train_ids,
                                             log, **checkpointing)  # fmt: skip
        else:  # torch
            from llm_keras.distributed.torch_data_parallel import (
                start_torch_workers,
                stop_torch_workers,
                train_torch_data_parallel,
            )

            start_torch_workers(args.workers, index)
            model, _ = train_torch_data_parallel(model_config, training_config, train_ids, log,
                                                 **checkpointing)  # fmt: skip
            stop_torch_workers()
    except Exception as error:
        if not _collective_failed(error):  # (JAX raises a ValueError for a failed collective)
            raise
        message = _lost_worker(error, out, training_config, index, resume_command)
        if keras.backend.backend() == "jax":
            # JAX's distributed client aborts the process at exit once a peer is gone (its
            # shutdown barrier fails: SIGABRT and a stack trace): say it, and leave without.
            import os
            import sys

            print(f"llm-keras: error: {message}", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(2)
        raise ValueError(message) from None
    if index != 0:
        return 0
    c = training_config
    inputs, targets = evaluation_windows(val_ids, model_config.context_length,
                                         c.eval_batches * c.batch_size, c.seed)  # fmt: skip
    batch_losses = []
    for start in range(0, len(inputs), c.batch_size):
        rows = slice(start, start + c.batch_size)
        batch_losses.append(float(ops.mean(token_losses(targets[rows], model(inputs[rows])))))
    val_loss = sum(batch_losses) / len(batch_losses)
    path = save_for_inference(out, model, tokenizer)
    print(f"Done: step {c.steps}, validation loss {val_loss:.4f}. Model: {path}")
    return 0


_LOST_PEER_WORDS = ("peer", "connect", "gloo", "unavailable", "abort", "heartbeat", "timed out")


def _collective_failed(error):
    """Whether ``error`` is a collective that failed because another worker is gone (gloo's
    "Connection closed by peer", TensorFlow's UnavailableError, a time-out), not a bad value."""
    text = f"{type(error).__name__} {error}".lower()
    return any(word in text for word in _LOST_PEER_WORDS)


def _lost_worker(error, out, training_config, index, resume_command):
    """The message of a worker whose collective failed: what stopped, what is kept, how to
    go on."""
    from llm_keras.training.checkpoint import latest_checkpoint

    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
    # TensorFlow's first line is "Graph execution error:": prefer the line that says why.
    telling = [line for line in lines if any(word in line.lower() for word in _LOST_PEER_WORDS)]
    cause = f"{type(error).__name__}: {(telling or lines)[0]}"
    kept = latest_checkpoint(out)
    resume = (f"Start every worker again with --resume added, e.g. here `{resume_command}`: all "
              "go on from worker 0's newest checkpoint")  # fmt: skip
    if kept is not None:
        step = int(kept.stem.split("-")[1]) // training_config.gradient_accumulation_steps
        what = f"{out} keeps the checkpoint of step {step} ({kept.name}). {resume}."
    elif index == 0:
        what = (f"There is no checkpoint yet (worker 0 writes one every --eval-interval "
                f"{training_config.eval_interval} steps): start every worker again with the same "
                "command, without --resume.")  # fmt: skip
    else:
        what = f"{resume} (if it wrote none yet, start them again without --resume)."
    return (f"worker {index}: another worker stopped or cannot be reached ({cause[:300]}), so "
            f"the run stops. {what}")  # fmt: skip


def _settings(args, out):
    """The run's settings: from the command line, or for --resume from ``out/run.json`` (where
    an option given again must have the value the run started with)."""
    parallel = _parallel_layout(args)
    given = {
        "preset": args.preset,
        "data": None if args.data is None else str(_absolute_data(args.data)),
        "tokenizer": None if args.tokenizer is None else str(Path(args.tokenizer).resolve()),
        "training": _given(args, _TRAINING_OPTIONS),
        "model": _given(args, _MODEL_OPTIONS),
    }
    if not args.resume:
        if (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir()):
            raise ValueError(
                f"{out} already holds a run (checkpoints/): pass --resume to continue it, or "
                "choose another --out."
            )
        if given["data"] is None:
            raise ValueError(
                "--data is required: the text file (or folder of token shards) to train on."
            )
        return {**given, "preset": given["preset"] or DEFAULT_PRESET, "parallel": parallel}
    run_file = out / RUN_FILE
    if not run_file.is_file():
        raise ValueError(
            f"--resume: there is no run to resume in {out} (no {RUN_FILE}). Start one without "
            "--resume."
        )
    saved = json.loads(run_file.read_text(encoding="utf-8"))
    for key in ("preset", "data", "tokenizer"):
        if given[key] is not None and given[key] != saved[key]:
            raise ValueError(f"--resume: the run used {key} {saved[key]!r}, not {given[key]!r}.")
    if "parallel" in saved:  # (run.json files written before it was recorded: not checked)
        _check_same_layout(saved["parallel"], parallel, out)
    for group in ("training", "model"):
        for field, value in given[group].items():
            if saved[group].get(field, value) != value or field not in saved[group]:
                started = saved[group].get(field, _preset_default(saved["preset"], group, field))
                raise ValueError(
                    f"--resume: {field}={value!r} differs from the run's {field}={started!r}; "
                    "a resumed run keeps its settings (leave the option out)."
                )
    return saved


def _parallel_layout(args):
    """What run.json records of the parallel options: ``--distribution``, and ``--devices N``
    or the number of ``--workers`` (a worker started by ``--devices N`` on PyTorch records
    ``--devices N``, as the command that started it)."""
    from llm_keras.distributed.worker_loop import parse_workers

    devices = args.devices if args.devices_of_run is None else args.devices_of_run
    workers = None
    if args.workers is not None and args.devices_of_run is None:
        workers = len(parse_workers(args.workers))
    return {"distribution": args.distribution, "devices": devices, "workers": workers}


def _layout_words(layout):
    """``(what the run trains on, in words; its kind and count)``: PyTorch's ``--devices N``
    is ``N`` worker processes, the same as ``--workers`` of ``N`` addresses."""
    import keras

    if layout.get("workers"):
        count = layout["workers"]
        return f"--workers of {count} addresses ({count} processes)", ("processes", count)
    if layout.get("devices"):
        count = layout["devices"]
        kind = "processes" if keras.backend.backend() == "torch" else "devices"
        return f"--distribution {layout['distribution']} --devices {count}", (kind, count)
    return "one device (no --distribution)", ("devices", 1)


def _check_same_layout(saved, given, out):
    """``--resume`` with the number of devices or workers the run started with, or a
    ValueError naming both and the fix."""
    run, run_kind = _layout_words(saved)
    now, now_kind = _layout_words(given)
    if run_kind == now_kind:
        return
    if saved.get("workers"):
        fix = (f"start every worker again with --resume and --workers of {saved['workers']} "
               "addresses (new ports are fine)")  # fmt: skip
    elif saved.get("devices"):
        fix = f"resume with --distribution {saved['distribution']} --devices {saved['devices']}"
    else:
        fix = "resume without --distribution, --devices and --workers"
    raise ValueError(
        f"--resume: the run in {out} trained on {run}, and this command asks for {now}. A "
        "resumed run keeps the number of devices and workers it started with (the rows each "
        f"one trains on, and the order of the sums, depend on it): {fix}."
    )


def _given(args, options):
    values = {field: getattr(args, field) for field, _, _ in options.values()}
    return {field: value for field, value in values.items() if value is not None}


def _absolute_data(data):
    path = Path(data).expanduser()
    if path.is_file() or is_shard_directory(path):
        return path.resolve()
    from llm_keras.data import CORPORA, corpus_path

    if data in CORPORA:
        return corpus_path(data).resolve()
    raise ValueError(
        f"--data {data}: no such file, no folder of token shards (with a manifest.json), and "
        f"not a corpus name ({', '.join(CORPORA)})."
    )


def _shards_tokenizer(data, tokenizer_folder):
    """The tokenizer of the shards in ``data``; a ``--tokenizer`` must be the same file."""
    from llm_keras.data.shards import read_manifest
    from llm_keras.tokenizers import Tokenizer
    from llm_keras.tokenizers.base import FILE_NAME

    made_with = read_manifest(data)["tokenizer"]
    folder = Path(data) / made_with["folder"]
    if tokenizer_folder is not None:
        given = Path(tokenizer_folder) / FILE_NAME
        if not given.is_file() or file_digest(given)[1] != made_with["sha256"]:
            raise ValueError(
                f"--tokenizer {tokenizer_folder} is not the tokenizer the shards in {data} were "
                f"made with ({made_with['class']} of {made_with['vocab_size']} ids, in "
                f"{folder}): leave --tokenizer out to use theirs."
            )
    tokenizer = Tokenizer.load(folder)
    if file_digest(folder / FILE_NAME)[1] != made_with["sha256"]:
        raise ValueError(f"--data {data}: {folder} changed since the shards were written (its "
                         "SHA-256 differs from the manifest's): write the shards again.")  # fmt: skip
    return tokenizer


def _read_data(path):
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"--data {path} is not UTF-8 text ({error}).") from None
    if not text:
        raise ValueError(f"--data {path} is empty.")
    return text, hashlib.sha256(raw).hexdigest()


def _preset_default(preset, group, field):
    """The value a run that did not set ``field`` got from its preset."""
    from llm_keras.models import GPTConfig
    from llm_keras.training.trainer import TrainingConfig

    if group == "training":
        return getattr(TrainingConfig.preset(_training_preset(preset)), field)
    return getattr(GPTConfig.preset(preset), field)


def _training_preset(model_preset):
    from llm_keras.training.trainer import TRAINING_PRESETS

    return model_preset if model_preset in TRAINING_PRESETS else DEFAULT_PRESET


def main(argv: list[str] | None = None) -> int:
    """``python -m llm_keras.training.command ARGS`` runs ``llm-keras train ARGS``."""
    import sys

    from llm_keras.cli import _run

    parser = argparse.ArgumentParser(prog="llm-keras")
    add_train_command(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return _run(parser, ["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
