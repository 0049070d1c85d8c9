"""End to end: the Gradio demo (``llm-keras serve``) in a real browser, headless Chromium.

The test starts the app on 127.0.0.1 in a subprocess, as a user would, and drives Debian's
Chromium with Playwright (never a browser that Playwright downloads): it types a prompt, sets the
sampling controls, presses Generate, and reads the text as it streams in. The text must be what
the model produces with those settings, computed beforehand without the web app; it must grow in
several steps (streaming), and no request may leave 127.0.0.1 (no analytics, fonts or scripts from
elsewhere). Mistakes (an empty prompt, one over the length limit, a character the tokenizer does
not know) must appear as messages on the page, never as tracebacks.

It saves the page as ``gradio-demo.png`` (a screenshot) and ``gradio-demo.svg`` (vector, for the
course PDF) in its temporary folder; ``LLM_COURSE_UPDATE_FIGURES=1`` copies them to
``course/figures/`` for the book (``browser.save_pictures``), with ``gradio-demo.json``, which says
which model the page served (the chapter's caption reads it): a test run never rewrites them.

The server serves a small untrained model made for the test, or, with
``LLM_COURSE_DEMO_RUN=DIR``, the trained run directory ``DIR`` (``llm-keras train --out DIR``): the
book's picture is taken that way, from the model of week 3's command,

    llm-keras train --preset shakespeare-char-cpu --data tiny_shakespeare --out runs/cpu
    LLM_COURSE_DEMO_RUN=runs/cpu LLM_COURSE_UPDATE_FIGURES=1 .venv/bin/python -m pytest \
        -p no:cacheprovider tests/course/test_gradio_demo_browser.py

Chromium runs as root here, so it needs ``--no-sandbox``; the background-networking flags stop it
from calling Google's services, which this machine's closed network would refuse.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.course.browser import (
    FIGURES,
    FIRST_ANSWER_SECONDS,
    gradio_page_fixtures,
    gradio_test_tools,
    needs_chromium,
    requests_elsewhere,
    run_module,
    save_pictures,
    set_number,
    toast_with,
    wait_for_answer,
)

playwright_api = gradio_test_tools()  # skips this module without playwright or gradio

PROMPT, MAX_NEW_TOKENS, TEMPERATURE, TOP_K, SEED = "ROMEO:", 150, 0.9, 30, 7
MAX_PROMPT_CHARS = 100

pytestmark = needs_chromium


def demo_run() -> list[Path]:
    """``[LLM_COURSE_DEMO_RUN]`` as an absolute path when it is set (the run to serve), else []."""
    run = os.environ.get("LLM_COURSE_DEMO_RUN")
    if not run:
        return []
    path = Path(run).resolve()
    if not (path / "model.keras").is_file():
        pytest.fail(
            f"LLM_COURSE_DEMO_RUN={run} is not a run directory (it has no model.keras): give the "
            "--out folder of llm-keras train, or leave it unset to serve an untrained model."
        )
    return [path]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_dir):
    """The run directory to serve, the text its model generates for PROMPT with the test's
    settings, and which model it is (a phrase)."""
    directory = tmp_path_factory.mktemp("gradio_demo_run")
    run = demo_run()
    run_module("tests.course.gradio_demo_checkpoint",
               [directory, PROMPT, MAX_NEW_TOKENS, TEMPERATURE, TOP_K, SEED, *run],
               data_dir)  # fmt: skip
    expected, model = ((directory / name).read_text(encoding="utf-8")
                       for name in ("expected.txt", "model.txt"))  # fmt: skip
    return (run[0] if run else directory), expected, model


# server: `llm-keras serve` of the checkpoint on a free port of 127.0.0.1; browser_page: a page of
# a fresh headless Chromium at its URL, and every URL the browser requested.
server, browser_page = gradio_page_fixtures(
    playwright_api, "#prompt textarea", "--max-prompt-chars", MAX_PROMPT_CHARS,
    "--max-new-tokens", 300,
)  # fmt: skip


def wait_until_idle(page):
    """Until the output's event has stopped streaming (its status tracker stops "generating";
    an event that failed has shown its message already)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#output [data-testid=status-tracker]')]"
        ".every(e => !e.classList.contains('generating'))",
        timeout=FIRST_ANSWER_SECONDS * 1000,
    )


def test_prompt_streams_the_models_text_without_leaving_this_machine(
    browser_page, checkpoint, server, tmp_path
):
    page, requested = browser_page
    _, expected, served_model = checkpoint
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
    output = "document.querySelector('#output textarea').value"
    wait_for_answer(page, f"expected => {output} === expected", expected, f"() => {output}", server)
    wait_until_idle(page)
    seen = page.evaluate("() => { clearInterval(window.sampler); return window.seen; }")
    assert seen[-1] == expected and len(expected) > 50
    partial = [text for text in seen if text and text != expected]
    assert len(partial) >= 2, (
        f"the text arrived in {len(partial) + 1} step(s), not streamed: {seen}"
    )
    assert all(expected.startswith(text) for text in partial), "each step extends the one before"
    assert [len(t) for t in partial] == sorted({len(t) for t in partial})

    save_pictures(page, "gradio-demo", tmp_path)
    if os.environ.get("LLM_COURSE_UPDATE_FIGURES") == "1":  # what the book's caption says
        picture = {"model": served_model, "prompt": PROMPT, "max_new_tokens": MAX_NEW_TOKENS,
                   "temperature": TEMPERATURE, "top_k": TOP_K, "seed": SEED}  # fmt: skip
        (FIGURES / "gradio-demo.json").write_text(json.dumps(picture, indent=1) + "\n")

    url, _ = server
    elsewhere = requests_elsewhere(requested, url)
    assert elsewhere == [], f"the page requested other hosts: {elsewhere}"
    assert len(requested) > 10  # the page's own files were recorded


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
