"""The sandbox's copy of the library leaves out what an assignment grades; every exercise says
what it grades; the static check reads through the usual disguises (no sandbox needed here)."""

from __future__ import annotations

import ast
import importlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.contract import ContractError, Exercise
from autograder.delegation import references
from autograder.library_view import (
    LibraryViewError,
    _canonical,
    _sources,
    dependents,
    installed_library,
    library_view,
    locate,
    rewrite,
    undefined,
)
from autograder.probes import ProbeError, load_probe

ROOT = Path(__file__).resolve().parents[3]
# every assignment of the course (weeks 1, 2, 5 and any added since) and the demo
PROBE_FOLDERS = {folder.name: folder
                 for folder in sorted((ROOT / "autograder" / "probes").iterdir())
                 if folder.is_dir() and not folder.name.startswith(("_", "."))}
PROBE_FOLDERS["demo"] = ROOT / "autograder" / "example_course" / "autograder" / "probes" / "demo"
WEEK2 = ("llm_keras.layers.CausalSelfAttention", "llm_keras.layers.LayerNorm",
         "llm_keras.layers.SinusoidalPositionalEncoding", "llm_keras.layers.TransformerBlock",
         "llm_keras.layers.causal_mask")
LEFT_OUT = "is the piece this assignment grades, so the grader's copy of the library leaves it out"


def _probes(assignment):
    return [load_probe(path) for path in sorted(PROBE_FOLDERS[assignment].glob("*.py"))
            if not path.name.startswith("_")]


def _resolve(dotted):
    """The object a dotted name names in the installed library or Keras."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for name in parts[end:]:
            value = getattr(value, name)
        return value
    raise ImportError(dotted)


def _run_in_view(view: Path, code: str) -> dict:
    """Run ``code`` with ``view`` as ``llm_keras``; it prints one JSON line, returned."""
    env = dict(os.environ, PYTHONPATH=str(view.parent), KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, env=env, timeout=300, cwd=view.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- every exercise says what it grades -----------------------------------------------------------


@pytest.mark.parametrize("assignment", sorted(PROBE_FOLDERS))
def test_every_probe_names_graded_pieces_that_exist(assignment):
    probes = _probes(assignment)
    assert len(probes) >= 4 and {"week1", "week2", "week5", "demo"} <= set(PROBE_FOLDERS)
    for probe in probes:
        graded = probe.exercise.graded
        assert graded, probe.path
        library = [name for name in graded if name.startswith(("llm_keras.", "keras."))]
        assert library == list(graded), (probe.path, graded)
        for name in graded:
            assert callable(_resolve(name)) or isinstance(_resolve(name), dict), (probe.path, name)
    files = _sources(installed_library())
    for probe in probes:  # and the grader's copy finds where each is defined, as grading does
        for name in probe.exercise.graded:
            if name.startswith("llm_keras."):
                relative, path = locate(files, name)
                assert relative in files and path[-1] == name.split(".")[-1], (probe.path, name)


@pytest.mark.parametrize("assignment", sorted(PROBE_FOLDERS))
def test_no_probe_needs_a_left_out_piece_in_the_sandbox(assignment):
    """What runs in the sandbox (the probe's imports and ``probe``) imports from ``llm_keras``
    neither a piece the assignment grades nor library code that calls one."""
    probes = _probes(assignment)
    graded = {name for probe in probes for name in probe.exercise.graded
              if name.startswith("llm_keras.")}
    files = _sources(installed_library())
    lost = {_canonical(files, name) for name in graded} | set(dependents(graded))
    assert "llm_keras.layers.causal_self_attention.causal_mask" in lost or assignment != "week2"
    for probe in probes:
        imported = [f"{node.module}.{alias.name}"
                    for node in ast.walk(ast.parse(probe.sandbox_source))
                    if isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith("llm_keras") for alias in node.names]
        assert not {_canonical(files, name) for name in imported} & lost, (probe.path, imported)


def test_the_pieces_once_missing_are_named():
    graded = {probe.exercise.name: probe.exercise.graded
              for assignment in PROBE_FOLDERS for probe in _probes(assignment)}
    assert graded["get_pair_counts"] == ("llm_keras.tokenizers.bpe_merges.learn_merges",)
    assert graded["next_token_windows"] == ("llm_keras.data.windows.windows_at",)
    assert graded["split_merge_heads"] == ("llm_keras.layers.CausalSelfAttention",)


def test_a_graded_name_the_library_does_not_define_is_named():
    problems = undefined(["llm_keras.layers.causal_mask", "llm_keras.layers.causal_masks",
                          "llm_keras.nowhere.thing", "keras.ops.not_checked_here"])
    assert sorted(problems) == ["llm_keras.layers.causal_masks", "llm_keras.nowhere.thing"]
    assert "layers/__init__.py neither defines nor imports 'causal_masks'" in problems[
        "llm_keras.layers.causal_masks"]


def test_an_exercise_without_graded_pieces_is_refused(tmp_path):
    with pytest.raises(ContractError, match="must say which library pieces it grades"):
        Exercise(name="mask", answer_cells=("a",), grade_cell="b")
    with pytest.raises(ContractError, match="graded='llm_keras.layers.causal_mask'"):
        Exercise(name="mask", answer_cells=("a",), grade_cell="b",
                 graded="llm_keras.layers.causal_mask")
    source = (PROBE_FOLDERS["demo"] / "causal_mask.py").read_text()
    probe = tmp_path / "causal_mask.py"
    probe.write_text(source.replace('    graded=("llm_keras.layers.causal_mask",),\n', ""))
    with pytest.raises(ProbeError, match=f"{probe}: Exercise 'causal_mask' must say which"):
        load_probe(probe)


# --- the copy of the library --------------------------------------------------------------------


def test_graded_pieces_are_stubs_and_everything_else_is_the_library(tmp_path):
    view = library_view(WEEK2, cache=tmp_path)
    assert view.name == "llm_keras" and view.parent.parent == tmp_path
    source = installed_library()
    originals = {p.relative_to(source).as_posix() for p in source.rglob("*.py")
                 if "__pycache__" not in p.parts}
    copied = {p.relative_to(view).as_posix() for p in view.rglob("*")}
    assert not any("__pycache__" in name or not name.endswith(".py") for name in copied
                   if (view / name).is_file())
    assert {n for n in copied if (view / n).is_file()} == originals | {"_left_out.py"}
    changed = {name for name in originals
               if (view / name).read_bytes() != (source / name).read_bytes()}
    assert changed == {"layers/causal_self_attention.py", "layers/normalization.py",
                       "layers/positional_embedding.py", "layers/transformer_block.py"}
    # the definitions' code is gone, the rest of those modules is the library's
    text = (view / "layers/causal_self_attention.py").read_text()
    assert "query_positions[:, None] >= key_positions[None, :]" not in text
    assert "def written_out_attention" not in text and "def split_heads" not in text
    assert "causal_mask = _left_out_.function('llm_keras.layers.causal_mask')" in text
    assert "class RMSNorm" in (view / "layers/normalization.py").read_text()
    assert all(stat.S_IMODE(os.stat(p).st_mode) in (0o644, 0o755) for p in view.rglob("*"))


def test_the_copy_imports_and_refuses_only_the_graded_pieces(tmp_path):
    view = library_view(WEEK2, cache=tmp_path)
    result = _run_in_view(view, """
        import importlib.util, json, os
        import numpy as np
        import llm_keras
        from llm_keras.layers import (CausalSelfAttention, LayerNorm, RMSNorm,
                                      TransformerBlock, causal_mask)
        from llm_keras.models import GPT, GPTConfig
        from llm_keras.tokenizers import ByteLevelBPETokenizer

        def error(function):
            try:
                function()
            except NotImplementedError as e:
                return str(e)
            return "no error"

        def private_copy():   # the module loaded from its file, under another name
            folder = os.path.dirname(llm_keras.__file__)
            path = os.path.join(folder, "layers", "causal_self_attention.py")
            spec = importlib.util.spec_from_file_location("private", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.causal_mask(3, 3)

        stand_in = object.__new__(CausalSelfAttention)
        norm = RMSNorm()
        y = norm(np.ones((1, 2, 4), "float32"))
        tokenizer = ByteLevelBPETokenizer.train("low lower lowest " * 20, vocab_size=260,
                                                progress=False)
        print(json.dumps({
            "file": llm_keras.__file__,
            "mask": error(lambda: causal_mask(3, 3)),
            "layer": error(lambda: CausalSelfAttention(8, 2)),
            "unbound": error(
                lambda: CausalSelfAttention.written_out_attention(stand_in, 1, 2, 3, 4)),
            "subclass": error(lambda: type("Mine", (TransformerBlock,), {})(8, 2, 32)),
            "norm": error(lambda: LayerNorm()),
            "private": error(private_copy),
            "gpt": error(lambda: GPT(GPTConfig(vocab_size=10, context_length=4, d_model=8,
                                               n_layers=1, n_heads=2))),
            "rms": np.asarray(y).ravel().tolist(),
            "merges": len(tokenizer.merges),
        }))
    """)
    assert result["file"] == str(view / "__init__.py")
    for key, name in (("mask", "causal_mask"), ("layer", "CausalSelfAttention"),
                      ("unbound", "CausalSelfAttention"), ("subclass", "TransformerBlock"),
                      ("norm", "LayerNorm"), ("private", "causal_mask"), ("gpt", "")):
        assert LEFT_OUT in result[key], (key, result[key])
        assert f"llm_keras.layers.{name}" in result[key], (key, result[key])
    assert result["rms"] == pytest.approx([1.0] * 8, abs=1e-3)  # RMSNorm of ones: ones
    assert result["merges"] == 4  # week 1's tokenizer stays in the week 2 copy


def test_a_constant_and_a_lazily_exported_name_are_left_out_too():
    files = {"__init__.py": "",
             "lazy_exports.py": (installed_library() / "lazy_exports.py").read_text(),
             "pkg/__init__.py": ('"""doc"""\nfrom llm_keras.lazy_exports import lazy_exports\n\n'
                                 '_NAMES = {"inner": ("helper",)}\n'
                                 '__getattr__, __all__ = lazy_exports(__name__, _NAMES)\n'),
             "pkg/inner.py": ('"""doc"""\n\nfrom __future__ import annotations\n\n'
                              'TABLE = {"a": 1}\n\n\n@staticmethod\ndef helper(x):\n'
                              '    return TABLE[x]\n\n\ndef other():\n    return 2\n\n\n'
                              'class Box:\n    def open(self):\n        return 3\n')}
    assert locate(files, "llm_keras.pkg.helper") == ("pkg/inner.py", ["helper"])
    inline = dict(files, **{"pkg/__init__.py": (  # the table written in the call itself
        '"""doc"""\nfrom llm_keras.lazy_exports import lazy_exports\n\n'
        '__getattr__, __all__ = lazy_exports(__name__, {"inner": ("helper", "other")})\n')})
    assert locate(inline, "llm_keras.pkg.other") == ("pkg/inner.py", ["other"])
    out = rewrite(files, ["llm_keras.pkg.helper", "llm_keras.pkg.inner.TABLE",
                          "llm_keras.pkg.inner.Box.open"])
    assert out["pkg/inner.py"] == (
        '"""doc"""\n\nfrom __future__ import annotations\n'
        "from llm_keras import _left_out as _left_out_  # the grader's copy\n\n"
        "TABLE = _left_out_.value('llm_keras.pkg.inner.TABLE')\n\n\n"
        "helper = _left_out_.function('llm_keras.pkg.helper')\n\n\ndef other():\n    return 2\n\n\n"
        "class Box:\n    open = _left_out_.function('llm_keras.pkg.inner.Box.open')\n")
    with pytest.raises(LibraryViewError, match="neither defines nor imports 'missing'"):
        rewrite(files, ["llm_keras.pkg.inner.missing"])
    namespace = {}
    exec(compile(out["_left_out.py"], "_left_out.py", "exec"), namespace)  # noqa: S102 - ours
    table = namespace["value"]("llm_keras.pkg.inner.TABLE")
    for use in (lambda: table["a"], lambda: list(table), lambda: table.items(),
                lambda: "a" in table):
        with pytest.raises(NotImplementedError, match="`llm_keras.pkg.inner.TABLE` is the piece"):
            use()


def test_the_copy_is_cached_per_sources_and_names(tmp_path):
    first = library_view(WEEK2, cache=tmp_path / "cache")
    built = first.stat().st_mtime_ns
    assert library_view(reversed(WEEK2), cache=tmp_path / "cache") == first
    assert first.stat().st_mtime_ns == built
    assert library_view(WEEK2[:1], cache=tmp_path / "cache") != first
    (first / "layers" / "feed_forward.py").unlink()  # a temp-folder cleaner's work: rebuilt
    assert library_view(WEEK2, cache=tmp_path / "cache") == first
    assert (first / "layers" / "feed_forward.py").read_bytes() == (
        installed_library() / "layers" / "feed_forward.py").read_bytes()
    source = tmp_path / "source"
    library = installed_library()
    for path in library.rglob("*.py"):
        if "__pycache__" not in path.parts:
            (source / path.relative_to(library)).parent.mkdir(parents=True, exist_ok=True)
            (source / path.relative_to(library)).write_bytes(path.read_bytes())
    same = library_view(WEEK2, source=source, cache=tmp_path / "cache")
    assert same == first
    (source / "layers" / "feed_forward.py").write_text(
        (source / "layers" / "feed_forward.py").read_text() + "\n# edited\n")
    assert library_view(WEEK2, source=source, cache=tmp_path / "cache") != first


def test_a_cache_folder_others_can_write_to_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    view = library_view(WEEK2[:1], cache=shared)
    assert shared not in view.parents and (view / "_left_out.py").is_file()


def test_dependents_name_the_library_code_an_assignment_loses():
    lost = dependents(WEEK2)
    assert "llm_keras.models.gpt.GPT" in lost
    assert "llm_keras.layers.feed_forward.FeedForward" not in lost
    windows = dependents(["llm_keras.data.windows.windows_at"])
    assert "llm_keras.data.windows.random_batch" in windows


# --- the static check for Keras's pieces ---------------------------------------------------------

SOFTMAX = ("keras.ops.softmax", "keras.activations.softmax")


@pytest.mark.parametrize("source", [
    "from keras.src.ops.nn import softmax as s\n",
    "import jax\nf = jax.nn.softmax\n",
    "import torch.nn.functional as F\nf = F.softmax\n",
    "import importlib\nm = importlib.import_module('ker' + 'as.ops')\n"
    "f = getattr(m, 'soft' + 'max')\n",
    "from keras import ops\nf = ops.__dict__['soft' + 'max']\n",
    "from keras import ops\nf = vars(ops)[f'{\"soft\"}max']\n",
    "from keras import ops\nf = getattr(ops, ''.join(['so', 'ft', 'max']))\n",
    "from keras import ops\nf = getattr(ops, 'xamtfos'[::-1])\n",
    "import base64\nexec(base64.b64decode('Zj0x'))\n",
    "import sys\nf = sys.modules['keras.ops'].softmax\n",
])
def test_static_check_reads_through_disguises(source):
    assert references([source], SOFTMAX) == sorted(SOFTMAX)


def test_static_check_leaves_honest_code_and_other_cells_alone():
    honest = ("def softmax(x, axis=-1):\n"
              "    e = ops.exp(x - ops.max(x, axis=axis, keepdims=True))\n"
              "    return e / ops.sum(e, axis=axis, keepdims=True)\n")
    assert references([honest], SOFTMAX, ["from keras import ops", "def f(layer, name):\n"
                                          "    return getattr(layer, name)\n"]) == []
    # code that builds names anywhere in the notebook counts for Keras's pieces, not the library's
    hidden = "import importlib\n_f = getattr(importlib.import_module(NAME), 'x')\n"
    assert references([honest], SOFTMAX, [hidden]) == sorted(SOFTMAX)
    assert references([honest], ("llm_keras.layers.causal_mask",), [hidden]) == []


def test_reference_solutions_pass_the_static_check():
    demo = ROOT / "autograder" / "example_course"
    for path in [*ROOT.glob("solutions/*/*.ipynb"), *demo.glob("solutions/*/*.ipynb")]:
        if path.parent.name not in PROBE_FOLDERS:
            continue
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        answers = {cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
                   for cell in cells if cell["metadata"].get("nbgrader", {}).get("solution")}
        assignment = path.parent.name
        for probe in _probes(assignment):
            sources = [answers[cell] for cell in probe.exercise.answer_cells]
            found = references(sources, probe.exercise.graded, code)
            assert found == [], (path, probe.exercise.name)
