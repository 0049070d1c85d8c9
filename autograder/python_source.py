"""``parse(source)``: ``ast.parse`` made safe to call from the grader's worker threads.

CPython 3.11 counts the recursion depth of the AST converter per interpreter, not per thread:
two threads that parse at once can fail with ``SystemError: AST constructor recursion depth
mismatch`` (python/cpython#106905), which graded an innocent submission ``sandbox_error``. Every
parse of the grader goes through one lock.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, one thread at a time (raises ``SyntaxError`` as it does)."""
    with _LOCK:
        return ast.parse(source, filename=filename)
