"""A web page to try a trained GPT: the Gradio demo behind ``llm-keras serve`` (week 4, "Deploying: a page to try the model").

    prompt box ----------------------.
    temperature, top-k, top-p, length -+--> [Generate] --> text, streamed as it is generated

Gradio (``pip install gradio``) turns Python functions into a web page: components (text boxes,
sliders, a button) and events that call a function with the components' values. A *generator*
function streams: each ``yield`` replaces the output box's text, so the page shows the words as
the model produces them (``llm_keras.generation.stream_text`` yields them one piece at a time).

What a public demo needs besides:

- **a queue**: requests wait their turn; at most ``concurrency`` generations run at once (one by
  default: a CPU is busy with one), and at most ``queue_size`` wait (more are turned away);
- **limits**: a prompt of at most ``max_prompt_chars`` characters and at most
  ``max_new_tokens_limit`` new tokens, checked on the server (a request does not have to come
  from this page);
- **errors as messages**: a mistake (an empty prompt, a character the tokenizer does not know, a
  value out of range) is shown as a short message on the page; a traceback is never shown (it is
  printed in the server's terminal);
- **offline**: no analytics, no fonts or scripts from other sites (a theme with the system's
  fonts), no share link: everything the page loads comes from this server.
"""

from __future__ import annotations

import html
import logging
import os
import secrets
from dataclasses import dataclass

# Before gradio is imported: it reads this once, and would otherwise report usage to its makers.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoLimits:
    """What one request may ask for, and how many requests are served at once.

    Attributes:
        max_prompt_chars: the longest prompt accepted, in characters.
        max_new_tokens_limit: the most tokens one request may generate (the length slider's top).
        concurrency: generations that run at the same time.
        queue_size: requests that may wait for their turn; more are refused with a message.
    """

    max_prompt_chars: int = 2000
    max_new_tokens_limit: int = 500
    concurrency: int = 1
    queue_size: int = 16

    def __post_init__(self):
        for name in ("max_prompt_chars", "max_new_tokens_limit", "concurrency", "queue_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")


class DemoError(ValueError):
    """A request the demo refuses; its message is shown on the page."""


def check_request(
    prompt, max_new_tokens, temperature, top_k, top_p, seed, limits: DemoLimits, *, name="prompt"
):
    """Check one request's values; returns ``(max_new_tokens, options)`` for ``stream_text``.

    The page's controls already keep most values in range, but a request may come from elsewhere
    (Gradio's API), so every value is checked here. ``top_k`` 0 and ``top_p`` 1 mean "off"; a
    ``seed`` of -1 (or none) draws a new one. ``name`` is what the messages call the text
    (``"message"`` in the chat).

    Raises:
        DemoError: naming the value and the limit.
    """
    if not isinstance(prompt, str) or not prompt:
        raise DemoError(f"The {name} is empty: type some text first.")
    if len(prompt) > limits.max_prompt_chars:
        raise DemoError(
            f"The {name} has {len(prompt)} characters; this demo accepts at most "
            f"{limits.max_prompt_chars}. Shorten it."
        )
    try:
        max_new_tokens = int(max_new_tokens)
    except (TypeError, ValueError):
        raise DemoError(
            f"The length must be a whole number of tokens, got {max_new_tokens!r}."
        ) from None
    if not 1 <= max_new_tokens <= limits.max_new_tokens_limit:
        raise DemoError(
            f"Length {max_new_tokens}: choose between 1 and {limits.max_new_tokens_limit} new tokens."
        )
    if seed is None or seed == "" or int(seed) == -1:
        seed = secrets.randbelow(2**31)
    options = {
        "temperature": float(temperature),
        "top_k": int(top_k) if top_k else None,
        "top_p": float(top_p) if top_p is not None and float(top_p) < 1 else None,
        "seed": int(seed),
    }
    if not 0 <= options["seed"] < 2**31:
        raise DemoError(
            f"Seed {options['seed']}: choose a whole number from 0 to 2147483647, or -1 for a new one."
        )
    return max_new_tokens, options


def stream_reply(
    model,
    tokenizer,
    prompt,
    max_new_tokens,
    temperature,
    top_k,
    top_p,
    seed,
    limits,
    end_token_id=None,
):
    """Yield the text generated after ``prompt`` so far, longer at each step (Gradio's streaming).

    Raises:
        DemoError: for a request out of limits, or one that generation refuses (e.g. a character
            the tokenizer does not know): the message says what to change.
    """
    from llm_keras.generation import stream_text

    max_new_tokens, options = check_request(
        prompt, max_new_tokens, temperature, top_k, top_p, seed, limits
    )
    try:
        pieces = stream_text(
            model, tokenizer, prompt, max_new_tokens, end_token_id=end_token_id, **options
        )
        text = ""
        for piece in pieces:
            text += piece
            yield text
    except ValueError as error:  # the library's errors name the problem: pass them on
        raise DemoError(str(error)) from None


def errors_as_messages(steps):
    """Yield from ``steps`` (a generator of an event); its errors become messages on the page.

    A ``DemoError`` shows its own message (HTML-escaped: ``gr.Error`` renders HTML, and the
    message may quote the visitor's text); anything else is a bug or a backend failure: its
    traceback goes to the server's log, the page says only that generation failed.
    """
    import gradio as gr

    try:
        yield from steps
    except DemoError as error:
        raise gr.Error(html.escape(str(error)), print_exception=False) from None
    except Exception as error:
        log.exception("generation failed")
        raise gr.Error(
            f"Generation failed ({type(error).__name__}); the server's log has the details.",
            print_exception=False,
        ) from None


def model_summary(model) -> str:
    """One sentence on the model for the top of a page: parameters, layers, width, context."""
    c = model.config
    return (
        f"A GPT with {model.num_parameters():,} parameters ({c.n_layers} "
        f"layer{'s' * (c.n_layers != 1)}, d_model "
        f"{c.d_model}, context {c.context_length} tokens, vocabulary {c.vocab_size})."
    )


def sampling_controls(limits: DemoLimits, vocab_size: int, length=200):
    """The generation settings, created where they are called (inside a ``gr.Blocks``).

    Returns the components in ``check_request``'s order: ``[max_new_tokens, temperature, top_k,
    top_p, seed]``, with the ids ``#max-new-tokens``, ``#temperature``, ``#top-k``, ``#top-p``,
    ``#seed``; ``length`` is the length slider's first value (at most the limit).
    """
    import gradio as gr

    max_new_tokens = gr.Slider(
        1, limits.max_new_tokens_limit, value=min(length, limits.max_new_tokens_limit), step=1,
        label="Length (new tokens)", elem_id="max-new-tokens",
    )  # fmt: skip
    temperature = gr.Slider(
        0.0, 2.0, value=0.8, step=0.05, label="Temperature",
        info="0 always takes the likeliest token (greedy); higher is wilder.",
        elem_id="temperature",
    )  # fmt: skip
    top_k = gr.Slider(
        0, min(200, vocab_size), value=0, step=1, label="Top-k",
        info="Sample among the k likeliest tokens only (0: all).", elem_id="top-k",
    )  # fmt: skip
    top_p = gr.Slider(
        0.05, 1.0, value=1.0, step=0.05, label="Top-p",
        info="Sample among the likeliest tokens of total probability p (1: all).",
        elem_id="top-p",
    )  # fmt: skip
    seed = gr.Number(
        value=-1, precision=0, label="Seed",
        info="The same seed and settings give the same text; -1: a new seed each time.",
        elem_id="seed",
    )  # fmt: skip
    return [max_new_tokens, temperature, top_k, top_p, seed]


def build_demo(
    model, tokenizer, limits: DemoLimits | None = None, *, title="llm-keras: try the model"
):
    """The Gradio ``Blocks`` app for ``model`` and its ``tokenizer`` (queue set, not launched).

    Components have ids for tests and styling: ``#prompt``, ``#generate``, ``#output``,
    ``#temperature``, ``#top-k``, ``#top-p``, ``#max-new-tokens``, ``#seed``.

    Launch it with ``launch_demo(demo, ...)`` (offline settings), or ``demo.launch()``. A run of
    ``llm-keras sft`` (a ``ChatTokenizer``) gets a chat instead: ``chat.build_chat_demo``.
    """
    import gradio as gr

    from llm_keras.tokenizers.base import end_of_text_id

    limits = limits or DemoLimits()
    end_token = end_of_text_id(tokenizer)

    def respond(prompt, max_new_tokens, temperature, top_k, top_p, seed):
        steps = stream_reply(
            model, tokenizer, prompt, max_new_tokens, temperature, top_k, top_p, seed, limits,
            end_token,
        )  # fmt: skip
        yield from errors_as_messages(steps)

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(
            f"## {title}\n{model_summary(model)} Type the start of a text; the model writes what "
            "comes next."
        )
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox(
                    label="Prompt",
                    lines=4,
                    placeholder="ROMEO:",
                    info=f"At most {limits.max_prompt_chars} characters.",
                    elem_id="prompt",
                )
                button = gr.Button("Generate", variant="primary", elem_id="generate")
                output = gr.Textbox(
                    label="Generated text", lines=12, interactive=False, elem_id="output"
                )
            with gr.Column(scale=2):
                settings = sampling_controls(limits, model.config.vocab_size)
        inputs = [prompt, *settings]
        button.click(respond, inputs, output, api_name="generate")
        prompt.submit(respond, inputs, output, api_name=False)
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
    return demo


def offline_theme():
    """Gradio's default look with the system's fonts: nothing is fetched from a font service."""
    import gradio as gr

    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )


def launch_demo(demo, host="127.0.0.1", port=7860, *, block=True):
    """Serve ``demo`` on ``http://host:port`` with nothing that reaches beyond this server.

    No share link (a tunnel through Gradio's servers), no analytics, no usage monitoring page, no
    server-side rendering (it needs Node), no footer links; the theme uses system fonts.
    ``block=False`` returns at once (the server runs in a thread), e.g. in a notebook or a test.
    """
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        show_error=False,
        quiet=False,
        footer_links=[],
        run_history=False,
        enable_monitoring=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        theme=offline_theme(),
    )
