"""``llm-keras serve``: the Gradio demo of a trained model (week 4, "Deploying: a page to try the model").

    llm-keras serve --checkpoint DIR [--host 127.0.0.1] [--port 7860] [--concurrency 1]
        [--queue-size 16] [--max-prompt-chars 2000] [--max-new-tokens 500]

``DIR`` is what ``llm-keras train --out DIR`` leaves (``DIR/model.keras`` and ``DIR/tokenizer/``):
the page continues a prompt. A run of ``llm-keras sft`` (or of the alignment commands), whose
tokenizer is a ``ChatTokenizer``, gets a chat instead (``chat.build_chat_demo``). The page is at
``http://127.0.0.1:7860`` (this machine only: ``--host 0.0.0.0`` serves the local network too).
Ctrl-C stops the server.
"""


def add_serve_command(commands):
    """Add ``serve`` to the ``llm-keras`` sub-commands (an ``argparse`` subparsers object)."""
    from llm_keras.serving.app import DemoLimits

    defaults = DemoLimits()
    serve = commands.add_parser(
        "serve",
        help="try a trained model in the browser (a Gradio web app)",
        description="Serve a web page where anyone can type a prompt and watch the model "
        "continue it; a fine-tuned chat run (llm-keras sft, dpo, grpo) gets a chat page.",
    )
    serve.add_argument(
        "--checkpoint", required=True, metavar="DIR",
        help="the run directory of `llm-keras train --out DIR` (holds model.keras and tokenizer/)",
    )  # fmt: skip
    serve.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: the network)",
    )  # fmt: skip
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    serve.add_argument(
        "--concurrency", type=int, default=defaults.concurrency,
        help=f"generations run at the same time (default {defaults.concurrency})",
    )  # fmt: skip
    serve.add_argument(
        "--queue-size", type=int, default=defaults.queue_size,
        help=f"requests that may wait their turn (default {defaults.queue_size})",
    )  # fmt: skip
    serve.add_argument(
        "--max-prompt-chars", type=int, default=defaults.max_prompt_chars,
        help=f"longest prompt accepted, in characters (default {defaults.max_prompt_chars})",
    )  # fmt: skip
    serve.add_argument(
        "--max-new-tokens", type=int, default=defaults.max_new_tokens_limit,
        help=f"most tokens one request may generate (default {defaults.max_new_tokens_limit})",
    )  # fmt: skip
    serve.set_defaults(handler=run_serve)


def run_serve(args):
    """The handler of ``llm-keras serve``: load the run, build the page (a chat for a run with a
    ``ChatTokenizer``), serve until Ctrl-C."""
    from llm_keras.finetuning.chat_template import ChatTokenizer
    from llm_keras.serving.app import DemoLimits, build_demo, launch_demo
    from llm_keras.serving.chat import build_chat_demo
    from llm_keras.training.run_directory import load_for_inference

    if not 0 < args.port < 65536:
        raise ValueError(
            f"--port {args.port}: choose a port from 1 to 65535 (7860 is Gradio's usual)."
        )
    limits = DemoLimits(
        max_prompt_chars=args.max_prompt_chars,
        max_new_tokens_limit=args.max_new_tokens,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
    )
    model, tokenizer = load_for_inference(args.checkpoint)
    build = build_chat_demo if isinstance(tokenizer, ChatTokenizer) else build_demo
    demo = build(model, tokenizer, limits)
    launch_demo(demo, args.host, args.port)
