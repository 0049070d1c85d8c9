"""Trusted side of the sandbox: start a zygote (in bubblewrap, or bare) and run jobs through it.

``Sandbox`` owns one zygote process for one Keras backend. ``run`` sends it a job (the rebuilt
cells, the probes and their inputs) and collects what comes back: the exercises' output arrays
and a ``done`` record. The per-submission wall-time cap is enforced here too, from outside the
sandbox, by killing the whole bubblewrap process tree.

What the bubblewrap sandbox sees (everything else of the machine is absent, not just unreadable):

- read-only: the system (``/usr``, ``/lib*``, ``/bin``, ``/sbin``, a few ``/etc`` files), the
  Python installation and the virtual environment, ``llm_keras`` and the in-sandbox part of the
  grader (``autograder/__init__.py`` and ``autograder/sandbox/``), and public course data when
  one is given;
- a private ``/tmp`` (tmpfs of limited size) as the only writable place, a private ``/proc`` and
  a minimal ``/dev``;
- no network (a new, empty network namespace), new pid, IPC and UTS namespaces, an
  unprivileged uid with no capabilities (as root, bwrap runs privileged and the zygote switches
  to an unused uid of its own, 61000 and up, before importing anything, so that its process
  limit counts its own processes only; otherwise a user namespace maps nobody inside), a
  new session (no terminal injection), and a scrubbed environment.

Not mounted, hence unreadable: ``solutions/``, the hidden probes, the gradebook, the course
secret, the records, other submissions and the rest of the repository.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from autograder.sandbox.protocol import FrameReader, ProtocolError, encode_frame

NOBODY = 65534
FIRST_UID = 61000  # as root, each sandbox gets its own unused uid: its process limit is its own
_uids = itertools.count()
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
    message: str = ""


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
                 public_data: Path | None = None):
        self.backend, self.limits, self.sandboxed = backend, limits, sandboxed
        self.public_data = public_data
        self.process: subprocess.Popen | None = None
        self.uid: int | None = None
        self.versions: dict = {}
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._stderr = None
        self._reader = FrameReader(limits.result_bytes)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        env = backend_env(self.backend)
        if self.sandboxed:
            if problem := bubblewrap_problem():
                raise SandboxUnavailable(problem)
            command = self._bwrap_command(env)
            env = {}
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="llm-course-grade-")
            env.update(PYTHONPATH=str(GRADER_PACKAGE.parent), HOME=self._scratch.name,
                       KERAS_HOME=os.path.join(self._scratch.name, "keras"),
                       GRADER_SCRATCH=self._scratch.name)
            command = [sys.executable, "-m", "autograder.sandbox.zygote"]
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, cwd=self._scratch.name if self._scratch else "/", start_new_session=True,
        )
        self._reader = FrameReader(self.limits.result_bytes)
        header, _ = self._read(time.monotonic() + READY_TIMEOUT)
        if header is None or header.get("event") != "ready":
            raise SandboxUnavailable(f"the {self.backend} sandbox did not start: {self._errors()}")
        self.versions = header.get("versions", {})

    def close(self) -> None:
        if self.process is not None:
            _kill_tree(self.process)
            self.process = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- jobs -------------------------------------------------------------------------------

    def run(self, cells: list, exercises: list, inputs_payload: bytes) -> SandboxRun:
        """Grade one submission; the sandbox is restarted by the caller when it did not survive."""
        job = {"cells": cells, "exercises": exercises, "limits": self.limits.for_job()}
        deadline = time.monotonic() + self.limits.submission_timeout + 15
        try:
            self.process.stdin.write(encode_frame(job, inputs_payload))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return SandboxRun("sandbox_error", message=f"the sandbox had stopped: {self._errors()}")
        run = SandboxRun("died")
        names = {exercise["name"] for exercise in exercises}
        while True:
            header, payload = self._read(deadline)
            if header is None:
                self.close()
                if time.monotonic() >= deadline:
                    run.status = "timeout"
                return run
            if header.get("event") == "exercise" and header.get("name") in names:
                run.exercises[header["name"]] = (header, payload)
            elif header.get("event") == "done":
                run.status = str(header.get("status"))
                run.cells = header.get("cells") or []
                run.output = str(header.get("output") or "")
                run.seconds = float(header.get("seconds") or 0.0)
                return run

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
            # files and process limits would apply). Instead the zygote itself becomes the real
            # uid 65534 before it imports anything, keeping no capability.
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            self.uid = FIRST_UID + next(_uids) % 4000
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
        library = find_spec("llm_keras")
        if library is not None and library.submodule_search_locations:
            folder = list(library.submodule_search_locations)[0]
            args += ["--ro-bind", folder, f"{code}/llm_keras"]
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
