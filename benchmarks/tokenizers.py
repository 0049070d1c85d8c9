"""Benchmark: our byte-level BPE against Hugging Face `tokenizers` (training) and tiktoken (encoding).

    python benchmarks/tokenizers.py [--data ../shared/data] [--repeats 3]

Prints a Markdown table. Each measurement runs in a fresh subprocess, so that its peak memory
(the growth of the process's resident-set high-water mark over what it had after loading the
libraries and the corpus) is not mixed with another's. Times are the best of --repeats runs.

Rows:
- BPE training on TinyShakespeare (1.1 MB) at vocab 4,096 and on shakespeare_gutenberg.txt
  (5.1 MB) at vocab 8,192, special token <|endoftext|>, GPT-2 pre-tokenisation, for
  llm_keras's ByteLevelBPETokenizer.train and HF's BpeTrainer (byte-level pre-tokeniser),
  each on its fastest path: ours on the text, HF's `train(files)`, which reads the file's
  lines in parallel threads.
- Encoding TinyShakespeare with GPT-2's vocab.json/merges.txt: llm_keras (its word cache
  emptied before each run) against tiktoken's Encoding built from the same files, one thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from machine_info import describe_machine

# This file is called tokenizers.py: keep its folder off the import path so that
# `import tokenizers` finds Hugging Face's package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

EOT = "<|endoftext|>"
TRAINING = [("tinyshakespeare.txt", 4096), ("shakespeare_gutenberg.txt", 8192)]


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def measure(task: str, data: Path, corpus: str, vocab_size: int, repeats: int) -> dict:
    """Run one measurement in this process; returns seconds (best of repeats) and memory."""
    text = (data / corpus).read_text(encoding="utf-8")
    if task == "train-llm_keras":
        from llm_keras.tokenizers import ByteLevelBPETokenizer

        def run():
            return ByteLevelBPETokenizer.train(text, vocab_size, [EOT], progress=False).vocab_size

    elif task == "train-hf":
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        def run():
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            trainer = trainers.BpeTrainer(
                vocab_size=vocab_size,
                special_tokens=[EOT],
                initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                show_progress=False,
            )
            tok.train([str(data / corpus)], trainer)  # HF's fastest path: reads lines in parallel
            return tok.get_vocab_size()

    elif task == "encode-llm_keras":
        from llm_keras.tokenizers import ByteLevelBPETokenizer

        tok = ByteLevelBPETokenizer.from_gpt2_files(
            data / "gpt2" / "vocab.json", data / "gpt2" / "merges.txt"
        )

        def run():
            tok._cache.clear()  # every run starts with no word encoded yet
            start = time.perf_counter()
            n = len(tok.encode(text))
            return n, time.perf_counter() - start

    elif task == "encode-tiktoken":
        import tiktoken

        from llm_keras.tokenizers import ByteLevelBPETokenizer, GPT2_SPLIT_PATTERN

        gpt2 = ByteLevelBPETokenizer.from_gpt2_files(
            data / "gpt2" / "vocab.json", data / "gpt2" / "merges.txt"
        )
        ranks = {gpt2.vocab[i]: i for i in range(gpt2.vocab_size) if i != 50256}
        enc = tiktoken.Encoding("gpt2", pat_str=GPT2_SPLIT_PATTERN, mergeable_ranks=ranks,
                                special_tokens={EOT: 50256})
        del gpt2

        def run():
            start = time.perf_counter()
            n = len(enc.encode_ordinary(text))
            return n, time.perf_counter() - start

    else:
        raise ValueError(f"unknown task {task!r}")

    baseline = peak_rss_bytes()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
        if isinstance(result, tuple):  # encoding tasks time only the encode call
            result, elapsed = result
        times.append(elapsed)
    return {
        "seconds": min(times),
        "result": result,
        "chars": len(text),
        "bytes": len(text.encode("utf-8")),
        "peak_extra_mb": max(0, peak_rss_bytes() - baseline) / 2**20,
    }


def in_subprocess(task: str, data: Path, corpus: str, vocab_size: int, repeats: int) -> dict:
    command = [sys.executable, __file__, "--one", task, corpus, str(vocab_size),
               "--data", str(data), "--repeats", str(repeats)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> str:
    import tiktoken
    import tokenizers

    return (f"{describe_machine()}, "
            f"tokenizers {tokenizers.__version__}, tiktoken {tiktoken.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("LLM_KERAS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("TASK", "CORPUS", "VOCAB"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        task, corpus, vocab = args.one
        print(json.dumps(measure(task, args.data, corpus, int(vocab), args.repeats)))
        return

    print(f"Machine: {machine()}\n")
    print("| task | corpus | llm_keras | peer | llm_keras / peer | peak extra memory (llm_keras / peer) |")
    print("| --- | --- | --- | --- | --- | --- |")
    per_mb = {}
    for corpus, vocab in TRAINING:
        ours = in_subprocess("train-llm_keras", args.data, corpus, vocab, args.repeats)
        peer = in_subprocess("train-hf", args.data, corpus, vocab, args.repeats)
        assert ours["result"] == peer["result"] == vocab, (ours, peer)
        mb = ours["bytes"] / 1e6
        per_mb[corpus] = (ours["seconds"] / mb, peer["seconds"] / mb)
        print(f"| BPE training, vocab {vocab:,} | {corpus} ({mb:.1f} MB) | {ours['seconds']:.2f} s "
              f"| HF BpeTrainer {peer['seconds']:.2f} s | {ours['seconds'] / peer['seconds']:.2f}x "
              f"| {ours['peak_extra_mb']:.0f} MB / {peer['peak_extra_mb']:.0f} MB |")
    ours = in_subprocess("encode-llm_keras", args.data, "tinyshakespeare.txt", 50257, args.repeats)
    peer = in_subprocess("encode-tiktoken", args.data, "tinyshakespeare.txt", 50257, args.repeats)
    assert ours["result"] == peer["result"] == 338_025, (ours, peer)
    mb = ours["bytes"] / 1e6
    print(f"| encode with GPT-2's files | tinyshakespeare.txt ({mb:.1f} MB, 338,025 tokens) "
          f"| {mb / ours['seconds']:.1f} MB/s | tiktoken {mb / peer['seconds']:.1f} MB/s "
          f"| {peer['seconds'] / ours['seconds']:.2f}x of tiktoken's throughput "
          f"| {ours['peak_extra_mb']:.0f} MB / {peer['peak_extra_mb']:.0f} MB |")
    print()
    for corpus, (o, p) in per_mb.items():
        print(f"Training time per MB on {corpus}: llm_keras {o:.2f} s, HF {p:.2f} s")


if __name__ == "__main__":
    main()
