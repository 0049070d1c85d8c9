"""The sandbox blocks what it claims: network, the course's files, writes outside its scratch
folder, the grader's environment, fork bombs, memory hogs, processes left behind."""

from __future__ import annotations

import io
import os
import socket
import sys

import numpy as np
import pytest

from autograder.sandbox import launcher
from autograder.sandbox.launcher import Limits, Sandbox

PROBE = '''import numpy as np

def probe(learner, inputs):
    return {key: np.asarray(value) for key, value in learner.results.items()}
'''


@pytest.fixture(scope="module")
def sandbox(sandbox_available):
    if not sandbox_available:
        pytest.skip("bubblewrap cannot create a sandbox on this machine")
    # without the memory cgroup: the memory tests here are of the zygote's own limits, the only
    # ones on machines where no cgroup can be made (test_memory_cgroup.py tests the cgroup)
    box = Sandbox("torch", Limits(cell_timeout=10, submission_timeout=20, memory_bytes=1 << 30,
                                  output_bytes=1 << 20, processes=64), memory_cgroup=False)
    box.start()
    yield box
    box.close()


def run(sandbox, *cells):
    """Run cells (each filling the dict ``results``) and return (status, results as arrays)."""
    buffer = io.BytesIO()
    np.savez(buffer, unused=np.zeros(1))
    blob = buffer.getvalue()
    job = [{"name": "check", "source": PROBE, "timeout": None, "inputs": [0, len(blob)]}]
    sources = [{"source": "results = {}"}] + [{"source": cell} for cell in cells]
    outcome = sandbox.run(sources, job, blob)
    header, payload = outcome.exercises.get("check", ({}, b""))
    if not payload:
        return outcome.status, {}
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        return outcome.status, {key: archive[key].item() for key in archive.files}


def test_runs_as_nobody_without_capabilities(sandbox):
    status, results = run(sandbox, '''import os
results["uid"] = os.getuid() if os.getuid() == os.geteuid() else -1
results["caps"] = int([l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1], 16)
results["pid_ns_small"] = os.getpid() < 100
''')
    assert status == "finished"
    assert results == {"uid": sandbox.uid, "caps": 0, "pid_ns_small": True}
    assert sandbox.uid >= 60000


def test_no_network(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    port = server.getsockname()[1]
    status, results = run(sandbox, f'''import socket
def attempt(address):
    try:
        socket.create_connection(address, timeout=2).close()
        return 1
    except OSError:
        return 0
results["host_loopback"] = attempt(("127.0.0.1", {port}))
results["internet"] = attempt(("8.8.8.8", 53))
try:
    socket.getaddrinfo("pypi.org", 443)
    results["dns"] = 1
except OSError:
    results["dns"] = 0
''')
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()
    assert status == "finished" and results == {"host_loopback": 0, "internet": 0, "dns": 0}


def test_course_files_are_absent_and_writes_stay_in_scratch(sandbox, tmp_path):
    secret_folder = tmp_path / "course"
    (secret_folder / "solutions").mkdir(parents=True)
    (secret_folder / "solutions" / "answer.txt").write_text("42")
    (secret_folder / "gradebook.db").write_text("db")
    os.chmod(tmp_path, 0o755)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    status, results = run(sandbox, f'''import os
def readable(path):
    try:
        open(path).read(1)
        return 1
    except OSError:
        return 0
def writable(path):
    try:
        open(path, "w").write("x")
        return 1
    except OSError:
        return 0
results["solutions"] = readable("{secret_folder}/solutions/answer.txt")
results["gradebook"] = readable("{secret_folder}/gradebook.db")
results["repo_probes"] = int(os.path.exists("{here}/autograder/probes")) + int(os.path.exists("{here}/autograder/example_course"))
results["grader_code_visible"] = int(os.path.exists("/opt/grader/autograder/scoring.py"))
results["sandbox_code_visible"] = int(os.path.exists("/opt/grader/autograder/sandbox/harness.py"))
results["write_usr"] = writable("/usr/evil")
results["write_venv"] = writable(os.path.join(os.sys.prefix, "evil"))
results["write_grader"] = writable("/opt/grader/autograder/evil.py")
results["write_scratch"] = writable("mine.txt")
results["write_root"] = writable("/planted.py") + writable("/opt/planted.py")
''')
    assert status == "finished"
    assert results == {"solutions": 0, "gradebook": 0, "repo_probes": 0, "grader_code_visible": 0,
                       "sandbox_code_visible": 1, "write_usr": 0, "write_venv": 0,
                       "write_grader": 0, "write_scratch": 1, "write_root": 0}


def test_environment_is_scrubbed(sandbox, monkeypatch):
    monkeypatch.setenv("LLM_COURSE_SECRET", "s3cret")  # the sandbox was started before: still absent
    status, results = run(sandbox, '''import os
results["forbidden"] = sum(name in os.environ for name in
                           ("LLM_COURSE_SECRET", "NBGRADER_EXECUTION", "CI", "USER", "SSH_AUTH_SOCK"))
results["needed"] = sum(name in os.environ for name in ("KERAS_BACKEND", "HOME", "PATH"))
results["secret_anywhere"] = int(any("s3cret" in value for value in os.environ.values()))
''')
    assert status == "finished"
    assert results == {"forbidden": 0, "needed": 3, "secret_anywhere": 0}


def test_fork_bomb_is_contained_and_cleaned_up(sandbox):
    status, results = run(sandbox, '''import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
except OSError:
    pass
results["children"] = children
''')
    assert status == "finished" and results["children"] < 64
    status, results = run(sandbox, '''import os
def state(p):
    try:
        return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
results["processes"] = len([p for p in os.listdir("/proc") if p.isdigit() and state(p) not in ("Z", "X", "gone")])
''')
    assert status == "finished" and results["processes"] <= 4  # init, zygote, this child (+ ls)


def test_leftovers_do_not_reach_the_next_submission(sandbox):
    run(sandbox, '''import os, subprocess
open("/tmp/planted.txt", "w").write("for the next student")
open("planted_in_cwd.txt", "w").write("x")
os.makedirs("/dev/shm/planted", exist_ok=True)
subprocess.Popen(["sleep", "1000"], start_new_session=True)
results["ok"] = 1
''')
    status, results = run(sandbox, '''import os
results["tmp"] = int(os.path.exists("/tmp/planted.txt"))
results["cwd"] = int(os.path.exists("planted_in_cwd.txt"))
results["shm"] = int(os.path.exists("/dev/shm/planted"))
def cmdline(p):
    try:
        return open(f"/proc/{p}/cmdline").read()
    except OSError:
        return ""
results["sleepers"] = sum("sleep" in cmdline(p) for p in os.listdir("/proc") if p.isdigit())
''')
    assert status == "finished"
    assert results == {"tmp": 0, "cwd": 0, "shm": 0, "sleepers": 0}


def test_memory_limit_in_one_process(sandbox):
    """One allocation past the address-space backstop (the limit + 4 GiB above the zygote's
    size) fails at once, as out of memory with a plain message. Smaller ones are the watchdog's
    (test_boundary_process: three times the limit)."""
    outcome = sandbox.run([{"source": "import numpy as np\nbig = np.ones(8 << 30, dtype=np.uint8)"}],
                          [], b"")
    assert outcome.status == "out_of_memory"
    assert outcome.cells[0]["error"].startswith("MemoryError")
    assert outcome.message == ("Your code needed more than the 1024 MiB of memory a submission may "
                               "use.")


def test_memory_limit_across_processes(sandbox):
    status, _ = run(sandbox, '''import os, time
for _ in range(4):
    if os.fork() == 0:
        block = bytearray(700 << 20)   # touched: resident, not just reserved
        time.sleep(30)
        os._exit(0)
time.sleep(30)
''')
    assert status == "out_of_memory"


def test_cell_and_submission_timeouts(sandbox):
    status, results = run(sandbox, "while True:\n    pass", "results['after'] = 1")
    assert status == "timeout" and results == {"after": 1}  # the next cell still ran
    status, _ = run(sandbox, *["import time\ntime.sleep(4)"] * 6)  # 24 s > 20 s per submission
    assert status == "timeout"
    assert run(sandbox, "results['alive'] = 1") == ("finished", {"alive": 1})


def test_a_python_under_tmp_is_refused_with_the_fix(monkeypatch):
    """Every submission gets a fresh /tmp: a virtual environment there would vanish for the
    learner's code (a clone under /tmp failed with "No module named 'stack_data'" when a cell
    raised). The sandbox refuses to start and says where to install instead."""
    monkeypatch.setattr(sys, "prefix", "/tmp/course/.venv")
    assert "install the course (its virtual environment) outside /tmp" in launcher.python_under_tmp()
    with pytest.raises(launcher.SandboxUnavailable, match=r"under /tmp \(/tmp/course/\.venv\)"):
        Sandbox("jax", Limits()).start()
    monkeypatch.setattr(sys, "prefix", "/home/teacher/course/.venv")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    assert launcher.python_under_tmp() is None
