"""Benchmark: generation speed with and without the KV cache, and against keras-hub, per backend.

    python benchmarks/generation.py [--backends jax,tensorflow,torch] [--repeats 3] [--threads N]
        [--prompt-length 16] [--new-tokens 256] [--batch 1] [--sampler top-k|greedy]

Prints one Markdown table per backend (each backend runs in its own subprocess: KERAS_BACKEND is
read once, when Keras is imported). The model is the ``shakespeare-char`` preset (6 layers, 6 heads,
d_model 384, 65 tokens) with random weights, its context raised from 256 to prompt + new tokens
(272 by default), so that neither library has to slide a window. keras-hub's ``GPT2CausalLM`` gets
the same sizes (``GPT2Backbone``: vocabulary 65, 6 layers, 6 heads, hidden 384, intermediate 1536,
max_sequence_length 272, no preprocessor) and runs ``generate`` on padded token ids with
``stop_token_ids=None``, so both produce exactly ``--new-tokens`` tokens after the same prompt.

Rows:
- llm_keras, KV cache: ``generate(model, prompt, 256, ...)``: a prefill, then one compiled
  ``while_loop`` over the new tokens (on torch, a Python loop under ``torch.no_grad()`` replaying
  the model's step recorded by ``torch.jit.trace``: ``generation/compiled.py``).
- llm_keras, no cache: ``use_cache=False``: each step runs the whole 272-token buffer through
  the model (fixed shape, so it compiles once).
- keras-hub ``GPT2CausalLM.generate``, same sampler.

Times: the first call of each row (compilation included) is reported apart; tokens/s is
``new tokens x batch`` over the median of ``--repeats`` later calls, the rows taking turns (the
no-cache row is timed once: it is slow, and its spread is small next to its length). The sampler
is the same for all rows: top-k 40 at temperature 0.8 (``--sampler greedy`` for argmax).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# benchmarks/tokenizers.py would shadow Hugging Face's `tokenizers`, which keras-hub imports: keep
# this script's folder off the import path.
_HERE = Path(__file__).resolve().parent
from machine_info import describe_machine, thread_environment  # noqa: E402  (this folder, first)

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

ROWS = ("llm_keras, KV cache", "llm_keras, no cache", "keras-hub GPT2CausalLM")


def measure(args) -> dict:
    """Run in a subprocess whose KERAS_BACKEND is set: time every row, return a dict."""
    from llm_keras.host_memory import keep_freed_host_memory

    keep_freed_host_memory()  # as llm-keras generate does, before Keras starts the backend
    import keras
    import numpy as np

    from llm_keras.generation import generate
    from llm_keras.models import GPT, GPTConfig

    keras.utils.set_random_seed(0)
    prompt_length, new = args.prompt_length, args.new_tokens
    max_length = prompt_length + new
    config = GPTConfig.preset("shakespeare-char", context_length=max_length, dropout=0.0)
    model = GPT(config)
    prompts = np.random.default_rng(0).integers(0, 65, (args.batch, prompt_length)).astype("int32")
    if args.sampler == "greedy":
        options = dict(temperature=0)
    else:
        options = dict(temperature=0.8, top_k=40)

    def ours(use_cache):
        return lambda: generate(model, prompts, new, seed=1, use_cache=use_cache, **options)

    import keras_hub

    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=config.vocab_size,
        num_layers=config.n_layers,
        num_heads=config.n_heads,
        hidden_dim=config.d_model,
        intermediate_dim=config.d_ff,
        dropout=0.0,
        max_sequence_length=max_length,
    )
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    if args.sampler == "greedy":
        sampler = keras_hub.samplers.GreedySampler()
    else:
        sampler = keras_hub.samplers.TopKSampler(k=40, temperature=0.8, seed=1)
    causal_lm.compile(sampler=sampler)
    token_ids = np.zeros((args.batch, max_length), dtype="int32")
    token_ids[:, :prompt_length] = prompts
    padding_mask = np.zeros((args.batch, max_length), dtype=bool)
    padding_mask[:, :prompt_length] = True
    hub_inputs = {"token_ids": token_ids, "padding_mask": padding_mask}

    def keras_hub_generate():
        return causal_lm.generate(hub_inputs, stop_token_ids=None)

    results = {
        "backend": keras.backend.backend(),
        "parameters": model.num_parameters(),
        "keras_hub_parameters": causal_lm.count_params(),
    }
    runs = {ROWS[0]: ours(True), ROWS[1]: ours(False), ROWS[2]: keras_hub_generate}
    outputs, firsts, times = {}, {}, {row: [] for row in ROWS}
    for row, run in runs.items():  # the first call of each compiles
        start = time.perf_counter()
        outputs[row] = run()
        firsts[row] = time.perf_counter() - start
    # Repeats interleave the rows, so that a change of load on a shared machine hits them alike.
    for repeat in range(args.repeats):
        for row, run in runs.items():
            if row == ROWS[1] and repeat > 0:
                continue  # slow and steady: timed once
            start = time.perf_counter()
            run()
            times[row].append(time.perf_counter() - start)
    for row in ROWS:
        if row == ROWS[2]:  # keras-hub returns the prompt and the new tokens, padded
            mask = np.asarray(outputs[row]["padding_mask"])
            produced = int(mask.sum(axis=1).min()) - prompt_length
        else:
            produced = min(len(ids) for ids in outputs[row])
        median = statistics.median(times[row])
        results[row] = {
            "first_call_s": firsts[row],
            "median_s": median,
            "times_s": times[row],
            "new_tokens": produced,
            "tokens_per_s": produced * args.batch / median,
        }
    return results


def table(results: dict, args) -> str:
    cached = results[ROWS[0]]["tokens_per_s"]
    lines = [
        f"### {results['backend']}",
        "",
        "| generation | tokens/s | vs KV cache | first call (s) | compilation (s) | new tokens |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in ROWS:
        r = results[row]
        compile_s = max(0.0, r["first_call_s"] - r["median_s"])
        lines.append(
            f"| {row} | {r['tokens_per_s']:.1f} | {r['tokens_per_s'] / cached:.2f}x "
            f"| {r['first_call_s']:.2f} | {compile_s:.2f} | {r['new_tokens']} |"
        )
    speedup = cached / results[ROWS[1]]["tokens_per_s"]
    versus_hub = cached / results[ROWS[2]]["tokens_per_s"]
    lines += [
        "",
        f"KV cache speed-up: {speedup:.1f}x (target >= 5x: {'met' if speedup >= 5 else 'MISSED'}); "
        f"llm_keras / keras-hub: {versus_hub:.2f}x (target >= 1: "
        f"{'met' if versus_hub >= 1 else 'MISSED'}). Parameters: llm_keras "
        f"{results['parameters']:,}, keras-hub {results['keras_hub_parameters']:,}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt-length", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--sampler", choices=["top-k", "greedy"], default="top-k")
    parser.add_argument("--threads", type=int, help="CPU threads per run (default: the libraries')")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args)))
        return
    sampler = "top-k 40, temperature 0.8" if args.sampler == "top-k" else "greedy"
    threads = f"{args.threads} thread(s) per run" if args.threads else "the libraries' threads"
    print(
        f"Machine: {describe_machine()}; {threads}. Batch {args.batch}, prompt {args.prompt_length} "
        f"tokens, {args.new_tokens} new tokens, sampler {sampler}, median of {args.repeats} runs "
        "after a first (compiling) call.\n"
    )
    for backend in args.backends.split(","):
        command = [sys.executable, __file__, "--worker", *sys.argv[1:]]
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        if args.threads:
            env.update(thread_environment(args.threads))
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"### {backend}\n\nfailed:\n```\n{done.stderr[-3000:]}\n```\n")
            continue
        print(table(json.loads(done.stdout.strip().splitlines()[-1]), args) + "\n", flush=True)


if __name__ == "__main__":
    main()
