"""The sandbox's process boundary, attacked from a submission's cells (issue 19).

Each test runs cells in one jax sandbox, the way ``Sandbox.run`` runs a submission, and checks
what the learner's code could reach: the probes and hidden inputs before its cells have finished,
the grader's processes, what an earlier submission left behind, and the memory limits (an honest
TensorFlow import passes, three times the limit does not).
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from autograder.sandbox.launcher import Limits, Sandbox

MiB = 1 << 20
LIMITS = Limits(cell_timeout=60, submission_timeout=120, memory_bytes=1024 * MiB,
                output_bytes=1 * MiB, processes=64)
# Unique bytes in the probe's source and in the hidden inputs. The cells search for them with
# patterns ("[_]") that do not contain them, so a search never finds its own pattern.
PROBE_MARK, INPUT_MARK = "PROBE_SOURCE_MARKER_5d1e", b"HIDDEN_INPUT_MARKER_91c2"
SEARCH = r'''import gc, re
PATTERNS = {"probe": re.compile(rb"PROBE[_]SOURCE[_]MARKER[_]5d1e"),
            "inputs": re.compile(rb"HIDDEN[_]INPUT[_]MARKER[_]91c2")}

def in_objects():
    """Every str/bytes/ndarray reachable from the garbage collector's objects."""
    import numpy as np
    found = dict.fromkeys(PATTERNS, 0)
    seen = set()
    for container in gc.get_objects():
        for value in [container, *gc.get_referents(container)]:
            if id(value) in seen:
                continue
            seen.add(id(value))
            try:
                if isinstance(value, str):
                    data = value.encode("utf-8", "replace")
                elif isinstance(value, (bytes, bytearray, memoryview)):
                    data = bytes(value)
                elif type(value) is np.ndarray:
                    data = value.tobytes()
                else:
                    continue
            except Exception:
                continue
            for key, pattern in PATTERNS.items():
                found[key] += bool(pattern.search(data))
    return found

def in_memory():
    """Every writable private mapping of this process, read through /proc/self/mem."""
    found = dict.fromkeys(PATTERNS, 0)
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            for offset in range(start, end, 1 << 24):
                try:
                    mem.seek(offset)
                    data = mem.read(min(1 << 24, end - offset) + 64)
                except (OSError, ValueError, OverflowError):
                    continue
                for key, pattern in PATTERNS.items():
                    found[key] += len(pattern.findall(data))
    return found

def scan():
    objects, memory = in_objects(), in_memory()
    return [objects["probe"], objects["inputs"], memory["probe"], memory["inputs"]]
'''

# SIGSTOP then SIGKILL to every process it can name, its parent included, then BLOCKS x 64 MiB.
SIGNAL_ATTACK = '''import os, signal, time
targets = {int(p) for p in os.listdir("/proc") if p.isdigit()} | {os.getppid()} | set(range(1, 300))
targets.discard(os.getpid())
for number in (signal.SIGSTOP, signal.SIGKILL):
    for pid in sorted(targets):
        try:
            os.kill(pid, number)
        except OSError:
            pass
def command(p):
    try:
        return open(f"/proc/{p}/cmdline", "rb").read()
    except OSError:
        return b""
me = os.readlink("/proc/self")
grader = sum(b"autograder" in command(p) for p in os.listdir("/proc") if p.isdigit() and p != me)
print("grader processes seen:", grader)
blocks = [bytearray(64 << 20) for _ in range(BLOCKS)]   # touched: resident
time.sleep(30)
'''
# Leftovers for the next submission: SysV IPC objects, POSIX shared memory, a tree that
# ``rm`` cannot walk (folders without permissions, 600 levels deep) and a daemon.
PLANT_LEFTOVERS = '''import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000
ids = [libc.shmget(0x4C4C4D, 4096, IPC_CREAT | 0o666), libc.semget(0x4C4C4D, 1, IPC_CREAT | 0o666),
       libc.msgget(0x4C4C4D, IPC_CREAT | 0o666)]
assert min(ids) >= 0, ids
with open("/dev/shm/planted", "w") as file:
    file.write("for the next student")
path = "/tmp/deep"
for level in range(600):
    path = os.path.join(path, "d")
os.makedirs(path)
for level in reversed(range(0, 600, 50)):
    os.chmod("/tmp/deep" + "/d" * level, 0)
subprocess.Popen(["sleep", "1000"], start_new_session=True)
print("planted")
'''
# ``left``: which of them a later submission sees.
LEFTOVERS_SEEN = '''import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
left = [libc.shmget(0x4C4C4D, 0, 0) >= 0, libc.semget(0x4C4C4D, 0, 0) >= 0,
        libc.msgget(0x4C4C4D, 0) >= 0, os.listdir("/dev/shm") != [], os.path.exists("/tmp/deep")]
def command(p):
    try:
        return open(f"/proc/{p}/cmdline", "rb").read()
    except OSError:
        return b""
left.append(any(b"sleep" in command(p) for p in os.listdir("/proc") if p.isdigit()))
'''


@pytest.fixture(scope="module")
def sandbox(sandbox_available):
    if not sandbox_available:
        pytest.skip("bubblewrap cannot create a sandbox on this machine")
    box = Sandbox("jax", LIMITS)
    box.start()
    yield box
    box.close()


def probes(source: str, **arrays) -> tuple[list, bytes]:
    """One exercise named ``check`` with this probe source and these inputs."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    blob = buffer.getvalue()
    return [{"name": "check", "source": source, "timeout": 60, "inputs": [0, len(blob)]}], blob


def outputs(outcome) -> dict:
    header, payload = outcome.exercises.get("check", ({}, b""))
    if not payload:
        return {}
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        return {key: archive[key].tolist() for key in archive.files}


def test_each_submission_gets_namespaces_of_its_own(sandbox):
    """PID 1 of its own PID namespace, in IPC, mount and user namespaces that differ from one
    submission to the next, without capabilities, under the sandbox's uid."""
    cell = {"source": '''import os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(os.getpid(), os.getuid(), int(status["CapEff"], 16), int(status["CapPrm"], 16))
print(*(os.readlink(f"/proc/self/ns/{kind}") for kind in ("ipc", "mnt", "pid", "user")))
'''}
    assert sandbox.isolated, "this machine cannot make per-submission namespaces (see README)"
    identity, namespaces = sandbox.run([cell], [], b"").output.splitlines()
    assert identity == f"1 {sandbox.uid} 0 0"
    # the sandbox's own namespaces, those of the zygote: bubblewrap's child, which outlives the
    # submission, so the numbers compared were in use at the same time
    with open(f"/proc/{sandbox.process.pid}/task/{sandbox.process.pid}/children") as file:
        init = int(file.read().split()[0])
    outer = [os.readlink(f"/proc/{init}/ns/{kind}") for kind in ("ipc", "mnt", "pid", "user")]
    assert all(a != b for a, b in zip(namespaces.split(), outer)), (namespaces, outer)


def test_cells_never_hold_the_probes_or_the_hidden_inputs(sandbox):
    """Scanned from a cell (objects and raw memory), neither the probe's source nor the inputs
    exist, not even left over from the same probes sent to the previous submission; the same
    scan run by the probe finds both, so the scan does see them once they are handed over."""
    probe = f'''# {PROBE_MARK}
def probe(learner, inputs):
    return {{"cells": learner.found_in_cells, "probe": learner.scan()}}
'''
    exercises, blob = probes(probe, secret=np.frombuffer(INPUT_MARK, dtype=np.uint8))
    cells = [{"source": SEARCH}, {"source": "found_in_cells = scan()"}]
    for _ in range(2):  # the second submission comes after these probes were in the sandbox
        outcome = sandbox.run(cells, exercises, blob)
        assert outcome.status == "finished", outcome
        found = outputs(outcome)
        assert found["cells"] == [0, 0, 0, 0]
        # the probe's source as an object and in memory, the inputs in memory (NumPy arrays
        # are not tracked by the garbage collector)
        assert found["probe"][0] >= 1 and found["probe"][2] >= 1 and found["probe"][3] >= 1


def test_what_the_probes_print_never_reaches_the_output(sandbox):
    probe = '''def probe(learner, inputs):
    return {"y": learner.show(inputs["secret"])}
'''
    exercises, blob = probes(probe, secret=np.frombuffer(INPUT_MARK, dtype=np.uint8))
    cells = [{"source": "import sys\nprint('printed by a cell')\n"
                        "def show(x):\n    print(bytes(x).decode())\n    sys.stderr.write(bytes(x).decode())\n"
                        "    return len(x)"}]
    outcome = sandbox.run(cells, exercises, blob)
    assert outcome.status == "finished" and outputs(outcome) == {"y": len(INPUT_MARK)}
    assert outcome.output == "printed by a cell\n"


def test_a_submission_cannot_signal_or_see_the_grader(sandbox):
    """SIGSTOP then SIGKILL to every process it can name, its parent included, then 3 GiB
    against a 1 GiB limit: the watchdog still stops it as out of memory, in time, and the next
    submission runs as usual in the same sandbox."""
    zygote = sandbox.process.pid
    outcome = sandbox.run([{"source": SIGNAL_ATTACK.replace("BLOCKS", "48")}], [], b"")
    assert outcome.status == "out_of_memory", outcome
    assert outcome.seconds < LIMITS.submission_timeout
    assert "grader processes seen: 0" in outcome.output
    assert sandbox.alive and sandbox.process.pid == zygote
    after = sandbox.run([{"source": "print(6 * 7)"}], [], b"")
    assert (after.status, after.output) == ("finished", "42\n")


def test_nothing_a_submission_leaves_reaches_the_next(sandbox):
    """SysV shared memory, semaphores and message queues, POSIX shared memory, a tree that
    ``rm`` cannot walk (folders without permissions, 600 levels deep) and a daemon: the next
    submission, in the same sandbox, finds none of them."""
    outcome = sandbox.run([{"source": PLANT_LEFTOVERS}], [], b"")
    assert (outcome.status, outcome.output) == ("finished", "planted\n")
    after = sandbox.run([{"source": LEFTOVERS_SEEN + "print(left)"}], [], b"")
    assert (after.status, after.output) == ("finished", str([False] * 6) + "\n")


def test_importing_tensorflow_in_a_jax_cell_is_not_killed(sandbox):
    """TensorFlow reserves far more address space than it uses: an honest cell that imports it
    under jax runs, well within the 1 GiB limit on memory really used."""
    cells = [{"source": "import tensorflow as tf\nx = float(tf.reduce_sum(tf.ones((3, 4))))"},
             {"source": "print(x)"}]
    outcome = sandbox.run(cells, [], b"")
    assert [cell["status"] for cell in outcome.cells] == ["ok", "ok"], outcome.cells
    assert (outcome.status, outcome.output.splitlines()[-1]) == ("finished", "12.0")


def test_three_times_the_memory_limit_is_out_of_memory(sandbox):
    outcome = sandbox.run([{"source": "import numpy as np\nx = np.ones(3 << 30, dtype=np.uint8)"}],
                          [], b"")
    assert outcome.status == "out_of_memory"
    assert outcome.message == ("Your code needed more than the 1024 MiB of memory a submission may "
                               "use.")


def test_a_failed_cleanup_replaces_the_worker(tmp_path):
    """Without the sandbox's namespaces (``--no-sandbox``), a tree too deep for the wipe makes
    the zygote report ``clean: false``: the launcher closes it instead of handing the next
    submission a dirty worker, and a new one grades as usual."""
    box = Sandbox("jax", LIMITS, sandboxed=False)
    box.start()
    try:
        deep = '''import os
for level in range(3000):
    os.mkdir("d")
    os.chdir("d")
print("deep")
'''
        outcome = box.run([{"source": deep}], [], b"")
        assert (outcome.status, outcome.output) == ("finished", "deep\n")
        assert not box.alive
        box.start()
        after = box.run([{"source": "print(6 * 7)"}], [], b"")
        assert (after.status, after.output) == ("finished", "42\n")
        assert box.alive
    finally:
        box.close()
