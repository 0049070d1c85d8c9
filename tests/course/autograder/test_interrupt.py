"""Ctrl-C or SIGTERM during `llm-course grade`, sent to a real batch: the grader stops within
seconds while a submission's cell is still running, leaves no sandbox process behind, keeps the
records of the submissions it finished and says so; the same command then grades only the rest
(issue 17, item 1). The sandboxes run in sessions of their own (bubblewrap's --new-session), out
of a terminal's reach: the grader must end them itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

from autograder import feedback, grading, records
from autograder.course import Course
from llm_keras import interrupts
from tests.course.autograder import corpus
from tests.course.autograder.conftest import make_course
from tests.interrupting import Command, running, wait_until

SIGNALS = {"Ctrl-C": signal.SIGINT, "SIGTERM": signal.SIGTERM}
LLM_COURSE = Path(sys.executable).parent / "llm-course"
HANGS = "import time\nwhile True:\n    time.sleep(0.1)\n"  # bob's first answer cell never ends


def descendants(pid: int) -> set[int]:
    """The processes under ``pid`` now (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.parametrize("name", SIGNALS)
def test_a_signal_stops_a_batch_and_keeps_the_finished_records(tmp_path, name, sandbox_available):
    course = make_course(tmp_path / "course")
    submitted = tmp_path / "submitted"
    paths = {"release": course.release("demo") / "demo.ipynb"}
    corpus.build(corpus.Case("alice", 8), submitted / "alice" / "demo", paths)
    corpus.build(corpus.Case("bob", 0, prepend={"causal-mask-answer": HANGS}),
                 submitted / "bob" / "demo", paths)  # fmt: skip
    command = [str(LLM_COURSE), "grade", "demo", str(submitted), "--course", str(course.root),
               "--backend", "torch", "--workers", "1", "--no-progress", "--cell-timeout", "600"]
    if not sandbox_available:
        command.append("--no-sandbox")
    grading = Command(command, tmp_path)
    alice = course.root / "autograded" / "alice"
    started = set()

    def alice_is_graded():
        """alice's record is written (one worker: bob comes next, and his cell never ends);
        the grader's processes so far are noted, to check that none is left."""
        started.update(descendants(grading.process.pid))
        return (alice / "demo" / records.RECORD).exists()

    stopped = grading.signal_when(alice_is_graded, SIGNALS[name], "alice was not graded")
    assert stopped.code == 130, stopped.stdout + stopped.stderr
    assert "interrupted; the submissions graded so far are saved" in stopped.stderr
    assert "Traceback" not in stopped.stderr, stopped.stderr
    assert stopped.seconds < 60, f"{stopped.seconds:.1f} s from the signal to the end"
    assert started, "the grader had no worker or sandbox process when signalled"
    wait_until(lambda: not running(started), 30,
               f"processes of the grader still run: {sorted(running(started))}")  # fmt: skip

    # The same command again grades only bob (now with a right answer); alice's record stays.
    corpus.build(corpus.Case("bob", 8), submitted / "bob" / "demo", paths)
    again = subprocess.run(command, check=False, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 submission(s) graded, 1 unchanged since the last run" in again.stdout, again.stdout


def test_a_signal_while_a_graded_submission_is_saved_lets_the_save_finish(tmp_path, monkeypatch):
    """A Ctrl-C that lands while a graded submission is being saved (rebuilt notebook, feedback,
    record, gradebook) stops the batch only once the save is over: its record is on disk and the
    next run reuses it. Before, the signal cut the save in half, after the rebuilt notebook and
    before the record, and the submission was graded again (seen in CI, stop 25). The signal is
    sent from inside the save, so the window is hit every time."""
    course = Course(tmp_path / "course")
    record = {"student": "alice", "assignment": "demo", "status": "graded", "score": 8,
              "max_score": 8, "_rebuilt": {"demo": {"cells": []}}}
    written_to_gradebook = []

    class Grader:  # stands in for the sandboxes: alice is graded at once
        def __init__(self, *args):
            pass

        def grade_one(self, student, folder, key):
            return dict(record)

        def close(self):
            pass

    class Gradebook:
        def write(self, student, scores, timestamp=None):
            written_to_gradebook.append(student)

    write_feedback = feedback.write

    def signal_then_write(record, folder):
        os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, in the main thread
        write_feedback(record, folder)

    monkeypatch.setattr(grading, "_BatchGrader", Grader)
    monkeypatch.setattr(grading, "_scores", lambda record: {})
    monkeypatch.setattr(feedback, "write", signal_then_write)
    options = types.SimpleNamespace(workers=1, progress=False)
    summary = grading.Summary()
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    interrupts.stop_on_interrupt_and_terminate()
    try:
        with pytest.raises(KeyboardInterrupt):
            grading._grade_all(course, types.SimpleNamespace(name="demo"), b"", options, Gradebook(),
                               [("alice", tmp_path / "alice", "key")], summary)  # fmt: skip
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    saved = records.read(course.autograded("alice", "demo"))
    assert saved is not None, "the signal cut the save before the record was written"
    assert saved["gradebook"] == "written" and written_to_gradebook == ["alice"]
    assert (course.autograded("alice", "demo") / "demo.ipynb").exists()
