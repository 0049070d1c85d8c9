"""Ctrl-C or SIGTERM during `llm-course pdf`: the build stops within seconds, kills the kernels
still running a chapter (and what their code started), keeps the chapters that finished in the
cache, and says so in one line (issue 17, item 1).

The chapters' kernels run in sessions of their own (jupyter_client starts them so), so neither a
terminal's Ctrl-C nor a SIGTERM sent to the build reaches them: before the build stopped them
itself, it waited for the running chapter to end (602 s for a cell that slept 600 s)."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.course.pdf.conftest import myst_header
from tests.interrupting import Command, running, wait_until

SIGNALS = {"Ctrl-C": signal.SIGINT, "SIGTERM": signal.SIGTERM}
LLM_COURSE = Path(sys.executable).parent / "llm-course"


def chapter(title: str, code: str) -> str:
    return f"{myst_header()}# {title}\n\n```{{code-cell}} python\n{code}\n```\n"


def write_course(root: Path) -> Path:
    """Chapter A ends at once; chapter B starts a child process, writes the kernel's and the
    child's process ids, then waits while the file ``hold`` exists (or until ``done`` does: the
    test's end, so that a kernel left behind by a failed test does not wait for ever)."""
    course = root / "course"
    course.mkdir()
    (course / "01-a.md").write_text(chapter("Chapter A", 'print("a ran")'))
    (root / "hold").write_text("")
    code = "\n".join([
        "import os, subprocess, sys, time",
        "from pathlib import Path",
        f"root = Path({str(root)!r})",
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])",
        "(root / 'pids').write_text(f'{os.getpid()} {child.pid}')",
        "while (root / 'hold').exists() and not (root / 'done').exists():",
        "    time.sleep(0.1)",
    ])  # fmt: skip
    (course / "02-b.md").write_text(chapter("Chapter B", code))
    return course


@pytest.mark.parametrize("name", SIGNALS)
def test_a_signal_stops_the_build_and_its_kernels_and_keeps_what_finished(tmp_path, name):
    course = write_course(tmp_path)
    build = tmp_path / "build"
    command = [str(LLM_COURSE), "pdf", "--course", str(course), "--out", str(build / "x.pdf")]
    started = Command(command, tmp_path, cwd=tmp_path)
    try:
        # Chapter A done and B's kernel in its loop (minutes on a busy machine: kernels start).
        stopped = started.signal_when(
            lambda: (tmp_path / "pids").exists() and "01-a.md: ran" in started.stdout,
            SIGNALS[name], "the chapters did not start")  # fmt: skip
    finally:
        (tmp_path / "done").write_text("")  # (ends B's loop if the build left it running)
    assert stopped.code == 130, stopped.stdout + stopped.stderr
    assert "llm-course pdf: interrupted; the chapters whose code had finished are cached" \
        in stopped.stderr
    assert "Traceback" not in stopped.stderr, stopped.stderr
    assert stopped.seconds < 60, f"{stopped.seconds:.1f} s from the signal to the end"
    pids = set(map(int, (tmp_path / "pids").read_text().split()))  # B's kernel, its child
    wait_until(lambda: not running(pids), 30,
               "chapter B's kernel or the process its code started still runs")  # fmt: skip
    assert not (build / "x.pdf").exists()

    # The same command again goes on from there: chapter A from the cache, B runs.
    (tmp_path / "hold").unlink()
    again = subprocess.run(command, check=False, capture_output=True, text=True, cwd=tmp_path,
                           timeout=900)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "code of 01-a.md: unchanged, outputs from the cache" in again.stdout
    assert "code of 02-b.md: ran in" in again.stdout
