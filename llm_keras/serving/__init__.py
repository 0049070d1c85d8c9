"""Deploying a model: a web page to try it (week 4, "Deploying a model").

- ``app``: ``build_demo(model, tokenizer, limits)`` (a Gradio app: prompt, sampling controls,
  streamed output, a queue, limits, errors as messages), ``launch_demo`` (served offline),
  ``DemoLimits``, ``stream_reply`` (the streaming function behind the page);
- ``command``: ``llm-keras serve --checkpoint DIR``.

Importing this package imports neither Keras nor Gradio: each name is loaded from its module on
first use.
"""

import importlib

_NAMES = {
    "app": (
        "DemoError",
        "DemoLimits",
        "build_demo",
        "check_request",
        "launch_demo",
        "stream_reply",
    ),
    "command": ("add_serve_command", "run_serve"),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
    return getattr(module, name)
