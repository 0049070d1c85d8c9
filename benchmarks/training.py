"""Training benchmark: nanoGPT's CPU configuration on every Keras backend and in plain PyTorch.

    .venv/bin/python benchmarks/training.py [--steps 2000] [--threads N] [--out DIR] [--gpu]

Char-level TinyShakespeare, 4 layers, 4 heads, d_model 128, context 64, batch 12, 2,000 steps,
learning rate 1e-3 with 100 warm-up steps and cosine decay to 1e-4, AdamW (beta2 0.99, weight
decay 0.1 on 2-D weights), gradient clipping at 1.0, dropout 0. Each run is a fresh process:

- ``jax``, ``tensorflow``, ``torch``: ``llm_keras.training.train`` (``model.fit``), with
  ``fused_attention=True``; on PyTorch also ``fused_norm=True`` (and ``compile_for_training``'s
  default there, the fused loss, metrics and ``FusedAdamW``: one kernel each where the eager
  step paid for every separate operation; the same numbers, tested). JAX and TensorFlow keep
  the written-out normalisations: XLA fuses the step itself;
- ``pytorch``: a plain PyTorch program written for this benchmark: the same model (pre-LN, GELU
  tanh, tied embeddings, learned positions, biases, normal(0.02) initialisation, with nanoGPT's
  0.02 / sqrt(2 n_layers) for the residual projections when the preset has it), the same loop
  (AdamW ``fused=False``, the same schedule and clipping), eager, as nanoGPT runs on a CPU; and
  the same batches (``llm_keras.data.windows``, so every run sees the same text).

Reported per run: tokens per second over the training steps after the first interval (which
holds the compilation; evaluation not counted), milliseconds per step, the final validation
loss over 2,400 fixed validation windows (nanoGPT's 1.88 is a 20-batch estimate), and the wall
time of the whole run. The loss curves go to ``DIR/training_loss.png``.

``floor``: the step's matrix products alone (the dense layers forward and backward, the
attention's batched products and the tied head, the same shapes as a training step), timed with
PyTorch's ``torch.matmul`` (the BLAS the PyTorch program uses) in a fresh process. No program on
this machine can run a step faster than its products, so ``floor`` bounds every row's speed; its
"vs plain PyTorch" is the most any backend could reach here.

``--seed S`` (default 1337, the preset's): the initial weights and the batches of every run.

The results go to ``course/results/training.json`` (``--results PATH`` for another file; by
default only a run of every row writes it), read by chapter 3's results section: every row with
its speed, ratios to the plain PyTorch program and to the floor, losses and curves, and the
machine with its load average at the start of the run and of each row (see ``write_results``).
The course's file is replaced only when the run is complete; until then the progress is written
after each row to ``OUT/training_results.partial.json`` (``"complete": false``), so a run stopped
half-way keeps what it finished and leaves the book's figures as they were. A file named with
``--results`` is itself written after each row.

``--gpu``: when a GPU is present, also the ``shakespeare-char`` preset with nanoGPT's settings
(batch 64, 5,000 steps, dropout 0.2) on JAX, with wall time and model FLOPs utilisation
(``--peak-tflops``, default 312: an A100's bfloat16 peak; nanoGPT's estimate_mfu uses it too).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_info import describe_machine, thread_environment

REPO = Path(__file__).resolve().parent.parent
RUNS = ("jax", "tensorflow", "torch", "pytorch", "floor")
FINAL_EVAL_WINDOWS = 2400  # 200 batches of 12
DEFAULT_RESULTS = REPO / "course" / "results" / "training.json"
SCHEMA_VERSION = 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", default=",".join(RUNS), help="comma-separated subset of " + ", ".join(RUNS)
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1337, help="initial weights and batches")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default: the libraries')")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "llm_keras_training_benchmark"
    )
    parser.add_argument(
        "--gpu", action="store_true", help="also the shakespeare-char GPU row, if a GPU is present"
    )
    parser.add_argument("--peak-tflops", type=float, default=312.0)
    parser.add_argument(
        "--results",
        type=Path,
        help=f"the results file (default {DEFAULT_RESULTS.relative_to(REPO)} when every run is "
        "made, else none; chapter 3 reads it)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = (GPU_WORKER if args.worker == "gpu" else WORKERS[args.worker])(args)
        args.result.write_text(json.dumps(result))
        return

    args.out.mkdir(parents=True, exist_ok=True)
    runs = [run for run in args.runs.split(",") if run]  # (--runs "" --gpu: the GPU row)
    # The course's file holds complete runs only: a run of every row replaces it at the end and
    # keeps its progress beside the curves until then (a run stopped half-way leaves the book's
    # figures as they were). A file named with --results is written after every row.
    course_file = args.results is None and set(runs) == set(RUNS)
    results_path = DEFAULT_RESULTS if course_file else args.results
    progress_path = args.out / "training_results.partial.json" if course_file else results_path
    record = new_record(args)
    print(f"Machine: {record['machine']}; load average {record['load_average_start'][0]:.1f} "
          "at the start")  # fmt: skip
    results = []
    for run in runs:
        load_before = list(os.getloadavg())
        results.append(run_worker(run, args))
        results[-1].update(key=run, load_average_start=load_before)
        print(format_row(results[-1]), flush=True)
        if progress_path:  # after every row: a run stopped half-way keeps what it finished
            write_results(progress_path, record, results, complete=False)
    if args.gpu:
        row = run_worker("gpu", args)
        if row:
            results.append({**row, "key": "gpu"})
    print()
    print(markdown_table(results))
    plot(results, args.out / "training_loss.png")
    print(f"\nLoss curves: {args.out / 'training_loss.png'}")
    (args.out / "training_results.json").write_text(json.dumps(results, indent=1))
    if results_path:
        write_results(results_path, record, results, complete=True)
        print(f"Results: {results_path}")
    if course_file:
        progress_path.unlink(missing_ok=True)


def run_worker(run, args):
    env = dict(os.environ)
    env["KERAS_BACKEND"] = {"pytorch": "torch", "floor": "torch", "gpu": "jax"}.get(run, run)
    env.setdefault("LLM_KERAS_DATA", str(REPO.parent / "shared" / "data"))
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if args.threads:
        env.update(thread_environment(args.threads))
    result_file = args.out / f"{run}.json"
    result_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        "--worker",
        run,
        "--result",
        str(result_file),
        "--steps",
        str(args.steps),
        "--seed",
        str(args.seed),
        "--out",
        str(args.out),
        "--peak-tflops",
        str(args.peak_tflops),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    subprocess.run(command, env=env, cwd=REPO, check=True)
    return json.loads(result_file.read_text()) if result_file.exists() else None


def new_record(args):
    """What the results file says about the run as a whole (its rows are added as they finish)."""
    import datetime

    return {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "settings": {"preset": "shakespeare-char-cpu", "steps": args.steps, "seed": args.seed,
                     "threads": args.threads, "final_eval_windows": FINAL_EVAL_WINDOWS,
                     "context_length": 64},
    }  # fmt: skip


def with_ratios(rows):
    """``rows`` with ``vs_plain_pytorch`` and ``vs_floor``: tokens/s over those runs' tokens/s
    (``None`` where that run is not among ``rows``)."""
    speed = {row["key"]: row["tokens_per_second"] for row in rows}
    return [
        {**row,
         "vs_plain_pytorch": (row["tokens_per_second"] / speed["pytorch"]
                              if "pytorch" in speed else None),
         "vs_floor": row["tokens_per_second"] / speed["floor"] if "floor" in speed else None}
        for row in rows
    ]  # fmt: skip


def write_results(path, record, rows, complete):
    """Write the run to ``path`` (JSON, schema version 1), replacing what was there.

    Top level: ``schema_version``, ``date`` (UTC), ``machine``, ``cpu_count``,
    ``load_average_start`` and ``load_average_end`` (1, 5 and 15 minutes), ``settings``
    (``preset``, ``steps``, ``seed``, ``threads``...), ``complete`` (false while the run goes on or
    if it stopped half-way) and ``rows``: one per run, in the order made, each with ``key`` (one of
    ``RUNS``, or ``gpu``), ``run`` (its name), ``tokens_per_second``, ``ms_per_step``,
    ``final_val_loss`` (NaN for the floor is written as null), ``wall_seconds``, ``steps``,
    ``load_average_start`` (before that run), ``vs_plain_pytorch``, ``vs_floor``, ``evaluations``
    (every interval's speed and losses) and ``train_curve`` (``[step, loss]`` every 10 steps).
    """
    document = {**record, "load_average_end": list(os.getloadavg()), "complete": complete,
                "rows": _finite_or_none(with_ratios(rows))}  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _finite_or_none(value):
    """``value`` with every NaN or infinity replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


# --- the data every run shares ----------------------------------------------------------------


def shakespeare():
    """``(train_ids, val_ids, final_eval)``: nanoGPT's char ids, 90/10 split, fixed windows."""
    import numpy as np

    from llm_keras.data import load_tiny_shakespeare, train_val_split
    from llm_keras.data.windows import evaluation_windows
    from llm_keras.tokenizers import CharTokenizer

    text = load_tiny_shakespeare()
    ids = np.asarray(CharTokenizer.train(text).encode(text), dtype=np.int32)
    train_ids, val_ids = train_val_split(ids)
    return train_ids, val_ids, evaluation_windows(val_ids, 64, FINAL_EVAL_WINDOWS, seed=2024)


def summary(
    name, history_records, train_curve, final_val_loss, wall, steps, tokens_per_step, extra=None
):
    """One row: steady-state speed over the intervals after the first (which compiles)."""
    later = history_records[1:] or history_records
    seconds = sum(r["train_seconds"] for r in later)
    step_count = sum(r["steps_in_interval"] for r in later)
    return {
        "run": name,
        "tokens_per_second": step_count * tokens_per_step / seconds,
        "ms_per_step": 1000 * seconds / step_count,
        "final_val_loss": final_val_loss,
        "wall_seconds": wall,
        "steps": steps,
        "evaluations": history_records,
        "train_curve": train_curve,
        **(extra or {}),
    }


def cpu_preset_sizes():
    """``(vocab, context, d_model, n_layers, n_heads, batch)`` of the ``shakespeare-char-cpu``
    presets, the sizes the PyTorch program and the floor rebuild."""
    from llm_keras.models import GPTConfig
    from llm_keras.training.trainer import TrainingConfig

    m = GPTConfig.preset("shakespeare-char-cpu")
    batch = TrainingConfig.preset("shakespeare-char-cpu").batch_size
    return m.vocab_size, m.context_length, m.d_model, m.n_layers, m.n_heads, batch


# --- the Keras runs ---------------------------------------------------------------------------


def keras_worker(args):
    from llm_keras.host_memory import keep_freed_host_memory

    keep_freed_host_memory()  # as llm-keras does: before JAX's threads start (JAX gains ~25 %)
    if args.threads and os.environ["KERAS_BACKEND"] == "torch":
        import torch

        torch.set_num_threads(args.threads)
    import keras

    from llm_keras.models import GPT, GPTConfig
    from llm_keras.training.trainer import TrainingConfig, compile_for_training, train

    train_ids, val_ids, (final_x, final_y) = shakespeare()
    config = TrainingConfig.preset(
        "shakespeare-char-cpu", steps=args.steps, sample_tokens=0, keep_checkpoints=1,
        seed=args.seed,
    )  # fmt: skip
    keras.utils.set_random_seed(config.seed)
    torch_backend = keras.backend.backend() == "torch"
    model = GPT(GPTConfig.preset("shakespeare-char-cpu", fused_attention=True,
                                 fused_norm=torch_backend))  # fmt: skip
    compile_for_training(model, config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        history = train(model, train_ids, val_ids, config, directory=directory, verbose=2)
    wall = time.perf_counter() - started
    final = model.evaluate(
        final_x, final_y, batch_size=config.batch_size, verbose=0, return_dict=True
    )
    for record in history.evaluations:
        record["steps_in_interval"] = config.eval_interval
    return summary(
        f"Keras {keras.backend.backend()}",
        history.evaluations,
        history.train,
        final["loss"],
        wall,
        args.steps,
        config.batch_size * 64,
    )


# --- the plain PyTorch program ----------------------------------------------------------------


def pytorch_worker(args):
    import numpy as np
    import torch
    from torch import nn
    from torch.nn import functional as F

    from llm_keras.data.windows import random_offsets, windows_at

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from llm_keras.models import GPTConfig

    vocab, block, d, layers, heads, batch = cpu_preset_sizes()
    # The same initialisation as the Keras model of the preset.
    scaled_residual_init = GPTConfig.preset("shakespeare-char-cpu").scaled_residual_init

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(d, dim=2)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(d), SelfAttention(), nn.LayerNorm(d)
            self.c_fc, self.c_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.h = nn.ModuleList(Block() for _ in range(layers))
            self.ln_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # tied
            for module in self.modules():  # GPT-2's initialisation, as llm_keras's GPT
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            if scaled_residual_init:  # nanoGPT's init of the residual projections
                for name, parameter in self.named_parameters():
                    if name.endswith("c_proj.weight"):
                        nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * layers))

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for layer in self.h:
                x = layer(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, vocab), targets.reshape(-1))

    def get_lr(it, learning_rate=1e-3, warmup_iters=100, lr_decay_iters=args.steps, min_lr=1e-4):
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)

    train_ids, val_ids, (final_x, final_y) = shakespeare()
    from llm_keras.data.windows import evaluation_windows

    val_x, val_y = evaluation_windows(val_ids, block, 20 * batch, seed=args.seed)  # as train()
    model = GPT()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=1e-3,
        betas=(0.9, 0.99),
        eps=1e-8,
        fused=False,
    )

    @torch.no_grad()
    def evaluate(xs, ys):
        model.eval()
        losses = [
            model(
                torch.from_numpy(xs[i : i + batch]).long(),
                torch.from_numpy(ys[i : i + batch]).long(),
            ).item()
            for i in range(0, len(xs), batch)
        ]
        model.train()
        return float(np.mean(losses))

    records, curve = [], []
    started = time.perf_counter()
    interval_start, running = time.perf_counter(), []
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(step)
        offsets = random_offsets(len(train_ids), block, batch, args.seed, step)
        x, y = windows_at(train_ids, offsets, block)
        loss = model(torch.from_numpy(x).long(), torch.from_numpy(y).long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running.append(loss.detach())
        if (step + 1) % 10 == 0:
            curve.append([step + 1, float(torch.stack(running[-10:]).mean())])
        if (step + 1) % 250 == 0:
            seconds = time.perf_counter() - interval_start
            records.append(
                {
                    "step": step + 1,
                    "train_seconds": seconds,
                    "steps_in_interval": 250,
                    "tokens_per_second": 250 * batch * block / seconds,
                    "train_loss": float(torch.stack(running).mean()),
                    "val_loss": evaluate(val_x, val_y),
                }
            )
            running = []
            interval_start = time.perf_counter()
    wall = time.perf_counter() - started
    return summary(
        "plain PyTorch (eager)",
        records,
        curve,
        evaluate(final_x, final_y),
        wall,
        args.steps,
        batch * block,
    )


# --- the floor: the step's matrix products alone -----------------------------------------------


def floor_worker(args):
    """Time the matrix products of one training step with ``torch.matmul`` (median of 20)."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    vocab, block, d, layers, heads, batch = cpu_preset_sizes()
    tokens = batch * block
    # (M, K, N) of each dense layer's forward product: qkv, attention output, MLP in, MLP out;
    # then the tied head. Backward: dX = dY W^T (M, N, K) and dW = X^T dY (K, M, N).
    dense = [(tokens, d, 3 * d), (tokens, d, d), (tokens, d, 4 * d), (tokens, 4 * d, d)] * layers
    dense.append((tokens, d, vocab))
    shapes = [s for m, k, n in dense for s in ((m, k, n), (m, n, k), (k, m, n))]
    # Attention per layer: scores q k^T and outputs w v, forward, each twice more backward.
    b = batch * heads
    batched = [(b, block, d // heads, block), (b, block, block, d // heads)] * 3 * layers
    operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
    operands += [(torch.randn(g, m, k), torch.randn(g, k, n)) for g, m, k, n in batched]
    flops = sum(2 * m * k * n for m, k, n in shapes) + sum(
        2 * g * m * k * n for g, m, k, n in batched
    )

    def one_step():
        for x, y in operands:
            torch.matmul(x, y)

    for _ in range(5):
        one_step()
    times = []
    for _ in range(20):
        started = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - started)
    seconds = sorted(times)[len(times) // 2]
    record = {
        "step": args.steps,
        "train_seconds": seconds * args.steps,
        "steps_in_interval": args.steps,
    }
    row = summary("floor: the step's matrix products", [record], [], float("nan"), float("nan"),
                  args.steps, tokens)  # fmt: skip
    row["gflops_per_second"] = flops / seconds / 1e9
    return row


# --- the GPU row ------------------------------------------------------------------------------


def gpu_worker(args):
    import keras

    if not any(d.platform == "gpu" for d in __import__("jax").devices()):
        print("No GPU: the shakespeare-char GPU row is not measured.")
        return None
    from llm_keras.models import GPT, GPTConfig
    from llm_keras.training.trainer import TrainingConfig, compile_for_training, train

    train_ids, val_ids, _ = shakespeare()
    config = TrainingConfig.preset(
        "shakespeare-char",
        sample_tokens=0,
        keep_checkpoints=1,
        dtype_policy="mixed_bfloat16",
        steps_per_execution=50,
    )
    keras.utils.set_random_seed(config.seed)
    model = GPT(
        GPTConfig.preset("shakespeare-char", fused_attention=True), dtype=config.dtype_policy
    )
    compile_for_training(model, config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        history = train(model, train_ids, val_ids, config, directory=directory, verbose=2)
    wall = time.perf_counter() - started
    for record in history.evaluations:
        record["steps_in_interval"] = config.eval_interval
    row = summary(
        "Keras jax, GPU, shakespeare-char",
        history.evaluations,
        history.train,
        history.evaluations[-1]["val_loss"],
        wall,
        config.steps,
        config.batch_size * 256,
    )
    row["mfu"] = model.flops_per_token() * row["tokens_per_second"] / (args.peak_tflops * 1e12)
    return row


WORKERS = {
    "jax": keras_worker,
    "tensorflow": keras_worker,
    "torch": keras_worker,
    "pytorch": pytorch_worker,
    "floor": floor_worker,
}
GPU_WORKER = gpu_worker


# --- reporting --------------------------------------------------------------------------------


def format_row(row):
    return (
        f"{row['run']:28s} {row['tokens_per_second']:9.0f} tok/s {row['ms_per_step']:7.1f} ms/step "
        f"val {row['final_val_loss']:.4f} wall {row['wall_seconds']:7.1f} s"
    )


def markdown_table(results):
    peer = next((r for r in results if r["run"].startswith("plain PyTorch")), None)
    floor = next((r for r in results if r["run"].startswith("floor")), None)
    lines = [
        "| run | tokens/s | ms/step | vs plain PyTorch | vs floor | final val loss "
        "| wall time (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        ratio = f"{r['tokens_per_second'] / peer['tokens_per_second']:.2f}x" if peer else "-"
        if floor:
            ratio += f" | {r['tokens_per_second'] / floor['tokens_per_second']:.2f}x"
        else:
            ratio += " | -"
        extra = f" (MFU {100 * r['mfu']:.1f} %)" if "mfu" in r else ""
        if "gflops_per_second" in r:
            extra = f" ({r['gflops_per_second']:.0f} GFLOP/s)"
        lines.append(
            f"| {r['run']}{extra} | {r['tokens_per_second']:,.0f} | {r['ms_per_step']:.1f} "
            f"| {ratio} | "
            f"{_number(r['final_val_loss'], '.4f')} | {_number(r['wall_seconds'], '.0f')} |"
        )
    return "\n".join(lines)


def _number(value, spec):
    return "-" if math.isnan(value) else format(value, spec)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=120)
    axes = figure.subplots()
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for color, r in zip(
        colors, [r for r in results if r["evaluations"][0].get("val_loss")], strict=False
    ):
        if r["train_curve"]:
            steps, losses = zip(*r["train_curve"], strict=True)
            axes.plot(steps, losses, color=color, linewidth=0.7, alpha=0.5)
        axes.plot(
            [e["step"] for e in r["evaluations"]],
            [e["val_loss"] for e in r["evaluations"]],
            color=color,
            marker="o",
            label=f"{r['run']} (final val {r['final_val_loss']:.3f})",
        )
    axes.axhline(1.88, color="gray", linestyle="--", linewidth=0.8, label="nanoGPT CPU: 1.88")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per character)")
    axes.set_ylim(1.3, 3.5)
    axes.set_title("TinyShakespeare, nanoGPT CPU configuration: train (thin) and validation")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()
