"""Deploying a model: a web page to try it (week 4, "Deploying: a page to try the model").

- ``app``: ``build_demo(model, tokenizer, limits)`` (a Gradio app: prompt, sampling controls,
  streamed output, a queue, limits, errors as messages), ``launch_demo`` (served offline),
  ``DemoLimits``, ``stream_reply`` (the streaming function behind the page);
- ``chat`` (week 7): ``build_chat_demo`` (the page of a chat run: the conversation in the chat
  template, the answer streamed, old turns left out past the context), ``chat_reply``,
  ``fit_conversation``;
- ``command``: ``llm-keras serve --checkpoint DIR`` (a chat for a run with a ``ChatTokenizer``).

Importing this package imports neither Keras nor Gradio: each name is loaded from its module on
first use.
"""

from llm_keras.lazy_exports import lazy_exports

_NAMES = {
    "app": (
        "DemoError",
        "DemoLimits",
        "build_demo",
        "check_request",
        "launch_demo",
        "stream_reply",
    ),
    "chat": ("build_chat_demo", "chat_reply", "fit_conversation"),
    "command": ("add_serve_command", "run_serve"),
}
__getattr__, __all__ = lazy_exports(__name__, _NAMES)
