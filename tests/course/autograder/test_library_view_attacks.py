"""Reaching the library's own version of a graded piece earns nothing (issue 19, class 2).

Each attack wraps an honest wrong answer of the demo assignment: it tries the library's
``causal_mask`` or ``CausalSelfAttention`` and falls back to the wrong answer when that fails.
Graded through the real sandbox, whose ``llm_keras`` leaves those pieces out, no attack may score
more than the wrong answer it wraps, and the reference keeps its full marks. The same attacks
graded with the whole library in the sandbox (the control) do score more: that is what the
copy of the library prevents.
"""

from __future__ import annotations

import pytest

import autograder.grading
from autograder.grading import Options, grade
from autograder.library_view import installed_library
from tests.course.autograder import corpus
from tests.course.autograder.conftest import TEST_LIMITS, make_course

MASK_ALL_TRUE = "    return ops.ones((seq_len, seq_len), dtype=\"bool\")\n"

# (a) an unbound method of the library's class, called with a stand-in `self` (no __init__ runs)
UNBOUND_METHOD = '''import inspect
from llm_keras import layers as _layers
_cls = dict(inspect.getmembers(_layers)).get("Causal" + "SelfAttention")
''' + corpus.SCALE_BY_D.replace("    d = ops.shape(q)[-1]", '''    try:
        fake = object.__new__(_cls)
        object.__setattr__(fake, "head_dim", ops.shape(q)[-1])
        object.__setattr__(fake, "attention_dropout", lambda w, training=None: w)
        if mask is None:
            mask = ops.ones((ops.shape(q)[1], ops.shape(k)[1]), dtype="bool")
        out, _ = _cls.written_out_attention(fake, q[:, :, None, :], k[:, :, None, :],
                                            v[:, :, None, :], mask)
        return out[:, :, 0, :]
    except Exception:
        pass
    d = ops.shape(q)[-1]''', 1)

# (b) a private copy of the library's module, loaded from its file (the sandbox's copy, the
# installed library's folder, or where the editable install's finder says the source is)
PRIVATE_COPY = '''import importlib.util, os, sys
import llm_keras as _package

def _private(path):
    spec = importlib.util.spec_from_file_location("_private_copy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

_folders = [os.path.dirname(_package.__file__), "{library}"]
for _module in list(sys.modules.values()):
    if isinstance(getattr(_module, "MAPPING", None), dict):
        _folders += list(_module.MAPPING.values())
_mask = None
for _folder in _folders:
    try:
        _module = _private(os.path.join(_folder, "layers", "causal_self_attention.py"))
        _mask = getattr(_module, "causal" + "_mask")
        _mask(2, 2)
        break
    except Exception:
        _mask = None

def causal_mask(seq_len):
    if _mask is not None:
        return _mask(seq_len, seq_len)
''' + MASK_ALL_TRUE

# (c) the library's function taken, then hidden: sys.modules patched, every `delegated` list faked
HIDDEN = '''import sys, types
from llm_keras import layers as _layers
_lib = _layers.__getattribute__("causal" + "_mask")
sys.modules[_layers.__name__] = types.ModuleType(_layers.__name__)
for _module in list(sys.modules.values()):
    try:
        for _attr in ("delegated", "calls"):
            if isinstance(getattr(_module, _attr, None), (list, set)):
                getattr(_module, _attr).clear()
        _module.delegated = []
    except Exception:
        pass

def causal_mask(seq_len):
    try:
        return _lib(seq_len, seq_len)
    except Exception:
''' + "    " + MASK_ALL_TRUE

# (d) the plain import
PLAIN_IMPORT = '''from llm_keras.layers import causal_mask as _library_mask

def causal_mask(seq_len):
    try:
        return _library_mask(seq_len, seq_len)
    except Exception:
''' + "    " + MASK_ALL_TRUE

ATTACKS = {  # name: (answers, the honest wrong answer it wraps, the exercise the library would win)
    "a_unbound_method": ({"attention-answer": UNBOUND_METHOD}, "scale_by_d", "attention"),
    "b_private_copy": ({"causal-mask-answer": PRIVATE_COPY}, "no_causal_mask", "causal_mask"),
    "c_hidden_sys_modules": ({"causal-mask-answer": HIDDEN}, "no_causal_mask", "causal_mask"),
    "d_plain_import": ({"causal-mask-answer": PLAIN_IMPORT}, "no_causal_mask", "self_attention"),
}
HONEST = [corpus.Case("reference", 8), corpus.Case("scale_by_d", 4, answers=corpus.WRONG),
          corpus.Case("no_causal_mask", 5.5, answers={"causal-mask-answer": corpus.MASK_ALL_TRUE})]
BACKENDS = ("torch",)  # the copy of the library does not depend on the backend


@pytest.fixture(scope="module")
def graded(tmp_path_factory, sandbox_available):
    """{student: record} with the assignment's copy of the library, and {student: record} of
    the attacks graded with the whole library in the sandbox (the control)."""
    root = tmp_path_factory.mktemp("library_view") / "course"
    course = make_course(root)
    paths = {"release": course.release("demo") / "demo.ipynb", "library": installed_library()}
    cases = HONEST + [corpus.Case(name, 0, answers=answers)
                      for name, (answers, _, _) in ATTACKS.items()]
    for case in cases:
        corpus.build(case, root / "submitted" / case.name / "demo", paths)
        if case.name in ATTACKS:
            corpus.build(case, root / "control" / f"control_{case.name}" / "demo", paths)
    options = Options(backends=BACKENDS, workers=2, limits=TEST_LIMITS,
                      sandboxed=sandbox_available, progress=False)
    records = grade(course, "demo", root / "submitted", options).graded
    with pytest.MonkeyPatch.context() as patch:  # the control: the installed llm_keras, whole
        patch.setattr(autograder.grading, "assignment_library", lambda assignment: None)
        control = grade(course, "demo", root / "control", options).graded
    return records, control


def _points(record, exercise):
    return next(e["points"] for e in record["exercises"] if e["name"] == exercise)


def _message(record, exercise):
    return next(e["message"] for e in record["exercises"] if e["name"] == exercise)


def _explain(record):
    exercises = [(e["name"], e["points"], e["message"]) for e in record["exercises"]]
    return exercises + record["messages"]


def test_the_reference_keeps_its_full_marks(graded):
    records, _ = graded
    for case in HONEST:
        assert records[case.name]["status"] == "graded"
        record = records[case.name]
        assert record["score"] == pytest.approx(case.score), _explain(record)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_no_attack_beats_the_wrong_answer_it_wraps(graded, name):
    records, control = graded
    _, wrong, exercise = ATTACKS[name]
    record, wrong = records[name], records[wrong]
    assert record["status"] == "graded", _explain(record)
    assert record["score"] <= wrong["score"], _explain(record)
    # with the whole library in the sandbox, the library's piece would have earned points
    won = control[f"control_{name}"]
    assert _points(won, exercise) > _points(record, exercise), _explain(won)


def test_the_copy_not_the_static_check_stops_the_disguised_attacks(graded):
    """The unbound method, the private copy and the patched sys.modules name no graded piece:
    their exercise gets exactly the wrong answer's points, without a "No credit" message."""
    records, _ = graded
    for name in ("a_unbound_method", "b_private_copy", "c_hidden_sys_modules"):
        _, wrong, exercise = ATTACKS[name]
        record, wrong = records[name], records[wrong]
        expected = _points(wrong, exercise)
        assert _points(record, exercise) == pytest.approx(expected), _explain(record)
        assert "No credit" not in _message(record, exercise), _explain(record)
    # code that builds names at run time (importlib.util, sys.modules) costs the exercises graded
    # against Keras's pieces, which no copy of the library can remove: softmax and attention
    for name in ("b_private_copy", "c_hidden_sys_modules"):
        assert _points(records[name], "softmax") == 0 and _points(records[name], "attention") == 0
        assert "No credit" in _message(records[name], "softmax")
    # the plain import is named in the answer cell: no credit for causal_mask, and the
    # self-attention that calls it gets the all-True mask (the library's is absent)
    plain = records["d_plain_import"]
    assert _points(plain, "causal_mask") == 0 and _points(plain, "self_attention") == 0
    assert "llm_keras.layers.causal_mask" in _message(plain, "causal_mask")
    assert plain["score"] == pytest.approx(5.0), _explain(plain)
