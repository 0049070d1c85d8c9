"""Sandbox uids are unique per machine: two graders never share one (issue 19).

As root each sandbox runs as a uid of its own, claimed by an exclusive lock held until the
sandbox closes; the process limit then counts one sandbox's processes only, so a fork bomb in
one batch cannot starve another grader's sandboxes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from autograder.sandbox import launcher

ROOT = Path(__file__).resolve().parents[3]
HOLDER = textwrap.dedent('''
    import sys
    from autograder.sandbox import launcher
    launcher.UID_LOCKS = (sys.argv[1],)
    uid, fd = launcher.claim_uid()
    print(uid, flush=True)
    sys.stdin.read()   # hold the claim until the test closes our stdin
''')


def test_two_graders_get_different_uids_and_a_closed_one_is_reused(monkeypatch, tmp_path):
    monkeypatch.setattr(launcher, "UID_LOCKS", (str(tmp_path / "locks"),))
    other = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "locks")], cwd=ROOT,
                             text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env={"PYTHONPATH": str(ROOT)})
    try:
        # the other process's claim, made before ours (it prints only once it holds the lock)
        theirs = int(other.stdout.readline())
        ours, fd = launcher.claim_uid()
        assert (theirs, ours) == (launcher.FIRST_UID, launcher.FIRST_UID + 1)
        second, second_fd = launcher.claim_uid()  # a second sandbox of this grader: another one
        assert second == launcher.FIRST_UID + 2
        launcher.release_uid(fd)
        again, again_fd = launcher.claim_uid()  # closed: free again
        assert again == ours
        launcher.release_uid(second_fd)
        launcher.release_uid(again_fd)
    finally:
        other.stdin.close()
        other.wait(timeout=60)
    # the other grader has ended: its uid is free, whoever held it
    first, fd = launcher.claim_uid()
    assert first == launcher.FIRST_UID
    launcher.release_uid(fd)


def test_a_started_sandbox_holds_its_uid_until_closed(monkeypatch, tmp_path, sandbox_available):
    """The claim is made by ``Sandbox`` itself as root (and released by ``close``)."""
    if not sandbox_available:
        import pytest

        pytest.skip("bubblewrap cannot create a sandbox on this machine")
    monkeypatch.setattr(launcher, "UID_LOCKS", (str(tmp_path / "locks"),))
    box = launcher.Sandbox("torch", launcher.Limits())
    command = box._bwrap_command(launcher.backend_env("torch"))
    try:
        if box.uid == launcher.NOBODY:  # not root: a user namespace maps nobody, nothing to claim
            assert "--unshare-user" in command
            return
        assert box.uid == launcher.FIRST_UID and command[-2:] == ["--become", str(box.uid)]
        taken, fd = launcher.claim_uid()
        assert taken == launcher.FIRST_UID + 1
        launcher.release_uid(fd)
    finally:
        box.close()
    again, fd = launcher.claim_uid()
    assert again == launcher.FIRST_UID
    launcher.release_uid(fd)
