"""What the end-to-end browser tests share: a local server started and stopped, headless
Chromium (Debian's, driven by Playwright; never a browser that Playwright downloads), the Gradio
pages' controls, and the pictures of a page.

Chromium runs as root here, so it needs ``--no-sandbox``; the background-networking flags stop it
from calling Google's services, which this machine's closed network would refuse.

**Pictures.** A test saves its page as PNG (a screenshot) and SVG (the page printed by Chromium to
PDF, converted by poppler's ``pdftocairo``: vector, for the course PDF, which holds no raster
image) in its temporary folder. The book's copies in ``course/figures/`` change only when asked:

    LLM_COURSE_UPDATE_FIGURES=1 .venv/bin/python -m pytest -p no:cacheprovider \
        tests/course/test_gradio_demo_browser.py tests/course/test_gradio_chat_browser.py
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

FIGURES = REPO / "course" / "figures"
BACKEND = "torch"  # the servers' backend: no compilation, the first request streams at once

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
)


# The window of the Gradio pages' tests.
GRADIO_VIEWPORT = {"width": 1100, "height": 760}
# The window of their pictures: narrow enough that, printed 476 pt wide in the book, the page's
# smallest text (Gradio's 12 px hints) is at least 7 pt (at 1100 px it printed at 5 pt); wide
# enough for the demo's two columns (at 720 px Gradio stacks them: too tall for a page).
# save_pictures records the smallest text for the test.
PICTURE_WIDTH = 768


def gradio_test_tools():
    """Playwright's sync API for a test of a Gradio page; called at the top of a test module,
    it skips the module when playwright or gradio is not installed."""
    playwright_api = pytest.importorskip(
        "playwright.sync_api",
        reason="pip install playwright (the browser test drives Chromium with it)",
    )
    pytest.importorskip("gradio", reason="pip install gradio (llm-keras serve is a Gradio app)")
    return playwright_api


def gradio_page_fixtures(playwright_api, ready: str, *server_options):
    """The two module fixtures of a test of ``llm-keras serve``'s page, which its module takes as
    ``server, browser_page = gradio_page_fixtures(playwright_api, ready, *options)``.

    ``server`` serves the run of the module's own ``checkpoint`` fixture (``(directory, ...)``)
    with ``server_options`` (``serving``: a free port of 127.0.0.1) and yields ``(url,
    log_path)``; ``browser_page`` opens that URL in a fresh headless Chromium (``page_at``, its
    own empty profile, a ``GRADIO_VIEWPORT`` window) once the selector ``ready`` is there, and
    yields ``(page, requested)``: every URL the browser requested.
    """

    @pytest.fixture(scope="module")
    def server(checkpoint, data_dir, tmp_path_factory):
        directory = checkpoint[0]
        log_path = tmp_path_factory.mktemp("server_log") / "server.log"
        with serving(directory, data_dir, log_path, *server_options) as url:
            yield url, log_path

    @pytest.fixture(scope="module")
    def browser_page(server):
        url, _ = server
        with page_at(playwright_api, url, ready, GRADIO_VIEWPORT) as (page, requested):
            yield page, requested

    return server, browser_page


def run_environment(data_dir) -> dict:
    """The environment of the tests' subprocesses: the backend, the data, nothing sent out."""
    return {**os.environ, "KERAS_BACKEND": BACKEND, "LLM_KERAS_DATA": str(data_dir),
            "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}  # fmt: skip


def run_module(module: str, args, data_dir) -> None:
    """``python -m module args...`` in the repository with ``run_environment``; fails the test
    with the end of its error output if it fails."""
    command = [sys.executable, "-m", module, *map(str, args)]
    done = subprocess.run(command, cwd=REPO, env=run_environment(data_dir), capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@contextlib.contextmanager
def serving(checkpoint, data_dir, log_path: Path, *options):
    """``python -m llm_keras.serving`` (= ``llm-keras serve``) of the run ``checkpoint`` on a free
    port of 127.0.0.1, with more ``options``; yields its URL, stops it at the end."""
    port = free_port()
    command = [sys.executable, "-m", "llm_keras.serving", "--checkpoint", str(checkpoint),
               "--host", "127.0.0.1", "--port", str(port), *map(str, options)]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=run_environment(data_dir), stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(process, url, log_path, 90, "the server")
        yield url
    finally:
        stop(process)


@contextlib.contextmanager
def page_at(playwright_api, url: str, ready: str, viewport: dict):
    """A page of a fresh headless Chromium (its own empty profile) at ``url``, once the selector
    ``ready`` is there; yields ``(page, requested)``: every URL the browser requested."""
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    with chromium_context(playwright_api, profile, viewport) as (context, requested):
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(ready)
        yield page, requested


def requests_elsewhere(requested, url: str) -> list[str]:
    """The requested URLs that are not of the server at ``url`` (nor ``data:`` or ``blob:``)."""
    return [u for u in requested if not u.startswith((url, "data:", "blob:"))]


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
            pytest.fail(
                f"{what} did not answer within {seconds:g} s:\n{log_path.read_text()[-3000:]}"
            )
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


FIRST_ANSWER_SECONDS = 240  # under the CI lanes' load the first answer (compiling included) is slow


def wait_for_answer(page, expression: str, expected, shown: str, server) -> None:
    """Wait until the page's ``expression(expected)`` is true; otherwise fail with what the page
    showed (``shown``, an expression of no argument) and the end of the server's log."""
    playwright_api = gradio_test_tools()
    try:
        page.wait_for_function(expression, arg=expected, timeout=FIRST_ANSWER_SECONDS * 1000)
    except playwright_api.TimeoutError:
        _, log_path = server
        pytest.fail(f"after {FIRST_ANSWER_SECONDS} s the page showed {page.evaluate(shown)!r}, "
                    f"not {expected!r}; server log:\n{log_path.read_text()[-2000:]}")  # fmt: skip


def set_number(page, elem_id, value):
    """Type a value into a slider's number box (or a number field) and confirm it."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def toast_with(page, text):
    """The toasts (Gradio's messages: errors, notices) that contain ``text``."""
    return page.get_by_test_id("toast-text").filter(has_text=text)


def save_pictures(page, name: str, folder: Path) -> tuple[Path, Path]:
    """Save the page as ``folder/NAME.png`` and ``folder/NAME.svg``; with
    ``LLM_COURSE_UPDATE_FIGURES=1``, copy both to ``course/figures/`` too. Returns the two paths."""
    page.set_viewport_size({"width": PICTURE_WIDTH, "height": GRADIO_VIEWPORT["height"]})
    page.mouse.move(0, 0)  # no hover effect in the pictures
    page.evaluate("() => document.activeElement.blur()")
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    text = folder / f"{name}-text.json"
    page.screenshot(path=png, full_page=True, animations="disabled")
    smallest = page.evaluate(SMALLEST_TEXT)
    text.write_text(json.dumps({"width_px": PICTURE_WIDTH, "smallest_text_px": smallest}) + "\n")
    save_vector_picture(page, svg)
    if os.environ.get("LLM_COURSE_UPDATE_FIGURES") == "1":
        FIGURES.mkdir(exist_ok=True)
        for path in (png, svg, text):
            shutil.copyfile(path, FIGURES / path.name)
    return png, svg


# The smallest font size (px) of a text the page shows: an element with a non-blank text node of
# its own, displayed, with a box.
SMALLEST_TEXT = """() => {
    let smallest = Infinity;
    for (const element of document.querySelectorAll("body *")) {
        const own = [...element.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        const box = element.getBoundingClientRect();
        const style = getComputedStyle(element);
        if (own && box.width > 0 && box.height > 0 && style.visibility !== "hidden"
                && style.display !== "none" && style.opacity !== "0") {
            smallest = Math.min(smallest, parseFloat(style.fontSize));
        }
    }
    return smallest;
}"""


# Chromium prints blurred shadows, and the sliders' gradient tracks, as patterns that pdftocairo
# turns into bitmaps: for the picture, no shadows (the chat's bubbles and messages have some),
# flat slider thumbs, and each track's filled part as a flat inset.
FLAT_PICTURE = """() => {
    const rules = ["* { box-shadow: none !important; }",
                   "input[type=range]::-webkit-slider-thumb"
                   + " { box-shadow: none !important; border: 1px solid #d4d4d4; }"];
    document.querySelectorAll("input[type=range]").forEach((input, i) => {
        input.dataset.picture = i;
        const filled = (input.value - input.min) / (input.max - input.min)
                       * input.getBoundingClientRect().width;
        rules.push(`input[data-picture="${i}"]::-webkit-slider-runnable-track`
                   + ` { background: var(--neutral-200) !important;`
                   + ` box-shadow: inset ${Math.round(filled)}px 0 0 0 var(--slider-color); }`);
    });
    const style = document.createElement("style");
    style.textContent = rules.join("\\n");
    document.head.appendChild(style);
}"""


# The height of the page's content: the bottom of its last Gradio block and a margin, not the
# window's (Gradio's container fills the window: 90 px of white under the demo in the book).
CONTENT_HEIGHT = """() => {
    const bottoms = [...document.querySelectorAll(".block")]
        .map(block => block.getBoundingClientRect())
        .filter(box => box.width > 0 && box.height > 0)
        .map(box => box.bottom + window.scrollY);
    return bottoms.length ? Math.ceil(Math.max(...bottoms)) + 16
                          : document.documentElement.scrollHeight;
}"""


def save_vector_picture(page, path: Path):
    """The page as SVG: Chromium prints it to a one-page PDF (vector), pdftocairo converts it."""
    page.evaluate(FLAT_PICTURE)
    width = page.viewport_size["width"]
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "page.pdf"
        height = page.evaluate(CONTENT_HEIGHT)
        page.emulate_media(media="screen")
        page.pdf(
            path=pdf, width=f"{width}px", height=f"{height}px", print_background=True,
            page_ranges="1",
        )  # fmt: skip
        subprocess.run(["pdftocairo", "-svg", str(pdf), str(path)], check=True)
    assert "<image" not in path.read_text(), "the picture holds a bitmap: the course PDF refuses it"
