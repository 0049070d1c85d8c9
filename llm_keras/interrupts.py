"""Ctrl-C and SIGTERM: a command stops, and a training loop stops between two steps (week 3, "When training goes wrong").

Python turns Ctrl-C (SIGINT) into a ``KeyboardInterrupt`` raised wherever the program happens to
be. Inside a training step that place is often library code, and some library code catches
every exception with a bare ``except:``: Keras's ``model.save`` falls back to writing the weights
in memory when anything goes wrong while it opens a temporary file, so a Ctrl-C that lands there
is swallowed and the run trains on (measured: 1 of 12 interrupted JAX runs). The commands
therefore handle the two signals themselves:

- ``stop_on_interrupt_and_terminate()`` (called by ``llm-keras`` and ``llm-course`` before a
  command runs) sets handlers for SIGINT and SIGTERM. A process started in the background by a
  shell without job control begins with SIGINT ignored, and Python would leave it so.
- Outside a training loop, a signal raises ``KeyboardInterrupt`` at once, as usual.
- Inside ``stop_at_safe_points()`` (around ``model.fit``), the first signal is only noted; the
  callback ``training.safe_stop.StopBetweenSteps`` raises ``KeyboardInterrupt`` before the next
  step (``raise_if_stop_requested``), where no library code is running. A second signal raises
  at once: a user who presses Ctrl-C twice is never kept waiting for a step.

The command's ``except KeyboardInterrupt`` then says which checkpoint was kept and exits with
status 130. Outside the commands (a notebook, a script) nothing changes: Python's own handler
raises at once.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

_open_sections = 0  # how many stop_at_safe_points() sections are running
_requested: str | None = None  # the signal noted inside a section and not yet raised


def stop_on_interrupt_and_terminate() -> None:
    """Handle SIGINT and SIGTERM as this module says (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return  # a caller in a thread keeps its own handlers
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _interrupt)


def _interrupt(number, frame):
    global _requested
    name = signal.Signals(number).name
    if _open_sections and _requested is None:
        _requested = name  # raised between two steps by raise_if_stop_requested
        return
    _requested = None
    raise KeyboardInterrupt(name)


@contextmanager
def stop_at_safe_points():
    """Within, a SIGINT or SIGTERM waits for ``raise_if_stop_requested`` (a second one does not).

    A signal noted during the section's last step is raised when the section ends normally.
    """
    global _open_sections, _requested
    _open_sections += 1
    try:
        yield
    except BaseException:
        _requested = None  # the section ends anyway
        raise
    finally:
        _open_sections -= 1
    raise_if_stop_requested()


def raise_if_stop_requested() -> None:
    """Raise ``KeyboardInterrupt`` if a signal was noted: call it where stopping is safe."""
    global _requested
    if _requested is not None:
        name, _requested = _requested, None
        raise KeyboardInterrupt(name)
