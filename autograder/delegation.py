"""Static half of "did the solution hand the graded piece to the library?".

``references(sources, graded)`` parses the learner's answer cells of one exercise and returns the
graded dotted names they mention: ``from llm_keras.layers import causal_mask``,
``llm_keras.layers.causal_mask(...)``, ``import keras.ops as K; K.softmax``, or the name written
out in a string (``importlib.import_module("llm_keras.layers")`` + ``"causal_mask"``). The runtime
half is the sandbox's tracer (``autograder.sandbox.harness.Tracer``), which catches indirect calls.
Both only look at *this* exercise's graded names: a later exercise may use the library's version
of an earlier piece.
"""

from __future__ import annotations

import ast


def references(sources: list[str], graded: tuple[str, ...], context: list[str] = ()) -> list[str]:
    """Graded names that ``sources`` (this exercise's answer cells) mention. ``context`` is the
    notebook's other code cells, whose imports (``import keras`` in a setup cell) name things."""
    found = set()
    aliases = {dotted.split(".")[0]: dotted.split(".")[0] for dotted in graded}
    for source in [*context, *sources]:
        aliases.update(_aliases(_parse(source)))
    for source in sources:
        tree = _parse(source)
        strings = {node.value for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        for dotted in graded:
            module, _, name = dotted.rpartition(".")
            named = [_resolves(node, aliases) for node in ast.walk(tree)
                     if isinstance(node, ast.Name | ast.Attribute)]
            named += list(_aliases(tree).values())
            if any(_same_object(path, dotted) for path in named):
                found.add(dotted)
            elif name in strings and any(s.split(".")[0] == module.split(".")[0] for s in strings):
                found.add(dotted)
    return sorted(found)


def _parse(source: str) -> ast.AST:
    try:
        return ast.parse(source)
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def _same_object(path: str | None, dotted: str) -> bool:
    """``keras.ops.softmax`` is also ``keras.src.ops.nn.softmax``: same package, same name."""
    if path is None:
        return False
    return path.split(".")[0] == dotted.split(".")[0] and path.rsplit(".", 1)[-1] == dotted.rsplit(".", 1)[-1]


def _aliases(tree: ast.AST) -> dict[str, str]:
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _resolves(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])
