"""A memory limit the kernel enforces: one memory cgroup per sandbox, where the grader may make one.

The grader's own cgroup (read from ``/proc/self/cgroup``, located through
``/proc/self/mountinfo``) gets one child per sandbox, ``llm-course-sandbox-<pid>-<n>``. The
sandbox's first process enters it before it starts anything (a shell writes its own pid into the
child's ``cgroup.procs`` and then becomes bubblewrap), so bubblewrap, the zygote and every process
of every submission are inside; none can leave (moving a process needs write access to a cgroup
folder, which the sandbox does not even see). Once the zygote is ready, the limit is set to what
the sandbox then holds (less the cache of the files it read) plus the per-submission limit. The zygote serves one submission at a time,
so that is one submission's memory, all of it: every process, and the files it writes to its
``/tmp`` and ``/dev/shm`` (memory too). Past the limit the kernel's out-of-memory killer stops the
largest process, the submission's, and counts it (``oom_kill``); the launcher reads that count
to record the run as ``out_of_memory``. Swap is limited to nothing beyond the limit.

Which hierarchy (``find_hierarchy``):

- cgroup v2 (the unified hierarchy), when ``memory`` is in the grader's cgroup's
  ``cgroup.subtree_control``, that is when the administrator delegated the controller to the
  grader's sub-tree (systemd: ``Delegate=yes``; the grader's own processes then live in a leaf
  below it): ``memory.max``, ``memory.swap.max``, ``memory.events``;
- cgroup v1, when the memory controller has its own hierarchy and the grader may make folders in
  its cgroup there (as root in a container, typically): ``memory.limit_in_bytes``,
  ``memory.memsw.limit_in_bytes`` (when swap is accounted), ``memory.oom_control``.

Where neither works, the zygote's own limits stay the only ones (a watchdog on the proportional
memory of the submission's processes and an address-space limit with a margin); ``find_hierarchy``
then says why, in a sentence the grader prints.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from functools import cache
from pathlib import Path

PREFIX = "llm-course-sandbox-"
LIMIT_FILE = {1: "memory.limit_in_bytes", 2: "memory.max"}
SWAP_FILE = {1: "memory.memsw.limit_in_bytes", 2: "memory.swap.max"}
USAGE_FILE = {1: "memory.usage_in_bytes", 2: "memory.current"}
EVENTS_FILE = {1: "memory.oom_control", 2: "memory.events"}
REMOVE_SECONDS = 10.0
_numbers = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class Hierarchy:
    """The grader's own cgroup in a hierarchy that has the memory controller."""

    version: int  # 1 or 2
    folder: Path

    def describe(self) -> str:
        return f"cgroup v{self.version} memory controller, {self.folder}"


def own_cgroups(proc_cgroup: str, mountinfo: str) -> list[Hierarchy]:
    """The folders of this process's cgroups that have the memory controller, v2 first.

    ``proc_cgroup``: the text of ``/proc/self/cgroup`` (``0::/path`` for v2,
    ``N:memory:/path`` for v1); ``mountinfo``: the text of ``/proc/self/mountinfo``. A cgroup
    path is relative to its hierarchy's root; a mount may show a sub-tree of it only (its root
    field), as in containers."""
    mounts = []  # (root inside the hierarchy, mount point, file system type, super options)
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            mounts.append((_unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2].split(",")))
    found = {1: [], 2: []}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        number, controllers, path = parts
        version = 2 if number == "0" and controllers == "" else 1
        if version == 1 and "memory" not in controllers.split(","):
            continue
        for root, point, kind, options in mounts:
            if kind != ("cgroup2" if version == 2 else "cgroup"):
                continue
            if version == 1 and "memory" not in options:
                continue
            folder = _inside(root, point, path)
            if folder is not None:
                found[version].append(Hierarchy(version, folder))
    return found[2] + found[1]


@cache
def find_hierarchy() -> tuple[Hierarchy | None, str]:
    """(hierarchy, "") when a per-sandbox memory cgroup can be made here, else (None, why not).

    Each candidate is tried for real: a child folder is made, given a limit and removed."""
    try:
        candidates = own_cgroups(Path("/proc/self/cgroup").read_text(),
                                 Path("/proc/self/mountinfo").read_text())
    except OSError as error:
        return None, f"cannot read this process's cgroups ({error})"
    if not candidates:
        return None, "no cgroup hierarchy here has the memory controller"
    reasons = []
    for hierarchy in candidates:
        reason = _usable(hierarchy)
        if reason is None:
            _remove_stale(hierarchy.folder)
            return hierarchy, ""
        reasons.append(f"v{hierarchy.version} at {hierarchy.folder}: {reason}")
    return None, "; ".join(reasons)


class MemoryCgroup:
    """One sandbox's cgroup: ``command`` puts the sandbox in it, ``limit`` sets the limit,
    ``oom_kills`` counts the kernel's kills in it, ``remove`` deletes it."""

    def __init__(self, hierarchy: Hierarchy):
        self.version = hierarchy.version
        self.folder = hierarchy.folder / f"{PREFIX}{os.getpid()}-{next(_numbers)}"
        self.folder.mkdir(mode=0o755)
        self.limit_bytes: int | None = None

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the cgroup from its first instruction: a shell enters it, then
        becomes ``argv`` (same pid, so nothing runs outside in between)."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                str(self.folder / "cgroup.procs"), *argv]

    def usage(self) -> int:
        return int(self._read(USAGE_FILE[self.version]))

    def held(self) -> int:
        """Memory the processes hold, less the cache of files read (the libraries the zygote
        imported): the kernel gives that back under pressure before it stops anyone, so counting
        it in the baseline would let a submission use more than its limit."""
        stat = dict(line.split() for line in self._read("memory.stat").splitlines()
                    if line.count(" ") == 1)
        prefix = "total_" if self.version == 1 else ""  # v1: the sub-tree's totals
        cache = sum(int(stat.get(prefix + name, 0)) for name in ("inactive_file", "active_file"))
        return max(0, self.usage() - cache)

    def limit(self, nbytes: int) -> None:
        """At most ``nbytes`` of memory, and no swap beyond it."""
        self._write(LIMIT_FILE[self.version], str(nbytes))
        swap = self.folder / SWAP_FILE[self.version]
        if swap.exists():  # absent when the kernel does not account swap
            # v1 counts memory + swap in one limit (>= the memory limit); v2 counts swap alone
            self._write(SWAP_FILE[self.version], str(nbytes) if self.version == 1 else "0")
        self.limit_bytes = nbytes

    def oom_kills(self) -> int:
        """How many processes the kernel's out-of-memory killer has stopped in this cgroup."""
        for line in self._read(EVENTS_FILE[self.version]).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> bool:
        """Delete the cgroup once its processes are gone (the caller killed them); True when
        it is gone. Memory still charged to it (page cache) moves to the parent."""
        deadline = time.monotonic() + REMOVE_SECONDS
        while True:
            try:
                self.folder.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:  # EBUSY: a killed process not yet reaped
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)

    def _read(self, name: str) -> str:
        return (self.folder / name).read_text()

    def _write(self, name: str, text: str) -> None:
        with open(self.folder / name, "w") as file:
            file.write(text)


def _usable(hierarchy: Hierarchy) -> str | None:
    """None when a child cgroup with a memory limit can be made under ``hierarchy``."""
    folder = hierarchy.folder
    if hierarchy.version == 2:
        try:
            delegated = "memory" in (folder / "cgroup.subtree_control").read_text().split()
        except OSError as error:
            return f"cannot read cgroup.subtree_control ({error.strerror})"
        if not delegated:
            return ("the memory controller is not delegated to the grader's cgroup (not in its "
                    "cgroup.subtree_control)")
    try:
        probe = MemoryCgroup(hierarchy)
    except OSError as error:
        return f"cannot make a cgroup there ({error.strerror})"
    try:
        if not (probe.folder / LIMIT_FILE[hierarchy.version]).exists():
            return f"a new cgroup has no {LIMIT_FILE[hierarchy.version]}"
        probe.limit(1 << 40)
        probe.oom_kills()
        return None
    except (OSError, ValueError) as error:
        return f"cannot set a memory limit ({error})"
    finally:
        probe.remove()


def _remove_stale(folder: Path) -> None:
    """Remove the empty cgroups that graders which have since died left behind (a grader killed
    with SIGKILL cannot remove its own); a live grader's are left alone."""
    for child in folder.glob(PREFIX + "*"):
        owner = child.name[len(PREFIX):].split("-")[0]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            try:
                child.rmdir()
            except OSError:
                pass


def _inside(root: str, point: str, path: str) -> Path | None:
    """The folder of cgroup ``path`` under a mount at ``point`` showing the hierarchy from
    ``root``; None when the mount does not show it."""
    if root == "/":
        return Path(point + path.rstrip("/")) if path != "/" else Path(point)
    if path == root or path.startswith(root.rstrip("/") + "/"):
        return Path(point + path[len(root.rstrip("/")):])
    return None


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text
