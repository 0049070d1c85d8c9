"""End to end: the chat page of ``llm-keras serve`` for a chat run, in a real browser.

The test serves a chat run (a ``ChatTokenizer``; ``gradio_chat_checkpoint.py`` makes one whose
model answers a few digits and stops at the end token) on 127.0.0.1 in a subprocess, and drives
headless Chromium with Playwright (``browser.py``): it sets the length, temperature and seed, types
a message, presses Enter, and reads the answer as it streams into the conversation; then a second
turn. Each answer must be what the model writes with those settings on the conversation in the
chat template, computed beforehand without the web app; the second turn's conversation is longer
than the model's context with room for the answer, so the page must say that it left the first turn
out. No request may leave 127.0.0.1. A message with a character the tokenizer does not know must
show a message, leave the conversation as it was and the text in the box.

It saves the page as ``gradio-chat.png`` and ``gradio-chat.svg`` in its temporary folder;
``LLM_COURSE_UPDATE_FIGURES=1`` copies them to ``course/figures/`` (``browser.save_pictures``).
``LLM_COURSE_CHAT_CHECKPOINT=DIR`` serves the run in ``DIR`` instead (e.g. a real ``llm-keras
sft`` run on arithmetic, for the book's figure; its tokenizer must know the messages' characters).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.course.browser import (
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

MAX_NEW_TOKENS, TEMPERATURE, TOP_K = 40, 1.0, 0
# Each message and the seed of its answer: with the fixed-distribution model, 12 digits then 7.
MESSAGES = [("47+8", 11), ("55-7", 0)]
LEFT_OUT_NOTICE = "no longer sees the first turn"
OWN_RUN = not os.environ.get("LLM_COURSE_CHAT_CHECKPOINT")  # the run gradio_chat_checkpoint makes

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_dir):
    """A chat run directory, and what each turn must show (``gradio_chat_checkpoint.py``)."""
    given = os.environ.get("LLM_COURSE_CHAT_CHECKPOINT")
    directory = Path(given) if given else tmp_path_factory.mktemp("gradio_chat_run")
    expected = tmp_path_factory.mktemp("gradio_chat_expected") / "turns.json"
    run_module("tests.course.gradio_chat_checkpoint",
               [directory, expected, MAX_NEW_TOKENS, TEMPERATURE, TOP_K,
                *[value for pair in MESSAGES for value in pair]], data_dir)  # fmt: skip
    return directory, json.loads(expected.read_text(encoding="utf-8"))


# server: `llm-keras serve` of the chat run; browser_page: a page of a fresh headless Chromium.
server, browser_page = gradio_page_fixtures(playwright_api, "#message textarea",
                                            "--max-new-tokens", 100)  # fmt: skip


# The chat box's bubbles, [role, text] in order (role "user" or "bot").
CONVERSATION = """() => [...document.querySelectorAll(
    '#chatbot [data-testid=user], #chatbot [data-testid=bot]')]
    .map(e => [e.dataset.testid, e.innerText])"""


def conversation(page):
    """The texts of the chat box's bubbles: ``[role, text]`` in order."""
    return page.evaluate(CONVERSATION)


def wait_until_idle(page):
    """Until the chat's event has stopped streaming (its status tracker stops "generating")."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chatbot [data-testid=status-tracker]')]"
        ".every(e => !e.classList.contains('generating'))",
        timeout=FIRST_ANSWER_SECONDS * 1000,
    )


# Records every text that answer bubble number `index` shows, a few milliseconds apart.
RECORD_ANSWER = """index => {
    window.seen = [];
    window.sampler = setInterval(() => {
        const answer = document.querySelectorAll('#chatbot [data-testid=bot]')[index];
        const text = answer ? answer.innerText : null;
        if (window.seen[window.seen.length - 1] !== text) window.seen.push(text);
    }, 5);
}"""


# Counts the server's "process_generating" messages (one per partial answer the server sends),
# whatever the transport (an EventSource, or a fetch read as a stream): what streaming means,
# seen before any rendering. The page may paint several of them at once when the machine is busy
# (a 12-character answer then shows in one step), so the painted steps cannot prove it.
COUNT_UPDATES = """() => {
    window.updates = 0;
    const count = text => { window.updates += (text.match(/process_generating/g) || []).length; };
    const Source = window.EventSource;
    window.EventSource = class extends Source {
        constructor(...args) { super(...args); this.addEventListener('message', e => count(e.data)); }
    };
    const fetched = window.fetch;
    window.fetch = async (...args) => {
        const response = await fetched(...args);
        const url = String(args[0] && args[0].url ? args[0].url : args[0]);
        if (!url.includes('queue/data') || !response.body) return response;
        const [mine, theirs] = response.body.tee();
        (async () => {
            const reader = mine.getReader(), decoder = new TextDecoder();
            let pending = '';
            for (;;) {
                const {done, value} = await reader.read();
                if (done) break;
                pending += decoder.decode(value, {stream: true});
                const end = pending.lastIndexOf('\\n');
                if (end >= 0) { count(pending.slice(0, end)); pending = pending.slice(end); }
            }
            count(pending);
        })();
        return new Response(theirs, {status: response.status, statusText: response.statusText,
                                     headers: response.headers});
    };
}"""


def test_a_conversation_streams_each_answer_without_leaving_this_machine(
    browser_page, checkpoint, server, tmp_path
):
    page, requested = browser_page
    _, turns = checkpoint
    page.add_init_script(f"({COUNT_UPDATES})()")
    page.reload()
    page.locator("#message textarea").wait_for(timeout=60_000)
    if OWN_RUN:  # the first answer is long enough to stream, the second turn leaves it out
        assert len(turns[0]["answer"]) >= 10 and [t["left_out"] for t in turns] == [0, 1]
    set_number(page, "max-new-tokens", MAX_NEW_TOKENS)
    set_number(page, "temperature", TEMPERATURE)
    set_number(page, "top-k", TOP_K)
    shown = []
    for turn in turns:
        page.locator("#seed input").fill(str(turn["seed"]))
        page.evaluate(RECORD_ANSWER, sum(role == "bot" for role, _ in shown))
        updates_before = page.evaluate("() => window.updates")
        page.locator("#message textarea").press_sequentially(turn["message"])
        page.locator("#message textarea").press("Enter")
        shown += [["user", turn["message"]]] + ([["bot", turn["answer"]]] if turn["answer"] else [])
        as_json = json.dumps(shown, separators=(",", ":"))  # as JSON.stringify writes it
        wait_for_answer(page, f"expected => JSON.stringify(({CONVERSATION})()) === expected",
                        as_json, f"() => JSON.stringify(({CONVERSATION})())", server)  # fmt: skip
        wait_until_idle(page)
        seen = page.evaluate("() => { clearInterval(window.sampler); return window.seen; }")
        assert conversation(page) == shown
        assert page.locator("#message textarea").input_value() == ""
        if turn["left_out"]:
            toast_with(page, LEFT_OUT_NOTICE).first.wait_for(timeout=10_000)
            page.get_by_test_id("toast-close").first.click()  # it would cover the page's title
        # The answer grew in steps, each extending the one before.
        partial = [text for text in seen if text not in (None, turn["answer"])]
        assert all(turn["answer"].startswith(text) for text in partial), seen
        if turn is turns[0]:
            updates = page.evaluate("() => window.updates") - updates_before
            assert updates >= 2, f"the server sent the answer in {updates} message(s): {seen}"

    save_pictures(page, "gradio-chat", tmp_path)

    url, _ = server
    elsewhere = requests_elsewhere(requested, url)
    assert elsewhere == [], f"the page requested other hosts: {elsewhere}"
    assert len(requested) > 10  # the page's own files were recorded


def test_a_mistake_is_a_message_and_the_conversation_stays(browser_page, server):
    page, _ = browser_page
    wait_until_idle(page)
    before = conversation(page)
    page.locator("#message textarea").fill("47*8")
    page.locator("#message textarea").press("Enter")
    toast_with(page, "Character '*' at position 2").first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert conversation(page) == before
    assert page.locator("#message textarea").input_value() == "47*8"  # to correct it
    assert "Traceback" not in page.content()
    _, log_path = server
    assert "Traceback" not in log_path.read_text()
