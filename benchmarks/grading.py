"""Benchmark: `llm-course grade` against plain `nbgrader autograde` on the same 50 submissions.

    python benchmarks/grading.py [--backend tensorflow] [--workers 2] [--cell-timeout 10]

Builds the demo course (autograder/example_course) twice in a temporary folder, writes the same
50 submissions of its `demo` assignment into both (a mix of correct, wrong and broken ones: see
MIX), then grades one copy with `llm-course grade` (sandboxed, parallel) and the other with
`nbgrader autograde` (one fresh kernel per notebook, serial), each in a fresh process with the
same Keras backend and the same per-cell timeout. Prints a Markdown table.

Throughput is submissions per second of wall time, start-up included (both import the
framework at least once). Memory is sampled every 0.1 s as the proportional set size (PSS:
pages shared after a fork counted once) of each worker's process tree: for `llm-course grade`
a worker is one sandbox (bubblewrap, the zygote and the child grading a submission) and the
scorer is the trusted process computing the references; for nbgrader the worker is the
nbgrader process with the kernel it runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from machine_info import cpu_name

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.course.autograder import corpus  # noqa: E402  (the corpus's submission builder)

# 50 submissions: 20 correct, 20 wrong (5 kinds), 5 attacks, 5 broken. No duplicated answer
# cells: those abort nbgrader's whole batch (research/autograder.md, I15), which would end its
# run early and flatter its throughput.
WRONG = ("softmax_unstable", "no_causal_mask", "labels_not_shifted", "scale_by_d",
         "softmax_wrong_axis_in_attention")
ATTACKS = ("I1_showtraceback", "I3_displayhook", "I4_always_true", "I16_leak_inputs",
           "delegate_softmax")
BROKEN = ("F1_infinite_loop", "F4_os_exit", "F7_F8_stderr_and_tf_logging", "F14_input", "F11_not_json")
_BY_NAME = {case.name: case for case in corpus.CASES}
MIX = (
    [("correct", corpus.Case(f"correct_{i:02d}", 8)) for i in range(20)]
    + [("wrong", corpus.Case(f"{name}_{i}", _BY_NAME[name].score, answers=_BY_NAME[name].answers))
       for i in range(4) for name in WRONG]
    + [("attack", _BY_NAME[name]) for name in ATTACKS]
    + [("broken", _BY_NAME[name]) for name in BROKEN]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow", choices=("jax", "tensorflow", "torch"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cell-timeout", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, help="build the courses here and keep them")
    args = parser.parse_args()
    assert len(MIX) == 50, len(MIX)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="grading-benchmark-"))
    env = dict(os.environ, PYTHONPATH=str(REPO), LLM_COURSE_SECRET="benchmark",
               KERAS_BACKEND=args.backend, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    ours, theirs = folder / "llm-course", folder / "nbgrader"
    for root in (ours, theirs):
        build_course(root, env)

    python = sys.executable
    grade = [python, "-m", "autograder.cli", "grade", "demo", str(ours / "submitted"),
             "--course", str(ours), "--backend", args.backend, "--workers", str(args.workers),
             "--cell-timeout", str(args.cell_timeout), "--no-progress", "--force"]
    autograde = [str(Path(python).parent / "nbgrader"), "autograde", "demo", "--create", "--force",
                 f"--Execute.timeout={int(args.cell_timeout)}"]
    results = {
        "llm-course grade": run(grade, ours, env, workers=_ours_workers),
        "nbgrader autograde": run(autograde, theirs, env, workers=_nbgrader_workers),
    }
    graded = sum(1 for p in (theirs / "autograded").glob("*/demo/demo.ipynb"))
    print(table(results, args, graded))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


def build_course(root: Path, env: dict) -> None:
    shutil.copytree(REPO / "autograder" / "example_course", root)
    subprocess.run([sys.executable, "-m", "autograder.cli", "release", "demo", "--course", str(root)],
                   env=env, check=True, capture_output=True)
    paths = {"release": root / "exercises" / "demo" / "demo.ipynb", "course": root,
             "gradebook": root / "gradebook.db", "other": root, "marker": root / "marker", "port": 9}
    for _, case in MIX:
        corpus.build(case, root / "submitted" / case.name / "demo", paths)


def run(command: list[str], cwd: Path, env: dict, workers) -> dict:
    """Wall time and peak PSS per worker tree of one grading run."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    peaks: dict[str, int] = {}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for name, pids in workers(process.pid).items():
                total = sum(_pss(pid) for pid in pids)
                key = name.split("#")[0]
                peaks[key] = max(peaks.get(key, 0), total)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    # nbgrader exits with 1 when some submissions failed (the broken ones): that is expected
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{output[-3000:]}")
    return {"seconds": seconds, "peaks": peaks, "output": output, "returncode": process.returncode}


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as file:
                    parent = int(file.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(name))
    return children


def _tree(pid: int, children: dict) -> list[int]:
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        out.append(current)
        stack += children.get(current, [])
    return out


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ours_workers(root: int) -> dict[str, list[int]]:
    children = _children()
    trees = {}
    for pid in _tree(root, children)[1:]:
        command = _command(pid)
        if command.startswith("bwrap") or "autograder.sandbox.zygote" in command and "bwrap" not in _command(_parent(pid)):
            trees[f"sandbox worker#{pid}"] = _tree(pid, children)
        elif "multiprocessing" in command and "spawn" in command:
            trees[f"trusted scorer#{pid}"] = _tree(pid, children)
    trees["orchestrator"] = [root]
    return trees


def _nbgrader_workers(root: int) -> dict[str, list[int]]:
    return {"nbgrader + kernel": _tree(root, _children())}


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            for line in file:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def table(results: dict, args, nbgrader_graded: int) -> str:
    cpu = cpu_name()
    mix = Counter(category for category, _ in MIX)
    theirs = results["nbgrader autograde"]
    lines = [
        f"50 submissions of the demo assignment ({mix['correct']} correct, {mix['wrong']} wrong, "
        f"{mix['attack']} attacks, {mix['broken']} broken), Keras backend `{args.backend}`, "
        f"per-cell timeout {args.cell_timeout:g} s, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}.",
        "",
        "| grader | wall time (s) | submissions / s | speed-up | peak memory per worker (PSS) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, result in results.items():
        memory = ", ".join(f"{key} {value / 2**20:.0f} MiB" for key, value in sorted(result["peaks"].items()))
        speedup = theirs["seconds"] / result["seconds"]
        lines.append(f"| `{name}` | {result['seconds']:.1f} | {50 / result['seconds']:.2f} | "
                     f"{speedup:.1f}x | {memory} |")
    lines.append("")
    lines.append(f"`llm-course grade` ran {args.workers} sandbox workers; nbgrader wrote "
                 f"{nbgrader_graded} autograded notebooks of 50.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
