"""The zygote: a pre-warmed process, inside the sandbox, that forks one child per submission.

    python -m autograder.sandbox.zygote [--sandboxed] [--become UID]

It imports NumPy, Keras (with the backend in ``KERAS_BACKEND``) and IPython once, runs nothing
else, marks itself non-dumpable (so no child can read or trace it), says ``ready`` and then
serves jobs, one at a time. The zygote itself never reads a job: for each one it forks a
*supervisor*, which reads the job from stdin, runs it and exits, so no byte of a submission, of a
probe or of a hidden input ever sits in the zygote's memory, which every later child inherits.

One job, as the supervisor sees it:

1. it reads the job's first frame: the learner's cells and the limits, nothing else;
2. it forks the submission (the *runner*). In the sandbox, the runner first gets namespaces of
   its own: a new user namespace (mapping only the sandbox's uid), in which it makes new PID, IPC
   and mount namespaces; it mounts a fresh, size-limited ``/tmp`` (its scratch and home) and
   ``/dev/shm``, forks the process that runs the learner's code as PID 1 of the new PID
   namespace, hides the ``/proc`` entries of the processes outside it (the sandbox's init, the
   zygote, the supervisor), and drops every capability. So the learner's code can name no process
   but its own (it cannot signal or stop the zygote, the supervisor or another worker), and every
   SysV or POSIX IPC object and file it makes dies with its namespaces;
3. the learner's process runs the cells (``harness``) and says ``cells_done``; the supervisor
   relays that to the grader (``launcher.Sandbox.run``), which only then sends the probes and
   their hidden inputs; the supervisor reads them and hands them over. They were never in any
   process the cells ran in before that moment, and what is printed after it is never shown to
   the learner;
4. the supervisor watches the learner's processes and relays its exercise results, and enforces
   - wall time per cell and per probe (``SIGINT``, then ``SIGKILL`` after a grace period) and per
     submission (``SIGKILL``);
   - memory: where the launcher put the sandbox in a memory cgroup of its own (the job's
     ``memory_by`` is ``cgroup``; ``memory_cgroup``), the kernel limits it; otherwise a watchdog
     on the proportional memory of every process of the submission. Either way an address-space
     limit (``RLIMIT_AS``) with a wide margin (``VIRTUAL_MARGIN``: frameworks reserve far more
     address space than they use, and importing TensorFlow must not kill a cell) makes one huge
     allocation fail in its cell; the status is ``out_of_memory``;
   - processes (``RLIMIT_NPROC``), file size (``RLIMIT_FSIZE``, which also caps everything printed
     or displayed: all output goes to one file), open files, no core dumps;
5. at the end it kills the learner's PID 1 (the kernel then kills everything in its namespace),
   checks that no process of the submission is left, and says ``done`` with ``clean``: false
   when a process would not die or a folder could not be wiped. Then the zygote exits, and the
   launcher starts a new sandbox rather than let the next submission inherit anything.

Where new namespaces cannot be made (``isolated`` false in ``ready``: user namespaces disabled),
every job ends with ``clean`` false, so each submission gets a fresh sandbox. Without the
sandbox (``--no-sandbox``) there are no namespaces: the runner's session is watched and its
folder wiped, as the trusted-submissions mode it is.
"""

from __future__ import annotations

import ctypes
import io
import os
import resource
import select
import shutil
import signal
import struct
import sys
import threading
import time

from autograder.sandbox.protocol import FrameReader, ProtocolError, read_frame, write_frame

MAX_JOB = 512 << 20
GRACE_SECONDS = 2.0
POLL_SECONDS = 0.05
CLEANUP_SECONDS = 5.0
OUTPUT_SHOWN = 20_000
VIRTUAL_MARGIN = 4 << 30
SHM_BYTES = 64 << 20
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS, CLONE_NEWIPC = 0x00020000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REC, MS_PRIVATE = 0x4000, 0x40000
CAPABILITY_VERSION_3 = 0x20080522
EXIT_END, EXIT_UNCLEAN = 10, 11
LIBC = ctypes.CDLL(None, use_errno=True)


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
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    isolated = sandboxed and _can_isolate()
    write_frame(outbound, {"event": "ready", "versions": versions, "pid": os.getpid(),
                           "isolated": isolated})
    for number in range(1, 1 << 62):
        supervisor = os.fork()
        if supervisor == 0:
            os._exit(_supervise(inbound, outbound, shell, os.path.join(scratch, f"job-{number}"),
                                sandboxed, isolated))
        _, status = os.waitpid(supervisor, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            return  # end of input, or a job that could not be cleaned up: a new sandbox follows


def _supervise(inbound, outbound, shell, folder, sandboxed, isolated) -> int:
    """The supervisor's whole life: one job. Returns its exit code."""
    try:
        try:
            job, _ = read_frame(inbound, MAX_JOB)
        except EOFError:
            return EXIT_END
        clean = Job(job, shell, inbound, outbound, folder, sandboxed, isolated).serve()
        return 0 if clean else EXIT_UNCLEAN
    except BaseException:  # noqa: BLE001 - the launcher sees the sandbox end and restarts it
        import traceback

        traceback.print_exc()
        return 70


def _become(uid: int) -> None:
    """Switch to an unprivileged user for good (all capabilities go with uid 0)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
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


# --- namespaces -------------------------------------------------------------------------------

def _can_isolate() -> bool:
    """Whether a child can make the per-submission namespaces here (tried once, at start)."""
    pid = os.fork()
    if pid == 0:
        try:
            _enter_namespaces(1 << 20)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _enter_namespaces(scratch_bytes: int) -> None:
    """New user, PID, IPC and mount namespaces for this process, a fresh /tmp and /dev/shm.

    Only the current uid and gid are mapped (what an unprivileged process may map), so the
    learner keeps its uid; the capabilities the new user namespace gives are dropped by
    ``_drop_capabilities`` before any learner code runs."""
    uid, gid = os.getuid(), os.getgid()
    LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # /proc/self/uid_map is writable when dumpable
    if LIBC.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare: " + os.strerror(ctypes.get_errno()))
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1\n"),
                       ("gid_map", f"{gid} {gid} 1\n")):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_bytes},mode=1777")
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           f"size={SHM_BYTES},mode=1777")


def _hide_outer_processes() -> None:
    """Cover /proc/<pid> of every process outside this PID namespace (the sandbox's init, the
    zygote, the supervisor, the runner's parent) with an empty read-only folder. bubblewrap's
    /proc cannot be replaced by a new one in a user namespace (its covered sub-folders are locked
    there), and those pids cannot be signalled from here anyway: this hides what they are."""
    me = os.readlink("/proc/self")
    for name in os.listdir("/proc"):
        if name.isdigit() and name != me:
            _mount("none", f"/proc/{name}", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "size=4k,mode=555")


def _drop_capabilities() -> None:
    """Empty effective, permitted and inheritable sets: nothing of the user namespace's power
    stays (no_new_privs keeps an exec from gaining any back)."""
    header = ctypes.create_string_buffer(struct.pack("Ii", CAPABILITY_VERSION_3, 0))
    data = ctypes.create_string_buffer(24)
    if LIBC.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset: " + os.strerror(ctypes.get_errno()))
    LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _mount(source, target, kind, flags, options=None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    if LIBC.mount(encode(source), encode(target), encode(kind), flags, encode(options)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


# --- one job ----------------------------------------------------------------------------------

class Job:
    """One submission, run by the supervisor: fork the runner, watch it, relay, clean up."""

    def __init__(self, job: dict, shell, inbound: int, outbound: int, folder: str,
                 sandboxed: bool, isolated: bool):
        self.job, self.shell = job, shell
        self.inbound, self.outbound, self.sandboxed, self.isolated = inbound, outbound, sandboxed, isolated
        # the learner's working folder: a fresh tmpfs of its own when isolated
        self.folder = "/tmp" if isolated else folder
        self.limits = job["limits"]
        self.cells: list[dict] = []
        self.output = ""
        self.output_fd: int | None = None
        self.events = {"memory_error": False, "timeout": False, "finished": False}
        self.status: str | None = None
        self.handed_over = False
        self.hand_over: threading.Thread | None = None
        self.exit_status: int | None = None
        self.timeouts: dict = {}  # exercise name -> seconds, known once the probes arrived
        self.worker: int | None = None  # the process running the learner's code (PID 1 inside)
        self.pid = 0  # the runner

    def serve(self) -> bool:
        """Run the job; True when everything it left behind is gone."""
        started = time.monotonic()
        if not self.isolated:
            os.makedirs(os.path.join(self.folder, "home"), mode=0o700)
        scratch = os.environ.get("GRADER_SCRATCH", "/tmp")
        output_path = os.path.join(scratch, f".output-{os.getpid()}")
        self.output_fd = os.open(output_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(output_path)  # only the runner's stdout/stderr and our descriptor reach it
        events_r, events_w = os.pipe()
        handover_r, handover_w = os.pipe()
        rss_baseline, vm_baseline = _proportional_memory(os.getpid()), _memory_of(os.getpid())[1]
        pid = self.pid = os.fork()
        if pid == 0:
            self._runner(events_w, handover_r, vm_baseline)
        os.close(events_w)
        os.close(handover_r)
        try:
            self._watch(pid, events_r, handover_w, rss_baseline, started)
        finally:
            exit_code = self._reap(pid)
            os.close(events_r)
            _close_quietly(handover_w)
        # without namespaces in the sandbox, nothing guarantees that all is gone: a new sandbox
        clean = self._clean() and self.isolated == self.sandboxed
        self._finish(exit_code, time.monotonic() - started, clean)
        os.close(self.output_fd)
        return clean

    # --- the runner ---------------------------------------------------------------------------

    def _runner(self, events: int, handover: int, vm_baseline: int) -> None:
        """The forked child: namespaces (in the sandbox), then the learner's process."""
        try:
            os.setsid()
            keep = (events, handover, self.output_fd)
            for fd in _open_fds():
                if fd > 2 and fd not in keep:
                    _close_quietly(fd)
            if self.isolated:
                _enter_namespaces(self.limits["scratch_bytes"])
                worker = os.fork()  # PID 1 of the new PID namespace
                if worker != 0:  # this process only waits, holding nothing of the job
                    for fd in keep:
                        _close_quietly(fd)
                    _, status = os.waitpid(worker, 0)
                    code = os.waitstatus_to_exitcode(status)
                    os._exit(code if code >= 0 else 128 - code)
                LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                os.setsid()  # a group of its own: kill(0, ...) cannot reach its parent outside
                _hide_outer_processes()
                _drop_capabilities()
            LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # let the supervisor read its memory use
            self._learner(events, handover, vm_baseline)
        except BaseException:  # noqa: BLE001 - anything: report on the (captured) stderr, exit
            try:
                import traceback

                os.dup2(self.output_fd, 2)
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(70)

    def _learner(self, events: int, handover: int, vm_baseline: int) -> None:
        os.dup2(self.output_fd, 1)
        os.dup2(self.output_fd, 2)
        os.close(self.output_fd)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        limits = self.limits
        _first_to_go_when_out_of_memory()
        # a backstop even under a cgroup: one allocation far past the limit fails at once with a
        # MemoryError in its cell (the rest of the notebook is still graded) instead of the
        # kernel stopping the whole submission while it fills the memory
        _limit(resource.RLIMIT_AS, vm_baseline + limits["memory_bytes"] + VIRTUAL_MARGIN)
        _limit(resource.RLIMIT_FSIZE, limits["output_bytes"])
        _limit(resource.RLIMIT_NPROC, limits["processes"])
        _limit(resource.RLIMIT_NOFILE, 256)
        _limit(resource.RLIMIT_CORE, 0)
        home = os.path.join(self.folder, "home")
        os.makedirs(home, mode=0o700, exist_ok=True)
        os.chdir(self.folder)
        os.environ["HOME"] = home
        sys.stdin = open(os.devnull)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
        from autograder.sandbox import harness

        harness.run(self.job["cells"], events, handover, self.shell)
        sys.stdout.flush()
        os._exit(0)

    # --- watching ---------------------------------------------------------------------------

    def _watch(self, pid, events, handover, rss_baseline, started) -> None:
        reader = FrameReader(self.limits["result_bytes"])
        total_deadline = started + self.limits["submission_timeout"]
        phase_deadline = kill_at = phase_started = None
        interrupted = False
        watched = self.limits.get("memory_by") != "cgroup"
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
                    self.output = _read_head(self.output_fd, OUTPUT_SHOWN)
                    self.handed_over = True
                    write_frame(self.outbound, {"event": "cells_done"})
                    self.hand_over = threading.Thread(target=self._hand_over, args=(handover,),
                                                      daemon=True)
                    self.hand_over.start()
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
                _signal(self._worker(pid), signal.SIGINT)
            if (kill_at is not None and now > kill_at) or now > total_deadline:
                self._kill(pid)
                self.status = "timeout"
                return
            if watched and self._resident_memory(pid) > memory_limit:
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
            if (header.get("event") == "exercise" and self.handed_over
                    and header.get("name") in self.timeouts):
                write_frame(self.outbound, header, payload)
            elif header.get("event") == "finished":
                self.events["finished"] = True
        reader.frames.clear()

    def _hand_over(self, handover: int) -> None:
        """Read the probes and their inputs, which the launcher sends once it has heard
        ``cells_done``, and give them to the child (a thread: the child may never read). The frame
        is always read whole, even when the child has gone, so that the next job starts at a frame
        boundary."""
        header, payload = read_frame(self.inbound, MAX_JOB)
        self.timeouts = {e["name"]: e.get("timeout") for e in header.get("exercises", [])}
        try:
            write_frame(handover, header, payload)
        except OSError:
            pass

    def _worker(self, pid: int) -> int:
        """The process running the learner's code: the runner's only child (PID 1 inside its
        namespace) when isolated, else the runner itself. Found from /proc, not from anything
        the child says."""
        if not self.isolated:
            return pid
        if self.worker is None:
            for member in _pids():
                if _parent_of(member) == pid:
                    self.worker = member
                    break
        return self.worker or pid

    def _resident_memory(self, pid: int) -> int:
        return sum(_proportional_memory(member) for member in self._members(pid))

    def _members(self, pid: int) -> list[int]:
        """Every process of this submission: in the sandbox, all but its init, the zygote and
        us; else the processes of the child's session."""
        if self.sandboxed:
            return [p for p in _pids() if p not in (1, os.getppid(), os.getpid())]
        return [p for p in _pids() if _session_of(p) == pid]

    def _kill(self, pid: int) -> None:
        for member in {self._worker(pid), pid} | set(self._members(pid)):
            _signal(member, signal.SIGKILL)

    def _reap(self, pid: int) -> int | None:
        self._kill(pid)
        if self.exit_status is None:
            _, status = os.waitpid(pid, 0)
            self.exit_status = os.waitstatus_to_exitcode(status)
        return self.exit_status

    # --- the record -------------------------------------------------------------------------

    def _finish(self, exit_code: int | None, seconds: float, clean: bool) -> None:
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
            self.output = _read_head(self.output_fd, OUTPUT_SHOWN)
        write_frame(self.outbound, {
            "event": "done", "status": self.status, "exit_code": exit_code, "cells": self.cells,
            "output": self.output, "seconds": round(seconds, 3), "clean": clean,
        })

    def _clean(self) -> bool:
        """Make sure nothing of the submission is left; False when something is.

        Isolated, killing the runner's PID 1 made the kernel kill its whole namespace and its
        /tmp and /dev/shm went with it: only wait until every process is gone. Else kill the
        session's leftovers and wipe the folder."""
        deadline = time.monotonic() + CLEANUP_SECONDS
        while True:
            left = [p for p in self._members(self.pid) if _state_of(p) not in ("Z", "X", None)]
            for member in left:
                _signal(member, signal.SIGKILL)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if self.hand_over is not None:
            self.hand_over.join(CLEANUP_SECONDS)
        clean = not left and not (self.hand_over and self.hand_over.is_alive())
        if not self.isolated:
            try:
                _wipe(self.folder, keep_root=False)
                if self.sandboxed:
                    _wipe("/dev/shm", keep_root=True)
            except (OSError, RecursionError):  # a tree too deep for rmtree: checked below
                pass
            clean = clean and not os.path.exists(self.folder)
            clean = clean and not (self.sandboxed and os.listdir("/dev/shm"))
        return clean


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _first_to_go_when_out_of_memory() -> None:
    """Make the kernel's out-of-memory killer choose the learner's processes (and the ones they
    start) before the zygote or the supervisor, whatever their sizes: the highest
    ``oom_score_adj``, which any process may raise for itself. Lowering it again cannot go below
    the grader's processes' value, so a submission can at most make the sandbox restart: its
    own run is then out of memory all the same."""
    try:
        with open("/proc/self/oom_score_adj", "w") as file:
            file.write("1000")
    except OSError:
        pass


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
    (the learner's processes are dumpable, so the supervisor may read this; it is not the other
    way round)."""
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


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


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


def _read_head(fd: int, size: int) -> str:
    try:
        data = os.pread(fd, size + 1, 0)
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
