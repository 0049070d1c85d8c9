"""Ctrl-C or SIGTERM sent to a real command by a test (issue 17): start it with its output in
files (a full pipe would block it), wait for a condition (never a fixed time: the machine may be
busy), send the signal and time the end."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STARTING_SECONDS = 600  # a busy machine can take minutes to start a command and compile
STOPPING_SECONDS = 120  # the wait for the end after the signal (a few seconds when idle)


def wait_until(condition, seconds: float, what: str) -> None:
    """Poll ``condition()`` until it holds; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} after {seconds} s"
        time.sleep(0.02)


@dataclass
class Stopped:
    code: int  # the exit code
    seconds: float  # from the signal to the end
    stdout: str
    stderr: str


class Command:
    """``argv`` running, its output in ``folder/<name>.out`` and ``.err``."""

    def __init__(self, argv, folder: Path, name: str = "command", **popen):
        self.logs = folder / f"{name}.out", folder / f"{name}.err"
        with open(self.logs[0], "w") as stdout, open(self.logs[1], "w") as stderr:
            self.process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, **popen)

    @property
    def stdout(self) -> str:
        return self.logs[0].read_text()

    @property
    def stderr(self) -> str:
        return self.logs[1].read_text()

    def signal_when(self, ready, number, what: str) -> Stopped:
        """Send ``number`` once ``ready()`` holds, then wait for the end (the process is
        killed if it still runs when this returns or fails)."""
        try:
            wait_until(lambda: ready() or self.process.poll() is not None, STARTING_SECONDS, what)
            assert self.process.poll() is None, (
                f"it ended before the signal:\n{self.stdout}\n{self.stderr[-3000:]}")
            self.process.send_signal(number)
            sent = time.monotonic()
            code = self.process.wait(timeout=STOPPING_SECONDS)
            return Stopped(code, time.monotonic() - sent, self.stdout, self.stderr)
        finally:
            self.process.kill()


def running(pids) -> set[int]:
    """Those of ``pids`` still running (a zombie, ended but not yet reaped, is not)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive
