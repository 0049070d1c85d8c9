"""Package names loaded on first use, so that importing a package imports none of its modules.

    __getattr__, __all__ = lazy_exports(__name__, {"decode": ("generate", "stream_ids")})

in a package's ``__init__.py`` makes ``package.generate`` import ``package.decode`` the first
time it is read (PEP 562's module ``__getattr__``). The command line stays fast to start: it
imports Keras, Gradio or keras-hub only when a command needs them.
"""

from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, tuple[str, ...]]):
    """``(__getattr__, __all__)`` for ``package`` exporting ``names`` (module -> its names)."""
    module_of = {name: module for module, exported in names.items() for name in exported}

    def __getattr__(name):
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{module_of[name]}")
        return getattr(module, name)

    return __getattr__, sorted(module_of)
