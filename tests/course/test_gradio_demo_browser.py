"""End to end: the Gradio demo (``llm-keras serve``) in a real browser, headless Chromium.

The test starts the app on 127.0.0.1 in a subprocess, as a user would, and drives Debian's
Chromium with Playwright (never a browser that Playwright downloads): it types a prompt, sets the
sampling controls, presses Generate, and reads the text as it streams in. The text must be what
the model produces with those settings, computed beforehand without the web app; it must grow in
several steps (streaming), and no request may leave 127.0.0.1 (no analytics, fonts or scripts from
elsewhere). Mistakes (an empty prompt, one over the length limit, a character the tokenizer does
not know) must appear as messages on the page, never as tracebacks.

It saves the page as ``course/figures/gradio-demo.png`` (a screenshot) and
``course/figures/gradio-demo.svg`` (the same page printed by Chromium to PDF, then converted to
SVG by poppler's ``pdftocairo``: vector, for the course PDF, which holds no raster image).

Chromium runs as root here, so it needs ``--no-sandbox``; the background-networking flags stop it
from calling Google's services, which this machine's closed network would refuse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.course.browser import (
    chromium_context,
    free_port,
    needs_chromium,
    stop,
    wait_until_answering,
)

playwright_api = pytest.importorskip(
    "playwright.sync_api",
    reason="pip install playwright (the browser test drives Chromium with it)",
)
pytest.importorskip("gradio", reason="pip install gradio (llm-keras serve is a Gradio app)")

BACKEND = "torch"  # no compilation: the first request streams at once
PROMPT, MAX_NEW_TOKENS, TEMPERATURE, TOP_K, SEED = "ROMEO:", 150, 0.9, 30, 7
MAX_PROMPT_CHARS = 100
FIGURES = REPO / "course" / "figures"

pytestmark = needs_chromium


def run_environment(data_dir) -> dict:
    return {**os.environ, "KERAS_BACKEND": BACKEND, "LLM_KERAS_DATA": str(data_dir),
            "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_dir):
    """A run directory, and the text its model generates for PROMPT with the test's settings."""
    directory = tmp_path_factory.mktemp("gradio_demo_run")
    command = [sys.executable, "-m", "tests.course.gradio_demo_checkpoint", str(directory), PROMPT,
               str(MAX_NEW_TOKENS), str(TEMPERATURE), str(TOP_K), str(SEED)]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=REPO,
        env=run_environment(data_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return directory, (directory / "expected.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def server(checkpoint, data_dir, tmp_path_factory):
    """``python -m llm_keras.serving`` (= ``llm-keras serve``) on a free port of 127.0.0.1."""
    directory, _ = checkpoint
    port = free_port()
    log_path = tmp_path_factory.mktemp("gradio_demo_log") / "server.log"
    command = [sys.executable, "-m", "llm_keras.serving", "--checkpoint", str(directory), "--host",
               "127.0.0.1", "--port", str(port), "--max-prompt-chars", str(MAX_PROMPT_CHARS),
               "--max-new-tokens", "300"]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=run_environment(data_dir), stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_answering(process, url, log_path, 90, "the server")
        yield url, log_path
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser_page(server):
    """A page of a fresh headless Chromium (its own empty profile), and every URL it requested."""
    url, _ = server
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    with chromium_context(playwright_api, profile, {"width": 1100, "height": 760}) as (
        context,
        requested,
    ):
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#prompt textarea")
        yield page, requested


def set_number(page, elem_id, value):
    """Type a value into a slider's number box (or a number field) and confirm it."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def wait_until_idle(page):
    """Until the output's event has stopped streaming (its status tracker stops "generating";
    an event that failed has shown its message already)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#output [data-testid=status-tracker]')]"
        ".every(e => !e.classList.contains('generating'))",
        timeout=60_000,
    )


def toast_with(page, text):
    return page.get_by_test_id("toast-text").filter(has_text=text)


def test_prompt_streams_the_models_text_without_leaving_this_machine(
    browser_page, checkpoint, server
):
    page, requested = browser_page
    _, expected = checkpoint
    page.locator("#prompt textarea").press_sequentially(PROMPT)
    set_number(page, "max-new-tokens", MAX_NEW_TOKENS)
    set_number(page, "temperature", TEMPERATURE)
    set_number(page, "top-k", TOP_K)
    page.locator("#seed input").fill(str(SEED))
    # Record every value the output box takes, a few milliseconds apart, while the text streams.
    page.evaluate(
        """() => {
            const box = document.querySelector('#output textarea');
            window.seen = [];
            window.sampler = setInterval(() => {
                if (window.seen[window.seen.length - 1] !== box.value) window.seen.push(box.value);
            }, 5);
        }"""
    )
    page.locator("#generate").click()
    page.wait_for_function(
        "expected => document.querySelector('#output textarea').value === expected",
        arg=expected, timeout=60_000,
    )  # fmt: skip
    wait_until_idle(page)
    seen = page.evaluate("() => { clearInterval(window.sampler); return window.seen; }")
    assert seen[-1] == expected and len(expected) > 50
    partial = [text for text in seen if text and text != expected]
    assert len(partial) >= 2, (
        f"the text arrived in {len(partial) + 1} step(s), not streamed: {seen}"
    )
    assert all(expected.startswith(text) for text in partial), "each step extends the one before"
    assert [len(t) for t in partial] == sorted({len(t) for t in partial})

    page.mouse.move(0, 0)  # no hover effect in the pictures
    page.evaluate("() => document.activeElement.blur()")
    FIGURES.mkdir(exist_ok=True)
    page.screenshot(path=FIGURES / "gradio-demo.png", full_page=True, animations="disabled")
    save_vector_picture(page, FIGURES / "gradio-demo.svg")

    url, _ = server
    elsewhere = [
        u for u in requested if not u.startswith(url) and not u.startswith(("data:", "blob:"))
    ]
    assert elsewhere == [], f"the page requested other hosts: {elsewhere}"
    assert len(requested) > 10  # the page's own files were recorded


# Chromium prints the sliders' shadowed thumbs and gradient tracks as patterns that pdftocairo
# turns into bitmaps: for the picture, flat thumbs, and each track's filled part as a flat inset.
FLAT_SLIDERS = """() => {
    const rules = ["input[type=range]::-webkit-slider-thumb"
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


def save_vector_picture(page, path: Path):
    """The page as SVG: Chromium prints it to a one-page PDF (vector), pdftocairo converts it."""
    page.evaluate(FLAT_SLIDERS)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "page.pdf"
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.emulate_media(media="screen")
        page.pdf(
            path=pdf, width="1100px", height=f"{height}px", print_background=True, page_ranges="1"
        )
        subprocess.run(["pdftocairo", "-svg", str(pdf), str(path)], check=True)
    assert "<image" not in path.read_text(), "the picture holds a bitmap: the course PDF refuses it"


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("", "The prompt is empty"),
        (
            "x" * (MAX_PROMPT_CHARS + 1),
            f"The prompt has {MAX_PROMPT_CHARS + 1} characters; this demo accepts at most {MAX_PROMPT_CHARS}",
        ),
        (
            "ROMEO: ©",
            "Character '©' (U+00A9) at position 7 is not in this CharTokenizer's vocabulary",
        ),
    ],
    ids=["empty", "too-long", "unknown-character"],
)
def test_mistakes_are_shown_as_messages_not_tracebacks(browser_page, server, prompt, message):
    page, _ = browser_page
    wait_until_idle(page)  # a click while an event runs is ignored
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate").click()
    toast = toast_with(page, message)
    toast.first.wait_for(timeout=30_000)
    assert "Traceback" not in page.content()
    _, log_path = server
    assert "Traceback" not in log_path.read_text()  # refused requests are not server errors
