"""What the sandbox's library holds: ``llm_keras`` without the pieces an assignment grades.

A learner's notebook may import ``llm_keras`` (a later week builds on the earlier weeks' pieces),
but it must not hand a graded piece to the library's own version. Rather than watch for that
while the learner's code runs (which code in the same process can always get round), the sandbox
is given a copy of the library in which those pieces are absent:

- ``library_view(names)`` copies the installed ``llm_keras`` (``.py`` files only) and, for each
  dotted name such as ``llm_keras.layers.causal_mask``, finds where it is *defined* (following
  re-exports like ``llm_keras/layers/__init__.py`` and ``lazy_exports`` to the module that holds
  the ``def``, ``class`` or constant) and replaces that definition by a stub of the same name.
  Calling the stub, instantiating it or reading one of its attributes raises
  ``NotImplementedError("`llm_keras.layers.causal_mask` is the piece this assignment grades, so
  the grader's copy of the library leaves it out: write your own")``. Imports keep working, so
  do the other pieces, and the definition's source is not in the copy: loading the module's file
  privately or calling an unbound method with a stand-in ``self`` finds only the stub.
- ``assignment_library(assignment)`` is that copy for the ``llm_keras.*`` names of every
  exercise's ``graded`` tuple. ``keras.*`` names cannot be taken out of Keras: the static check
  of the answer cells (``autograder.delegation``) covers those.

The copy is built once per assignment and cached in ``$TMPDIR/llm-course-library-<uid>/<key>``,
``key`` a hash of the library's sources, the names and this module's own source, so an edit of
any of them builds a new one. Library code that is not graded but calls a graded piece fails in
the sandbox too (``dependents(names)`` lists it); the README says which, per week.
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from autograder.python_source import parse

PACKAGE = "llm_keras"
STUBS = "_left_out"  # the module of the copy that makes the stubs: llm_keras/_left_out.py

STUBS_SOURCE = '''\
"""Stubs that stand for the pieces an assignment grades, in the grader's copy of the library.

The grader's sandbox gets a copy of ``llm_keras`` without the pieces the assignment grades
(autograder/library_view.py): each is replaced by one of these, which raises when used.
"""


def message(dotted):
    return (f"`{dotted}` is the piece this assignment grades, so the grader's copy of the "
            "library leaves it out: write your own")


def function(dotted):
    """A function (or method) that raises when called."""
    module, _, name = dotted.rpartition(".")

    def left_out(*args, **kwargs):
        raise NotImplementedError(message(dotted))

    left_out.__name__, left_out.__qualname__, left_out.__module__ = name, name, module
    left_out.__doc__ = message(dotted)
    return left_out


class LeftOutClass(type):
    """The type of a left-out class: instantiating it or reading its attributes raises."""

    def __call__(cls, *args, **kwargs):
        raise NotImplementedError(message(cls._left_out))

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise NotImplementedError(message(cls._left_out))


def cls(dotted):
    """A class of the same name that cannot be instantiated (nor its subclasses)."""
    module, _, name = dotted.rpartition(".")
    return LeftOutClass(name, (), {"_left_out": dotted, "__module__": module,
                                   "__doc__": message(dotted)})


class LeftOutValue:
    """A constant's stand-in: any use of it raises."""

    def __init__(self, dotted):
        object.__setattr__(self, "_left_out", dotted)

    def __repr__(self):
        return f"<left out: {self._left_out}>"

    def _refuse(self, *args, **kwargs):
        raise NotImplementedError(message(object.__getattribute__(self, "_left_out")))

    __getattr__ = __getitem__ = __iter__ = __len__ = __contains__ = __call__ = _refuse
    __bool__ = __setattr__ = __setitem__ = __add__ = __mul__ = __float__ = __int__ = _refuse


def value(dotted):
    return LeftOutValue(dotted)
'''


class LibraryViewError(ValueError):
    """A graded name that the library does not define (the message says which and where)."""


def graded_library_names(assignment) -> tuple[str, ...]:
    """The ``llm_keras.*`` names that the assignment's exercises grade."""
    return tuple(sorted({name for exercise in assignment.exercises
                         for name in exercise.probe.exercise.graded
                         if name.split(".")[0] == PACKAGE}))


def assignment_library(assignment) -> Path:
    """The ``llm_keras`` folder the assignment's sandboxes import (see ``library_view``)."""
    return library_view(graded_library_names(assignment))


def undefined(names, source: Path | None = None) -> dict[str, str]:
    """``{name: why}`` for each ``llm_keras.*`` name of ``names`` that the library does not
    define (so it could not be left out); other packages' names are not looked at."""
    files = _sources(Path(source or installed_library()))
    problems = {}
    for dotted in names:
        if dotted.split(".")[0] == PACKAGE:
            try:
                locate(files, dotted)
            except LibraryViewError as error:
                problems[dotted] = str(error)
    return problems


def installed_library() -> Path:
    """The folder of the ``llm_keras`` package the grader itself imports."""
    import llm_keras

    return Path(llm_keras.__file__).resolve().parent


def library_view(names, source: Path | None = None, cache: Path | None = None) -> Path:
    """A copy of ``source`` (default: the installed ``llm_keras``) without ``names``; returns the
    copy's ``llm_keras`` folder, built once and cached under ``cache`` (default: a folder in
    the temp folder)."""
    source = Path(source or installed_library())
    names = tuple(sorted(set(names)))
    files = _sources(source)
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for relative, text in sorted(files.items()):
        digest.update(f"{relative}\0{len(text)}\0".encode() + text.encode())
    digest.update("\0".join(names).encode())
    return _build(files, names, digest.hexdigest()[:24], cache)


def _build(files: dict, names: tuple, key: str, cache: Path | None) -> Path:
    root = _cache_root(cache)
    target = root / key
    expected = [*files, f"{STUBS}.py"]
    if target.is_dir() and not all((target / PACKAGE / name).is_file() for name in expected):
        shutil.rmtree(target, ignore_errors=True)  # e.g. a temp-folder cleaner took files away
    if not target.is_dir():
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
        for relative, text in rewrite(files, names).items():
            path = building / PACKAGE / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _readable(building)
        try:
            building.rename(target)
        except OSError:  # another worker built the same copy first
            shutil.rmtree(building, ignore_errors=True)
    return target / PACKAGE


def _cache_root(cache: Path | None) -> Path:
    """``cache``, or ``$TMPDIR/llm-course-library-<uid>``: a folder of ours that nobody else can
    write into (else a fresh private one), so that no other user can plant a copy there."""
    default = Path(tempfile.gettempdir()) / f"llm-course-library-{os.geteuid()}"
    root = Path(cache) if cache else default
    try:
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
        info = os.lstat(root)
        safe = (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
                and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
    except OSError:
        safe = False
    if not safe:
        root = Path(tempfile.mkdtemp(prefix="llm-course-library-"))
    os.chmod(root, 0o755)  # the sandbox's unprivileged uid reads the copy
    return root


def _readable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _sources(source: Path) -> dict[str, str]:
    """``{relative path: text}`` of the package's ``.py`` files (no caches, no links)."""
    files = {}
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source)
        if "__pycache__" in relative.parts or path.is_symlink() or not path.is_file():
            continue
        files[relative.as_posix()] = path.read_text(encoding="utf-8")
    return files


# --- finding and replacing the definitions ---------------------------------------------------


def rewrite(files: dict[str, str], names) -> dict[str, str]:
    """``files`` (relative path -> source of the package) with each of ``names`` replaced by a
    stub where it is defined, plus the stubs' module."""
    files = dict(files)
    by_module: dict[str, list[tuple[list[str], str]]] = {}
    for dotted in names:
        relative, path = locate(files, dotted)
        by_module.setdefault(relative, []).append((path, dotted))
    for relative, targets in by_module.items():
        files[relative] = _stub_out(files[relative], targets, relative)
    files[f"{STUBS}.py"] = STUBS_SOURCE
    return files


def locate(files: dict[str, str], dotted: str,
           seen: frozenset = frozenset()) -> tuple[str, list[str]]:
    """Where ``dotted`` is defined: ``(file of its module, [name, attribute...])``."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE or dotted in seen:
        raise LibraryViewError(f"`{dotted}`: not a name defined in {PACKAGE}")
    for end in range(len(parts) - 1, 0, -1):
        relative = _module_file(files, parts[:end])
        if relative is not None:
            break
    else:
        raise LibraryViewError(f"`{dotted}`: no module of {PACKAGE} holds it")
    name, rest = parts[end], parts[end + 1:]
    module = ".".join(parts[:end])
    tree = parse(files[relative])
    for node in tree.body:
        if _binds(node) == name:
            _descend(node, rest, dotted)
            return relative, [name, *rest]
    for node in tree.body:  # a re-export: follow it to the module that defines the name
        if isinstance(node, ast.ImportFrom):
            origin = _absolute(node, module, relative)
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return locate(files, ".".join([origin, alias.name, *rest]), seen | {dotted})
    lazy = _lazy_exports(tree)
    if name in lazy:
        return locate(files, ".".join([module, lazy[name], name, *rest]), seen | {dotted})
    raise LibraryViewError(f"`{dotted}`: {PACKAGE}/{relative} neither defines nor imports "
                           f"{name!r}; correct the name in the probe's `graded`")


def _module_file(files: dict, parts: list[str]) -> str | None:
    folder = "/".join(parts[1:])
    for candidate in (f"{folder}.py", f"{folder}/__init__.py" if folder else "__init__.py"):
        if candidate in files:
            return candidate
    return None


def _binds(node: ast.stmt) -> str | None:
    """The name a top-level ``def``, ``class`` or single-name assignment defines."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return node.target.id
    return None


def _descend(node: ast.stmt, rest: list[str], dotted: str) -> ast.stmt:
    """The node of ``rest`` (a method's name) inside the class ``node``."""
    for name in rest:
        body = node.body if isinstance(node, ast.ClassDef) else []
        found = [child for child in body if _binds(child) == name]
        if not found:
            raise LibraryViewError(f"`{dotted}`: {name!r} is not defined in the class body")
        node = found[0]
    return node


def _absolute(node: ast.ImportFrom, module: str, relative: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if relative.endswith("__init__.py") else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _lazy_exports(tree: ast.Module) -> dict[str, str]:
    """``{name: submodule}`` of a package that uses ``llm_keras.lazy_exports`` with a literal
    ``{module: (names...)}`` dict, named or written in the call (see llm_keras/lazy_exports.py)."""
    literals = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                literals[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    exported = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports"
                and len(node.args) == 2):
            table = node.args[1]
            if isinstance(table, ast.Name):  # lazy_exports(__name__, _NAMES)
                table = literals.get(table.id, {})
            else:  # lazy_exports(__name__, {"gpt": ("GPT",), ...})
                try:
                    table = ast.literal_eval(table)
                except ValueError:
                    continue
            for submodule, names in dict(table).items():
                exported.update(dict.fromkeys(names, submodule))
    return exported


def _stub_out(source: str, targets: list[tuple[list[str], str]], relative: str) -> str:
    """``source`` with each target's definition (decorators included) replaced by a stub line."""
    tree = parse(source)
    lines = source.splitlines(keepends=True)
    replacements = []
    for path, dotted in targets:
        top = next(node for node in tree.body if _binds(node) == path[0])
        node = _descend(top, path[1:], dotted)
        kind = ("cls" if isinstance(node, ast.ClassDef) else
                "function" if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else "value")
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        indent = " " * node.col_offset
        stub = f"{indent}{path[-1]} = _left_out_.{kind}({dotted!r})\n"
        replacements.append((first - 1, node.end_lineno, stub))
    for start, end, stub in sorted(replacements, reverse=True):
        lines[start:end] = [stub]
    at = 0
    for index, node in enumerate(tree.body):
        docstring = (index == 0 and isinstance(node, ast.Expr)
                     and isinstance(node.value, ast.Constant))
        if docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            at = node.end_lineno
    lines.insert(at, f"from {PACKAGE} import {STUBS} as _left_out_  # the grader's copy\n")
    return "".join(lines)


# --- what else the removal takes with it ------------------------------------------------------


def dependents(names, source: Path | None = None) -> list[str]:
    """The library's other top-level functions and classes that use one of ``names``, directly
    or through another: they fail in a sandbox whose library leaves ``names`` out.

    A static approximation (names a definition mentions, resolved through its module's
    imports): good enough to tell an author which library code an assignment's learners lose."""
    files = _sources(Path(source or installed_library()))
    removed = {_canonical(files, dotted) for dotted in names}
    definitions = {}  # canonical dotted name -> canonical names it mentions
    for relative, text in files.items():
        module = _module_name(relative)
        try:
            tree = parse(text)
        except SyntaxError:
            continue
        imported = _library_imports(tree.body)
        local = {_binds(node) for node in tree.body} - {None}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = {**imported, **_library_imports(ast.walk(node))}  # imports inside it too
                mentioned = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                uses = {names[n] for n in mentioned if n in names}
                uses |= {f"{module}.{n}" for n in mentioned & local if n != node.name}
                definitions[f"{module}.{node.name}"] = {_canonical(files, u) for u in uses}
    lost = set(removed)
    while True:
        more = {name for name, uses in definitions.items() if uses & lost} - lost
        if not more:
            break
        lost |= more
    return sorted(lost - removed)


def _library_imports(nodes) -> dict[str, str]:
    """``{local name: dotted name}`` of the ``from llm_keras... import`` statements in ``nodes``."""
    imported = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and \
                (node.module or "").split(".")[0] == PACKAGE:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return imported


def _canonical(files: dict, dotted: str) -> str:
    try:
        relative, path = locate(files, dotted)
    except LibraryViewError:
        return dotted
    return ".".join([_module_name(relative), *path])


def _module_name(relative: str) -> str:
    parts = relative.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])
