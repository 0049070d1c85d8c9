"""Trusted side of the sandbox: start a zygote (in bubblewrap, or bare) and run jobs through it.

``Sandbox`` owns one zygote process for one Keras backend. ``run`` sends it a job in two steps:
first the rebuilt cells alone; then, only once the zygote reports that the cells have finished
(``cells_done``), the probes and their hidden inputs. It collects what comes back: the exercises'
output arrays and a ``done`` record. A ``done`` that says the job could not be cleaned up
(``clean``: false) closes the sandbox, so the next submission gets a new one (see ``zygote`` for
the per-submission namespaces). The per-submission wall-time cap is enforced here too, from
outside the sandbox, by killing the whole bubblewrap process tree.

What the bubblewrap sandbox sees (everything else of the machine is absent, not just unreadable):

- read-only: the system (``/usr``, ``/lib*``, ``/bin``, ``/sbin``, a few ``/etc`` files), the
  Python installation and the virtual environment, the course library at
  ``/opt/grader/llm_keras`` (the installed ``llm_keras``, or the ``library`` folder given, which
  lacks the pieces an assignment grades) and the in-sandbox part of the grader
  (``autograder/__init__.py`` and ``autograder/sandbox/``), and public course data when one is
  given;
- a private ``/tmp`` (tmpfs of limited size) as the only writable place, a private ``/proc`` and
  a minimal ``/dev``;
- no network (a new, empty network namespace), new pid, IPC and UTS namespaces, an
  unprivileged uid with no capabilities, a new session (no terminal injection), and a scrubbed
  environment. As root, bwrap runs privileged and the zygote switches, before importing
  anything, to a uid that no other sandbox on this machine holds: 61000 and up, each claimed by
  an exclusive lock on ``/run/lock/llm-course-sandbox/<uid>.lock`` (or under the temporary
  folder) held until ``close``, so two graders never share one and a fork bomb in one batch
  cannot starve another's processes. Not as root, a user namespace maps nobody inside to the
  grader's own uid (then all sandboxes share it: the process limit is counted per user
  namespace, and each submission has its own).

Not mounted, hence unreadable: ``solutions/``, the hidden probes, the gradebook, the course
secret, the records, other submissions and the rest of the repository.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from autograder.sandbox.memory_cgroup import MemoryCgroup, find_hierarchy
from autograder.sandbox.protocol import FrameReader, ProtocolError, encode_frame

NOBODY = 65534
FIRST_UID, UID_COUNT = 61000, 4000  # as root, each sandbox claims its own unused uid
UID_LOCKS = ("/run/lock/llm-course-sandbox", os.path.join(tempfile.gettempdir(), "llm-course-sandbox"))
READY_TIMEOUT = 180.0
GRADER_PACKAGE = Path(__file__).resolve().parent.parent
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/passwd", "/etc/group",
             "/etc/nsswitch.conf", "/etc/localtime", "/etc/hosts")


class SandboxUnavailable(ValueError):
    """No sandbox can be made on this machine (and ``--no-sandbox`` was not given).

    A ``ValueError`` so that the command line prints it as one sentence, like other errors an
    instructor can fix."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use. Sizes in bytes, times in seconds."""

    cell_timeout: float = 30.0
    submission_timeout: float = 300.0
    memory_bytes: int = 2 << 30
    output_bytes: int = 8 << 20
    result_bytes: int = 64 << 20
    processes: int = 256
    scratch_bytes: int = 512 << 20

    def for_job(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class SandboxRun:
    """What came back from one job: a status, the cell records and each exercise's data."""

    status: str  # finished | timeout | died | out_of_memory | sandbox_error
    cells: list = dataclasses.field(default_factory=list)
    exercises: dict = dataclasses.field(default_factory=dict)  # name -> (header, npz bytes)
    output: str = ""
    seconds: float = 0.0
    message: str = ""  # a plain sentence for the learner when the run did not finish normally


@cache
def bubblewrap_problem() -> str | None:
    """None when bubblewrap can make a sandbox here, else a sentence saying why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("bubblewrap is not installed (Debian/Ubuntu: `sudo apt-get install bubblewrap`, "
                "which scripts/install does)")
    probe = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--uid", str(NOBODY), "--gid",
             str(NOBODY), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "true"]
    result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return (f"bubblewrap cannot create namespaces here ({result.stderr.strip()}); enable "
                "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or "
                "run the grader as root")
    return None


def python_under_tmp() -> str | None:
    """A sentence when the grader's Python (its virtual environment or installation) is under
    /tmp, else None. The sandbox sees Python at its own path, and every submission gets a fresh,
    empty /tmp of its own: everything under /tmp, Python included, would vanish for the learner's
    code (a module imported late, IPython's ``stack_data`` when a cell raises, is then missing)."""
    for prefix in sorted({sys.prefix, sys.base_prefix}):
        real = os.path.realpath(prefix)
        if real == "/tmp" or real.startswith("/tmp/"):
            return (f"the grader's Python is under /tmp ({prefix}), which every submission's "
                    "sandbox replaces with an empty folder of its own: install the course (its "
                    "virtual environment) outside /tmp, e.g. in your home folder")
    return None


def claim_uid() -> tuple[int, int]:
    """(uid, lock file descriptor): the first sandbox uid that no process on this machine holds.

    A uid is held by an exclusive ``flock`` on its lock file for as long as the descriptor stays
    open (``release_uid``); the kernel drops it when the holder dies, so a crashed grader frees its
    uids."""
    folder = _lock_folder()
    for uid in range(FIRST_UID, FIRST_UID + UID_COUNT):
        fd = os.open(os.path.join(folder, f"{uid}.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid, fd
    raise SandboxUnavailable(f"all {UID_COUNT} sandbox uids from {FIRST_UID} are in use (lock "
                             f"files in {folder}): close other graders or lower --workers")


def release_uid(fd: int) -> None:
    os.close(fd)  # closing the only descriptor of the open file releases its lock


def _lock_folder() -> str:
    """The first of ``UID_LOCKS`` that is (or can be made) a real folder owned by us."""
    for folder in UID_LOCKS:
        try:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            info = os.lstat(folder)
        except OSError:
            continue
        if os.path.isdir(folder) and not os.path.islink(folder) and info.st_uid == os.geteuid():
            return folder
    raise SandboxUnavailable(f"no folder for the sandbox uid locks: make one of {UID_LOCKS} "
                             "a folder owned by the grader's user")


def backend_env(backend: str) -> dict:
    """The whole environment of the sandboxed process: nothing from the grader's leaks in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "KERAS_BACKEND": backend,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        "JAX_PLATFORMS": "cpu",
        "CUDA_VISIBLE_DEVICES": "",
        "MPLBACKEND": "Agg",
    }


class Sandbox:
    """One zygote for one backend. ``start`` (pays the framework import), ``run``, ``close``."""

    def __init__(self, backend: str, limits: Limits, sandboxed: bool = True,
                 public_data: Path | None = None, library: Path | None = None,
                 memory_cgroup: bool = True):
        """``library``: the folder given to the learner's code as ``llm_keras`` (read-only), or
        None for the installed ``llm_keras``. ``memory_cgroup``: limit memory with a cgroup of
        the sandbox's own where the machine allows one (``memory_cgroup``); False keeps the
        zygote's watchdog and address-space limit, as on machines without one."""
        self.backend, self.limits, self.sandboxed = backend, limits, sandboxed
        self.public_data, self.library = public_data, library
        self.use_memory_cgroup = memory_cgroup
        self.memory: MemoryCgroup | None = None  # the sandbox's cgroup, while it runs
        self.process: subprocess.Popen | None = None
        self.uid: int | None = None
        self._uid_lock: int | None = None
        self.isolated = False
        self.versions: dict = {}
        self._scratch: str | None = None  # the zygote's folder without the sandbox
        self._stderr = None
        self._reader = FrameReader(limits.result_bytes)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        env = backend_env(self.backend)
        if self.sandboxed:
            if problem := python_under_tmp() or bubblewrap_problem():
                raise SandboxUnavailable(problem)
            command = self._bwrap_command(env)
            env = {}
            hierarchy, _ = find_hierarchy() if self.use_memory_cgroup else (None, "")
            if hierarchy is not None:
                self.memory = MemoryCgroup(hierarchy)
                command = self.memory.command(command)
        else:
            self._scratch = tempfile.mkdtemp(prefix="llm-course-grade-")
            path = [str(GRADER_PACKAGE.parent)]
            if self.library is not None:  # a folder holding only ``llm_keras``, first on the path
                shadow = os.path.join(self._scratch, "library")
                os.makedirs(shadow)
                os.symlink(os.path.abspath(self.library), os.path.join(shadow, "llm_keras"))
                path.insert(0, shadow)
            env.update(PYTHONPATH=os.pathsep.join(path), HOME=self._scratch,
                       KERAS_HOME=os.path.join(self._scratch, "keras"), GRADER_SCRATCH=self._scratch)
            command = [sys.executable, "-m", "autograder.sandbox.zygote"]
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, cwd=self._scratch or "/", start_new_session=True,
        )
        self._reader = FrameReader(self.limits.result_bytes)
        header, _ = self._read(time.monotonic() + READY_TIMEOUT)
        if header is None or header.get("event") != "ready":
            raise SandboxUnavailable(f"the {self.backend} sandbox did not start: {self._errors()}")
        self.versions = header.get("versions", {})
        self.isolated = bool(header.get("isolated"))
        if self.memory is not None:
            # the zygote serves one submission at a time: what it holds now + one submission
            self.memory.limit(self.memory.held() + self.limits.memory_bytes)

    def close(self) -> None:
        if self.process is not None:
            _kill_tree(self.process)
            self.process = None
        if self.memory is not None:
            self.memory.remove()
            self.memory = None
        if self._scratch is not None:
            _remove_tree(self._scratch)
            self._scratch = None
        if self._uid_lock is not None:
            release_uid(self._uid_lock)
            self._uid_lock = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- jobs -------------------------------------------------------------------------------

    def run(self, cells: list, exercises: list, inputs_payload: bytes) -> SandboxRun:
        """Grade one submission; the sandbox is restarted by the caller when it did not survive.

        ``exercises``: per exercise its ``name``, probe ``source``, ``timeout`` and the
        ``inputs`` (start, size) of its ``.npz`` in ``inputs_payload``. They are sent only when
        the zygote says the cells have finished."""
        # the zygote's own memory limits (watchdog, address space) only where no cgroup holds
        job = {"cells": cells, "limits": dict(self.limits.for_job(),
                                              memory_by="cgroup" if self.memory else "watchdog")}
        oom_kills, killed_by_kernel = self._oom_kills(), False
        deadline = time.monotonic() + self.limits.submission_timeout + 15
        try:
            self.process.stdin.write(encode_frame(job))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return SandboxRun("sandbox_error", message=f"the sandbox had stopped: {self._errors()}")
        run = SandboxRun("died")
        names = {exercise["name"] for exercise in exercises}
        probes = {"exercises": [{key: e.get(key) for key in ("name", "source", "timeout", "inputs")}
                                for e in exercises]}
        sender = None
        while True:
            header, payload = self._read(deadline)
            if header is None:
                killed_by_kernel = self._oom_kills() > oom_kills
                self.close()
                if time.monotonic() >= deadline:
                    run.status = "timeout"
                break
            if header.get("event") == "cells_done" and sender is None:
                # a thread: the probes may be larger than the pipe, and the zygote may be
                # reporting a timeout meanwhile
                sender = threading.Thread(target=_send, daemon=True, args=(
                    self.process.stdin, encode_frame(probes, inputs_payload)))
                sender.start()
            elif header.get("event") == "exercise" and header.get("name") in names:
                run.exercises[header["name"]] = (header, payload)
            elif header.get("event") == "done":
                run.status = str(header.get("status"))
                run.cells = header.get("cells") or []
                run.output = str(header.get("output") or "")
                run.seconds = float(header.get("seconds") or 0.0)
                killed_by_kernel = self._oom_kills() > oom_kills
                if header.get("clean") is not True:
                    self.close()  # something of this submission may be left: a new sandbox next
                break
        if sender is not None:
            sender.join(READY_TIMEOUT)
        if killed_by_kernel:
            run.status = "out_of_memory"  # the kernel stopped a process of this submission
        if run.status == "out_of_memory":
            run.message = (f"Your code needed more than the {self.limits.memory_bytes >> 20} MiB "
                           "of memory a submission may use.")
        return run

    def _oom_kills(self) -> int:
        """The kernel's out-of-memory kills in this sandbox's cgroup so far (0 without one)."""
        try:
            return self.memory.oom_kills() if self.memory is not None else 0
        except OSError:
            return 0

    def _read(self, deadline: float):
        """Next frame from the zygote, or (None, b"") on end of stream, garbage or deadline."""
        stream = self.process.stdout.fileno()
        while not self._reader.frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, b""
            ready, _, _ = select.select([stream], [], [], min(remaining, 1.0))
            if not ready:
                continue
            chunk = os.read(stream, 1 << 16)
            if not chunk:
                return None, b""
            try:
                self._reader.feed(chunk)
            except ProtocolError:
                return None, b""
        return self._reader.frames.pop(0)

    def _errors(self) -> str:
        if self._stderr is None:
            return "(no output)"
        self._stderr.seek(0)
        text = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        return text or "(no output)"

    # --- bubblewrap -------------------------------------------------------------------------

    def _bwrap_command(self, env: dict) -> list[str]:
        args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "grader",
                "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(self.limits.scratch_bytes), "--tmpfs", "/tmp"]
        if os.geteuid() == 0:
            # As root, a user namespace would map "nobody" inside to root outside (so root's
            # files and process limits would apply). Instead the zygote itself becomes the uid
            # claimed for this sandbox before it imports anything, keeping no capability.
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            if self._uid_lock is None:
                self.uid, self._uid_lock = claim_uid()
            drop = ["--become", str(self.uid)]
        else:
            args += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
            self.uid = NOBODY
            drop = []
        for folder in SYSTEM_DIRS:
            if os.path.exists(folder):
                args += ["--ro-bind", folder, folder]
        for file in ETC_FILES:
            if os.path.exists(file):
                args += ["--ro-bind", file, file]
        code = "/opt/grader"
        prefixes = sorted({sys.base_prefix, sys.prefix})
        # bwrap (as root) makes missing mount points 0700: make them traversable for nobody
        for folder in sorted({p for path in [*prefixes, f"{code}/autograder", "/data"]
                              for p in _ancestors(path)}):
            args += ["--perms", "0755", "--dir", folder]
        for prefix in prefixes:
            args += ["--ro-bind", prefix, prefix]
        args += ["--ro-bind", str(GRADER_PACKAGE / "__init__.py"), f"{code}/autograder/__init__.py",
                 "--ro-bind", str(GRADER_PACKAGE / "sandbox"), f"{code}/autograder/sandbox"]
        library = self.library if self.library is not None else _installed_library()
        if library is not None:
            args += ["--ro-bind", str(library), f"{code}/llm_keras"]
        env = dict(env, PYTHONPATH=code, HOME="/tmp/home", KERAS_HOME="/tmp/keras",
                   GRADER_SCRATCH="/tmp")
        if self.public_data is not None:
            args += ["--ro-bind", str(self.public_data), "/data"]
            env["LLM_KERAS_DATA"] = "/data"
        # the root is bwrap's own tmpfs, holding the mount points: make it read-only too, so
        # that nothing can be planted there for the next submission
        args += ["--remount-ro", "/", "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        python = os.path.join(sys.prefix, "bin", "python")
        return args + ["--chdir", "/tmp", "--", python, "-m", "autograder.sandbox.zygote",
                       "--sandboxed", *drop]


def _installed_library() -> str | None:
    spec = find_spec("llm_keras")
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _remove_tree(folder: str) -> None:
    """Remove a folder whatever a submission made of it (``rm`` walks trees of any depth)."""
    subprocess.run(["chmod", "-R", "u+rwx", "--", folder], capture_output=True)
    subprocess.run(["rm", "-rf", "--", folder], capture_output=True)


def _send(stream, frame: bytes) -> None:
    try:
        stream.write(frame)
        stream.flush()
    except (OSError, ValueError):  # the sandbox was closed meanwhile
        pass


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b", "/a/b/c"]``, less the system folders bound as they are."""
    parts = Path(path).parts[1:]
    folders = ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
    return [f for f in folders if not any(f == s or f.startswith(s + "/") for s in SYSTEM_DIRS)]


def _kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the sandbox's whole process group (bwrap, the zygote, the child, its children)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
