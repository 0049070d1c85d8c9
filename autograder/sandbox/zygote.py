"""The zygote: a pre-warmed process, inside the sandbox, that forks one child per submission.

    python -m autograder.sandbox.zygote [--sandboxed]

It imports NumPy, Keras (with the backend in ``KERAS_BACKEND``) and IPython once, runs nothing
else, marks itself non-dumpable (so a child cannot read or trace it), says ``ready`` and then
serves jobs from stdin, one at a time. For each job it forks a child (``harness.run``) with the
learner's limits, watches it and relays its results to stdout:

- wall time per cell and per probe (``SIGINT``, then ``SIGKILL`` after a grace period) and per
  submission (``SIGKILL``);
- memory: ``RLIMIT_AS`` in the child plus a watchdog on the resident memory of every process the
  submission started;
- processes (``RLIMIT_NPROC``), file size (``RLIMIT_FSIZE``, which also caps everything printed or
  displayed: all output goes to one file), open files, no core dumps;
- the inputs of the probes reach the child only after its cells have run, and only what the
  cells printed before that moment is kept for the learner's feedback.

After each job every leftover process of the sandbox is killed and the scratch folder is wiped,
so the next submission starts from the same pristine state.
"""

from __future__ import annotations

import ctypes
import io
import os
import resource
import select
import shutil
import signal
import sys
import threading
import time

from autograder.sandbox.protocol import FrameReader, ProtocolError, read_frame, write_frame

MAX_JOB = 512 << 20
GRACE_SECONDS = 2.0
POLL_SECONDS = 0.05
OUTPUT_SHOWN = 20_000
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38


def main() -> None:
    sandboxed = "--sandboxed" in sys.argv
    if "--become" in sys.argv:
        _become(int(sys.argv[sys.argv.index("--become") + 1]))
    scratch = os.environ.get("GRADER_SCRATCH", "/tmp")
    # The protocol owns the original stdin/stdout; stray prints from imports go to stderr.
    inbound, outbound = os.dup(0), os.dup(1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    shell, versions = _warm_up()
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    write_frame(outbound, {"event": "ready", "versions": versions, "pid": os.getpid()})
    for number in range(1, 1 << 62):
        try:
            job, payload = read_frame(inbound, MAX_JOB)
        except EOFError:
            return
        Job(job, payload, shell, outbound, os.path.join(scratch, f"job-{number}"), sandboxed).serve()


def _become(uid: int) -> None:
    """Switch to an unprivileged user for good (all capabilities go with uid 0)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    ctypes.CDLL(None).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")


def _warm_up():
    """Import everything a submission needs, without running any framework op (fork safety)."""
    import numpy
    import keras
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    backend = keras.backend.backend()
    versions = {"python": sys.version.split()[0], "numpy": numpy.__version__,
                "keras": keras.__version__, "backend": backend}
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module:
        versions[backend] = __import__(module).__version__
    if backend == "torch":
        import torch

        torch.set_num_threads(1)
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = InteractiveShell.instance(config=config)
    import autograder.sandbox.harness  # noqa: F401  (imported before fork, like the rest)
    import autograder.sandbox.probe_tools  # noqa: F401

    return shell, versions


class Job:
    """One submission: fork the child, watch it, relay what it reports, clean up."""

    def __init__(self, job: dict, payload: bytes, shell, outbound: int, folder: str, sandboxed: bool):
        self.job, self.payload, self.shell = job, payload, shell
        self.outbound, self.folder, self.sandboxed = outbound, folder, sandboxed
        self.limits = job["limits"]
        self.cells: list[dict] = []
        self.output = ""
        self.events = {"memory_error": False, "timeout": False, "finished": False}
        self.status: str | None = None
        self.handed_over = False
        self.exit_status: int | None = None
        self.timeouts = {e["name"]: e.get("timeout") for e in job["exercises"]}

    # --- the child ------------------------------------------------------------------------

    def serve(self) -> None:
        started = time.monotonic()
        os.makedirs(os.path.join(self.folder, "home"), mode=0o700)
        output_path = os.path.join(self.folder, ".output")
        output = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        events_r, events_w = os.pipe()
        handover_r, handover_w = os.pipe()
        rss_baseline, vm_baseline = _proportional_memory(os.getpid()), _memory_of(os.getpid())[1]
        pid = os.fork()
        if pid == 0:
            self._child(output, events_w, handover_r, vm_baseline, keep=(events_w, handover_r))
        os.close(output)
        os.close(events_w)
        os.close(handover_r)
        try:
            self._watch(pid, events_r, handover_w, output_path, rss_baseline, started)
        finally:
            exit_code = self._reap(pid)
            os.close(events_r)
            _close_quietly(handover_w)
        self._finish(exit_code, time.monotonic() - started)
        self._clean()

    def _child(self, output: int, events: int, handover: int, vm_baseline: int, keep) -> None:
        try:
            os.setsid()
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # let the zygote read its memory
            os.dup2(output, 1)
            os.dup2(output, 2)
            for fd in _open_fds():
                if fd > 2 and fd not in keep:
                    _close_quietly(fd)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            limits = self.limits
            _limit(resource.RLIMIT_AS, vm_baseline + limits["memory_bytes"])
            _limit(resource.RLIMIT_FSIZE, limits["output_bytes"])
            _limit(resource.RLIMIT_NPROC, limits["processes"])
            _limit(resource.RLIMIT_NOFILE, 256)
            _limit(resource.RLIMIT_CORE, 0)
            os.chdir(self.folder)
            os.environ["HOME"] = os.path.join(self.folder, "home")
            sys.stdin = open(os.devnull)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
            from autograder.sandbox import harness

            harness.run(self.job, events, handover, self.shell)
            sys.stdout.flush()
            os._exit(0)
        except BaseException:  # noqa: BLE001 - anything: report on the (captured) stderr, exit
            try:
                import traceback

                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(70)

    # --- watching ---------------------------------------------------------------------------

    def _watch(self, pid, events, handover, output_path, rss_baseline, started) -> None:
        reader = FrameReader(self.limits["result_bytes"])
        total_deadline = started + self.limits["submission_timeout"]
        phase_deadline = kill_at = phase_started = None
        interrupted = False
        memory_limit = rss_baseline + self.limits["memory_bytes"]
        while True:
            ready, _, _ = select.select([events], [], [], POLL_SECONDS)
            if ready:
                data = os.read(events, 1 << 16)
                if not data:
                    return
                try:
                    reader.feed(data)
                except ProtocolError:
                    self._kill(pid)
                    self.status = "died"
                    return
            for header, payload in reader.frames:
                event = header.get("event")
                now = time.monotonic()
                if event in ("cell_start", "cell_end", "cells_done") and self.handed_over:
                    continue  # after the hand-over, text from the child could carry hidden inputs
                if event in ("cell_start", "probe_start"):
                    timeout = self.timeouts.get(header.get("name")) if event == "probe_start" else None
                    phase_deadline = now + (timeout or self.limits["cell_timeout"])
                    phase_started = now
                    interrupted, kill_at = False, None
                elif event == "cell_end":
                    if len(self.cells) >= len(self.job["cells"]):
                        continue  # more cells than the job has: forged by the submission
                    header = {"event": "cell_end", "index": len(self.cells),
                              "status": "timeout" if interrupted else str(header.get("status"))[:10],
                              "error": str(header.get("error") or "")[:500] or None,
                              "memory_error": bool(header.get("memory_error")),
                              "seconds": round(now - phase_started, 3) if phase_started else None}
                    self.events["memory_error"] |= bool(header.get("memory_error"))
                    self.cells.append(header)
                    phase_deadline = kill_at = None
                    interrupted = False
                elif event == "cells_done":
                    self.output = _read_head(output_path, OUTPUT_SHOWN)
                    self.handed_over = True
                    threading.Thread(target=self._hand_over, args=(handover,), daemon=True).start()
                elif event == "exercise":
                    if not self.handed_over or header.get("name") not in self.timeouts:
                        continue  # no probe has run yet, or not one of the job's exercises
                    if interrupted:
                        header.update(status="error", error_kind="timeout")
                    self.events["memory_error"] |= header.get("error_kind") == "memory"
                    write_frame(self.outbound, header, payload)
                    phase_deadline = kill_at = None
                    interrupted = False
                elif event == "finished":
                    self.events["finished"] = True
            reader.frames.clear()
            if self.events["finished"] or self._exited(pid):
                # processes the child started may hold the pipe open: do not wait for its end
                self._drain(events, reader)
                return
            now = time.monotonic()
            if phase_deadline is not None and now > phase_deadline and not interrupted:
                interrupted, kill_at = True, now + GRACE_SECONDS
                self.events["timeout"] = True
                _signal(pid, signal.SIGINT)
            if (kill_at is not None and now > kill_at) or now > total_deadline:
                self._kill(pid)
                self.status = "timeout"
                return
            if self._resident_memory(pid) > memory_limit:
                self._kill(pid)
                self.status = "out_of_memory"
                return

    def _exited(self, pid: int) -> bool:
        if self.exit_status is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                self.exit_status = os.waitstatus_to_exitcode(status)
        return self.exit_status is not None

    def _drain(self, events: int, reader: FrameReader) -> None:
        """Relay what the child wrote before it exited (its last exercise, ``finished``)."""
        while select.select([events], [], [], 0)[0]:
            data = os.read(events, 1 << 16)
            if not data:
                break
            try:
                reader.feed(data)
            except ProtocolError:
                break
        for header, payload in reader.frames:
            if header.get("event") == "exercise" and self.handed_over:
                write_frame(self.outbound, header, payload)
            elif header.get("event") == "finished":
                self.events["finished"] = True
        reader.frames.clear()

    def _hand_over(self, handover: int) -> None:
        """Give the child the probes and their inputs (a thread: the child may never read)."""
        try:
            write_frame(handover, {"exercises": self.job["exercises"]}, self.payload)
        except OSError:
            pass

    def _resident_memory(self, pid: int) -> int:
        return sum(_proportional_memory(member) for member in self._members(pid))

    def _members(self, pid: int) -> list[int]:
        """Every process of this submission: all but us and init in the sandbox's pid namespace,
        else the processes of the child's session."""
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
        if self.sandboxed:
            return [p for p in pids if p not in (1, os.getpid())]
        return [p for p in pids if _session_of(p) == pid]

    def _kill(self, pid: int) -> None:
        for member in set(self._members(pid)) | {pid}:
            _signal(member, signal.SIGKILL)

    def _reap(self, pid: int) -> int | None:
        self._kill(pid)
        if self.exit_status is None:
            _, status = os.waitpid(pid, 0)
            self.exit_status = os.waitstatus_to_exitcode(status)
        return self.exit_status

    # --- the record -------------------------------------------------------------------------

    def _finish(self, exit_code: int | None, seconds: float) -> None:
        if self.status is None:
            if not self.events["finished"]:
                self.status = "died"
            elif self.events["memory_error"]:
                self.status = "out_of_memory"
            elif self.events["timeout"]:
                self.status = "timeout"
            else:
                self.status = "finished"
        if self.status == "died" and self.events["memory_error"]:
            self.status = "out_of_memory"
        if not self.handed_over:  # no hidden input ever reached the child: all output is safe
            self.output = _read_head(os.path.join(self.folder, ".output"), OUTPUT_SHOWN)
        write_frame(self.outbound, {
            "event": "done", "status": self.status, "exit_code": exit_code, "cells": self.cells,
            "output": self.output, "seconds": round(seconds, 3),
        })

    def _clean(self) -> None:
        """Kill every leftover process and wipe the scratch space (and /dev/shm in the sandbox)."""
        if self.sandboxed:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                _signal(-1, signal.SIGKILL)  # all processes of the sandbox but us and init
                if not [p for p in self._members(0) if _state_of(p) not in ("Z", "X", None)]:
                    break
                time.sleep(0.01)
        for folder in [self.folder] + (["/dev/shm"] if self.sandboxed else []):
            _wipe(folder, keep_root=folder == "/dev/shm")
        if self.sandboxed:
            _wipe(os.environ.get("GRADER_SCRATCH", "/tmp"), keep_root=True)


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _memory_of(pid: int) -> tuple[int, int]:
    """(resident bytes, virtual bytes) of a process, (0, 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as file:
            size, resident = file.read().split()[:2]
    except (OSError, ValueError):
        return 0, 0
    page = os.sysconf("SC_PAGE_SIZE")
    return int(resident) * page, int(size) * page


def _proportional_memory(pid: int) -> int:
    """Proportional set size: pages shared after a fork are counted once, not per process
    (children are dumpable, so the zygote may read this; it is not the other way round)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            for line in file:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return _memory_of(pid)[0]


def _state_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _session_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rsplit(")", 1)[1].split()[4])
    except (OSError, ValueError, IndexError):
        return None


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _open_fds() -> list[int]:
    return [int(fd) for fd in os.listdir("/proc/self/fd")]


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _read_head(path: str, size: int) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(size + 1)
    except OSError:
        return ""
    text = data[:size].decode("utf-8", "replace")
    return text + "\n[... output truncated ...]" if len(data) > size else text


def _wipe(folder: str, keep_root: bool) -> None:
    """Remove a folder's content (fixing permissions the submission may have removed)."""
    def fix(function, path, _):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass

    if not os.path.isdir(folder):
        return
    if keep_root:
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, onerror=fix)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
    else:
        shutil.rmtree(folder, onerror=fix)


if __name__ == "__main__":
    main()
