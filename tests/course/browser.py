"""What the end-to-end browser tests share: a local server started and stopped, and headless
Chromium (Debian's, driven by Playwright; never a browser that Playwright downloads).

Chromium runs as root here, so it needs ``--no-sandbox``; the background-networking flags stop it
from calling Google's services, which this machine's closed network would refuse.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(process, request, log_path: Path, seconds: float, what: str) -> None:
    """Until ``request`` (a URL or ``urllib.request.Request``) answers 200; fails the test with
    the end of the server's log if ``process`` exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer within {seconds:g} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.25)


def stop(process) -> None:
    """Terminate a server, then kill it if it has not stopped within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def chromium_context(playwright_api, profile: Path, viewport: dict):
    """A fresh headless Chromium with its own empty ``profile`` folder; yields ``(context,
    requested)``, where ``requested`` collects the URL of every request it makes."""
    requested = []
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport=viewport,
        )  # fmt: skip
        context.on("request", lambda request: requested.append(request.url))
        try:
            yield context, requested
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
