"""The static check of "did the solution hand the graded piece to a library?" (trusted side).

The ``llm_keras`` pieces an assignment grades are absent from the sandbox's copy of the library
(``autograder.library_view``), so a solution cannot call them, however it reaches them. Keras's
own pieces (``keras.ops.softmax``, ``keras.layers.LayerNormalization``) cannot be taken out of
Keras, which uses them itself: for those, this check reads the learner's answer cells (never
running them) and ``references(sources, graded, context)`` returns the graded dotted names they
reach:

- by name, through any import alias: ``from keras.ops import softmax``,
  ``import keras.ops as K; K.softmax``, a private path such as ``keras.src.ops.nn.softmax``, or
  the same function of a backend (``jax.nn.softmax``, ``torch.softmax``, ``tf.nn.softmax``);
- by strings, constant or built from constants: ``getattr(importlib.import_module("ker" +
  "as.ops"), "soft" + "max")``, ``f"{'soft'}max"``, ``"".join([...])``, ``ops.__dict__["softmax"]``;
- by code that builds code or names at run time, which no reader can follow: ``exec``,
  ``eval``, ``compile``, ``__import__``, ``importlib`` or ``runpy`` with a computed name,
  ``getattr`` of a module with a computed name, a module's ``__dict__`` or ``vars()``,
  ``globals()``, ``sys.modules``. An exercise graded against a Keras piece earns no credit
  when any code cell of the notebook does this (its message says so); honest solutions have no
  need of it.

It looks only at *this* exercise's graded names, so a later exercise may use Keras's version of
an earlier piece (``keras.ops.softmax`` inside attention). What it cannot see: code that reaches
Keras's function without naming it or building names (e.g. walking ``gc.get_objects()`` for a
function whose ``__name__`` is "softmax" compared character by character); README.md says so.
"""

from __future__ import annotations

import ast

from autograder.python_source import parse

LIBRARY = "llm_keras"
# A Keras piece is also reached through the same function of a backend or of SciPy.
FRAMEWORKS = frozenset({"keras", "jax", "jaxlib", "torch", "tensorflow", "scipy"})
DYNAMIC_BUILTINS = frozenset({"exec", "eval", "compile", "__import__", "vars", "globals"})


def references(sources: list[str], graded: tuple[str, ...], context: list[str] = ()) -> list[str]:
    """Graded names that ``sources`` (this exercise's answer cells) reach. ``context`` is the
    notebook's other code cells: their imports (``import keras`` in a setup cell) name things,
    and code there that builds names at run time counts too."""
    found = set()
    aliases = {dotted.split(".")[0]: dotted.split(".")[0] for dotted in graded}
    for source in [*context, *sources]:
        aliases.update(_aliases(_parse(source)))
    dynamic = False
    for source in sources:
        tree = _parse(source)
        strings = _strings(tree)
        named = [_resolves(node, aliases) for node in ast.walk(tree)
                 if isinstance(node, ast.Name | ast.Attribute)]
        named += list(_aliases(tree).values()) + _lookups(tree, aliases)
        for dotted in graded:
            module, _, name = dotted.rpartition(".")
            if any(_same_object(path, dotted) for path in named):
                found.add(dotted)
            elif name in strings and any(s.split(".")[0] in _roots(dotted) for s in strings):
                found.add(dotted)
        dynamic = dynamic or bool(unreadable(source, aliases))
    for source in context:
        dynamic = dynamic or bool(unreadable(source, aliases))
    if dynamic:  # the llm_keras pieces are absent anyway: only Keras's are reachable this way
        found.update(dotted for dotted in graded if dotted.split(".")[0] != LIBRARY)
    return sorted(found)


def unreadable(source: str, aliases: dict[str, str] | None = None) -> list[str]:
    """The constructs of ``source`` that build code or names at run time (``exec``, ...)."""
    tree = _parse(source)
    aliases = {**(aliases or {}), **_aliases(tree)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            path = _resolves(func, aliases)
            if isinstance(func, ast.Name) and func.id in DYNAMIC_BUILTINS:
                found.append(func.id)
            elif path and path.split(".")[0] in ("importlib", "runpy") and not all(
                    _string(arg) is not None for arg in node.args):
                found.append(path)
            elif (isinstance(func, ast.Name) and func.id in ("getattr", "setattr")
                  and len(node.args) >= 2 and _string(node.args[1]) is None
                  and _resolves(node.args[0], aliases) is not None):
                found.append(f"{func.id} of a module with a computed name")
        elif isinstance(node, ast.Attribute):
            path = _resolves(node, aliases)
            if node.attr == "__dict__" and _resolves(node.value, aliases) is not None:
                found.append("a module's __dict__")
            elif path in ("sys.modules", "builtins.__dict__", "importlib.util"):
                found.append(path)
    return found


def _roots(dotted: str) -> frozenset[str]:
    root = dotted.split(".")[0]
    return FRAMEWORKS if root == "keras" else frozenset({root})


def _parse(source: str) -> ast.AST:
    try:
        return parse(source)
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def _same_object(path: str | None, dotted: str) -> bool:
    """``keras.ops.softmax`` is also ``keras.src.ops.nn.softmax`` or ``jax.nn.softmax``: a
    framework of the same family, the same name."""
    if path is None:
        return False
    same_name = path.rsplit(".", 1)[-1] == dotted.rsplit(".", 1)[-1]
    return same_name and path.split(".")[0] in _roots(dotted)


def _string(node: ast.AST) -> str | None:
    """The value of a string built from constants only (``"a" + "b"``, an f-string of
    constants, ``"".join([...])``), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string(node.left), _string(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [_string(value.value if isinstance(value, ast.FormattedValue) else value)
                 for value in node.values]
        return None if None in parts else "".join(parts)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join" and len(node.args) == 1
            and isinstance(node.args[0], ast.List | ast.Tuple)):
        separator = _string(node.func.value)
        parts = [_string(element) for element in node.args[0].elts]
        return None if separator is None or None in parts else separator.join(parts)
    return None


def _strings(tree: ast.AST) -> set[str]:
    """Every string the code spells, constant or built from constants."""
    return {value for node in ast.walk(tree) if (value := _string(node)) is not None}


def _lookups(tree: ast.AST, aliases: dict[str, str]) -> list[str]:
    """``getattr(module, "na" + "me")``, ``module.__dict__["name"]`` and ``vars(module)["name"]``
    as dotted paths."""
    paths = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "getattr" and len(node.args) >= 2
                and (key := _string(node.args[1])) is not None
                and (base := _resolves(node.args[0], aliases)) is not None):
            paths.append(f"{base}.{key}")
        if not isinstance(node, ast.Subscript) or (key := _string(node.slice)) is None:
            continue
        owner = node.value
        if isinstance(owner, ast.Attribute) and owner.attr == "__dict__":
            base = _resolves(owner.value, aliases)
        elif (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
              and owner.func.id == "vars" and len(owner.args) == 1):
            base = _resolves(owner.args[0], aliases)
        else:
            continue
        if base is not None:
            paths.append(f"{base}.{key}")
    return paths


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
