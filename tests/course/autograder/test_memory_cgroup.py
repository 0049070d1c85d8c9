"""The kernel's memory limit: one memory cgroup per sandbox, where the machine lets the grader
make one (autograder/sandbox/memory_cgroup.py). Without one, test_sandbox.py tests the fallback
(the zygote's watchdog and address-space limit)."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from autograder.sandbox.launcher import Limits, Sandbox
from autograder.sandbox.memory_cgroup import Hierarchy, find_hierarchy, own_cgroups

MiB = 1 << 20
LIMITS = Limits(cell_timeout=60, submission_timeout=120, memory_bytes=512 * MiB,
                output_bytes=1 << 20, processes=64)

V1_HOST = """\
9:name=systemd:/
4:memory:/process_api/9ab8
3:cpuset:/
0::/
"""
V1_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_own_cgroups_finds_the_memory_folder_in_each_layout():
    # cgroup v1, the whole hierarchy mounted (this kind of machine); v2's line has no memory
    # controller to offer but is listed first: find_hierarchy tries it and reads why not
    assert own_cgroups(V1_HOST, V1_MOUNTS) == [
        Hierarchy(2, Path("/sys/fs/cgroup/unified")),
        Hierarchy(1, Path("/sys/fs/cgroup/memory/process_api/9ab8"))]
    # a container's v1 mount shows only its own sub-tree (root field = its cgroup path), and
    # memory shares a hierarchy with another controller
    container = "5:cpu,memory:/docker/abc/grader\n"
    mounts = ("40 31 0:40 /docker/abc /sys/fs/cgroup/cpu,memory rw - cgroup cgroup "
              "rw,cpu,memory\n")
    assert own_cgroups(container, mounts) == [
        Hierarchy(1, Path("/sys/fs/cgroup/cpu,memory/grader"))]
    # cgroup v2 only (systemd's unified layout), a space escaped in the mount point
    unified = "0::/user.slice/grader.service\n"
    mounts = "29 23 0:26 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw,nsdelegate\n"
    assert own_cgroups(unified, mounts) == [
        Hierarchy(2, Path("/sys/fs/cgroup x/user.slice/grader.service"))]
    # a mount that does not show the process's cgroup, and no memory controller at all
    assert own_cgroups("4:memory:/elsewhere\n", "35 31 0:32 /mine /m rw - cgroup cgroup rw,memory\n") == []
    assert own_cgroups("3:cpuset:/\n", V1_MOUNTS) == []


@pytest.fixture(scope="module")
def hierarchy(sandbox_available):
    if not sandbox_available:
        pytest.skip("bubblewrap cannot create a sandbox on this machine")
    found, why_not = find_hierarchy()
    if found is None:
        pytest.skip(f"no memory cgroup can be made here ({why_not}): the watchdog and the "
                    "address-space limit are the memory limits (tests/course/autograder/test_sandbox.py)")
    return found


@pytest.fixture(scope="module")
def sandbox(hierarchy):
    box = Sandbox("torch", LIMITS)
    box.start()
    yield box
    box.close()


def test_the_sandbox_runs_in_its_own_cgroup_with_the_limit(sandbox, hierarchy):
    folder = sandbox.memory.folder
    assert folder.parent == hierarchy.folder and folder.is_dir()
    members = {int(pid) for pid in (folder / "cgroup.procs").read_text().split()}
    assert sandbox.process.pid in members  # bubblewrap itself, before it started anything
    # what the zygote held when ready (less the cache of the files it read) + one submission's
    held = sandbox.memory.held()
    assert 0 < held < sandbox.memory.usage()
    assert sandbox.memory.limit_bytes - LIMITS.memory_bytes == pytest.approx(held, abs=64 << 20)
    assert int((folder / ("memory.max" if hierarchy.version == 2 else "memory.limit_in_bytes"))
               .read_text().strip()) == sandbox.memory.limit_bytes
    # the address-space backstop stays, 4 GiB above the limit (frameworks reserve far more than
    # they use): one impossible allocation fails in its cell, the next cells still run
    outcome = sandbox.run([{"source": "import resource\n"
                                      "print(resource.getrlimit(resource.RLIMIT_AS)[0])"},
                           {"source": "import numpy as np\nbig = np.ones(16 << 30, dtype=np.uint8)"},
                           {"source": "print('next cell')"}], [], b"")
    address_space = int(outcome.output.splitlines()[0])
    assert LIMITS.memory_bytes + (4 << 30) < address_space != resource.RLIM_INFINITY
    assert outcome.cells[1]["error"].startswith("MemoryError")
    assert outcome.output.splitlines()[-1] == "next cell"
    assert outcome.status == "out_of_memory"


def test_the_kernel_stops_one_process_past_the_limit(sandbox):
    """Three times the limit, touched at once (faster than any watchdog polls): the kernel
    stops it, the run is out of memory, and the same sandbox grades the next submission."""
    zygote, kills = sandbox.process.pid, sandbox.memory.oom_kills()
    outcome = sandbox.run([{"source": "big = b'x' * (1536 << 20)\nprint('survived')"}], [], b"")
    assert outcome.status == "out_of_memory"
    assert "survived" not in outcome.output
    assert outcome.message == ("Your code needed more than the 512 MiB of memory a submission may "
                               "use.")
    assert sandbox.memory.oom_kills() > kills
    after = sandbox.run([{"source": "print(6 * 7)"}], [], b"")
    assert (after.status, after.output) == ("finished", "42\n")
    assert sandbox.alive and sandbox.process.pid == zygote


def test_the_limit_counts_every_process_and_the_files_in_tmp(sandbox):
    """Four processes of 200 MiB each (800 > 512), then 400 MiB of files in /tmp and 300 MiB in
    the process (files in /tmp are memory: tmpfs); either way out of memory, and the kernel stopped a
    process of the submission, not the zygote (the sandbox lives on). Each part alone fits."""
    fork = '''import os, time
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = b'x' * (200 << 20)
        time.sleep(20)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print('all ran')
'''
    files = '''for number in range(400):   # files of 1000 KiB: each under the 1 MiB file-size limit
    with open(f'/tmp/part-{number}.bin', 'wb') as file:
        file.write(b'y' * (1000 << 10))
block = b'x' * (300 << 20)
print('all ran')
'''
    zygote = sandbox.process.pid
    for source in (fork, files):
        kills = sandbox.memory.oom_kills()
        outcome = sandbox.run([{"source": source}], [], b"")
        assert outcome.status == "out_of_memory", (source, outcome)
        assert sandbox.memory.oom_kills() > kills
        assert sandbox.alive and sandbox.process.pid == zygote
    fits = sandbox.run([{"source": "block = b'x' * (300 << 20)\nprint('ran')"}], [], b"")
    assert (fits.status, fits.output) == ("finished", "ran\n")


def test_importing_tensorflow_in_a_jax_cell_fits(hierarchy):
    """The honest case the address-space limit used to kill: TensorFlow imported under jax
    reserves 1.5 GiB of address space and uses far less."""
    box = Sandbox("jax", Limits(cell_timeout=120, submission_timeout=240, memory_bytes=1 << 30))
    box.start()
    try:
        outcome = box.run([{"source": "import tensorflow as tf\n"
                                      "print(float(tf.reduce_sum(tf.ones((3, 4)))))"}], [], b"")
        assert box.memory is not None
        assert (outcome.status, outcome.output.splitlines()[-1]) == ("finished", "12.0")
    finally:
        box.close()


def test_the_cgroup_goes_with_the_sandbox(hierarchy):
    box = Sandbox("torch", LIMITS)
    box.start()
    folder = box.memory.folder
    assert folder.is_dir()
    box.close()
    assert not folder.exists()


def test_the_grade_command_says_which_memory_limit_holds(monkeypatch):
    from autograder import cli
    from autograder.sandbox import memory_cgroup

    monkeypatch.setattr(memory_cgroup, "find_hierarchy", lambda: (
        Hierarchy(1, Path("/sys/fs/cgroup/memory/x")), ""))
    assert cli.memory_limit_line(2048) == (
        "Memory per submission: 2048 MiB, a kernel limit (one cgroup per sandbox; cgroup v1 memory "
        "controller, /sys/fs/cgroup/memory/x).")
    why_not = "no cgroup hierarchy here has the memory controller"
    monkeypatch.setattr(memory_cgroup, "find_hierarchy", lambda: (None, why_not))
    assert cli.memory_limit_line(1024) == (
        "Memory per submission: 1024 MiB, watched every 50 ms, with an address-space limit 4 GiB "
        "above it (no memory cgroup here: no cgroup hierarchy here has the memory controller).")
