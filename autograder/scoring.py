"""Stage 3, trusted: score what the sandbox handed over against the reference implementation.

Runs in a separate process per Keras backend (``Scorer``), which imports Keras for the reference
but never imports, unpickles or executes anything a learner wrote: the learner's outputs arrive as
``.npz`` bytes read with ``allow_pickle=False`` and a JSON header whose fields are checked here.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import re

import numpy as np

from autograder.compare import compare
from autograder.feedback import plain_text
from autograder.sandbox.probe_tools import MAX_LISTED, describe_mismatch
from autograder.wording import series

_PROBES: dict = {}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")


class Scorer:
    """A one-process pool with ``KERAS_BACKEND`` set: ``score(tasks)`` returns exercise results."""

    def __init__(self, backend: str):
        context = multiprocessing.get_context("spawn")
        self.backend = backend
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_initialise, initargs=(backend,))
        self.warm = self.pool.submit(_warm)

    def score(self, tasks: list[dict]) -> list[dict]:
        return self.pool.submit(score_tasks, self.backend, tasks).result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _initialise(backend: str) -> None:
    os.environ["KERAS_BACKEND"] = backend
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    # TensorFlow's C++ start-up lines bypass Python's logging: keep the instructor's terminal clean.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)


def _warm() -> str:
    import keras

    return keras.backend.backend()


def score_tasks(backend: str, tasks: list[dict]) -> list[dict]:
    """Score each exercise; a task is {path, points, inputs (npz bytes), report, payload, static}."""
    return [score_exercise(backend, **task) for task in tasks]


def score_exercise(backend: str, path: str, points: float, inputs: bytes, report: dict | None,
                   payload: bytes, static: list[str], status: str) -> dict:
    from autograder.probes import load_probe

    probe = _PROBES.get(path) or _PROBES.setdefault(path, load_probe(path))
    exercise = probe.exercise
    result = {"name": exercise.name, "max_points": points, "points": 0.0, "tests": [],
              "message": "", "seconds": _seconds(report), "names": list(exercise.names),
              "uses": list(exercise.uses)}
    weights = sum(check.weight for check in probe.checks)
    report = report if isinstance(report, dict) else None
    delegated = sorted(static)  # the trusted static check's findings, never the sandbox's word
    if report is None:
        result["message"] = _not_run_message(status)
    elif delegated:
        result["message"] = (f"No credit: this exercise asks you to write "
                             f"{_names(exercise.names)} yourself, and {_owned(delegated)} "
                             f"{'is' if len(delegated) == 1 else 'are'} named "
                             "in your answer cells (or reachable through code they build at run "
                             "time: exec, getattr with a computed name...).")
    elif report.get("status") != "ok":
        result["message"] = _error_message(report, exercise, backend)
    else:
        expected = probe.reference(_load(inputs))
        got, kinds = _learner_outputs(payload, report)
        earned = 0.0
        for check in probe.checks:
            passed, message = compare(check, backend, kinds.get(check.key), got.get(check.key),
                                      np.asarray(expected[check.key]))
            share = points * check.weight / weights
            earned += share if passed else 0.0
            result["tests"].append({"name": check.name, "passed": passed,
                                    "points": round(share if passed else 0.0, 4),
                                    "max_points": round(share, 4), "message": message})
        result["points"] = round(earned, 4)
    if not result["tests"]:
        result["tests"] = [{"name": check.name, "passed": False, "points": 0.0,
                            "max_points": round(points * check.weight / weights, 4),
                            "message": result["message"]} for check in probe.checks]
    return result


def _seconds(report) -> float | None:
    """How long the probe ran in the sandbox (as the sandbox reported it)."""
    value = report.get("seconds") if isinstance(report, dict) else None
    return round(float(value), 3) if isinstance(value, int | float) else None


def _load(npz: bytes) -> dict:
    from autograder.archives import load_npz  # sizes checked before anything is decompressed

    return load_npz(npz)


def _learner_outputs(payload: bytes, report: dict) -> tuple[dict, dict]:
    kinds = report.get("kinds") if isinstance(report.get("kinds"), dict) else {}
    kinds = {str(k): str(v) for k, v in kinds.items()}
    try:
        arrays = _load(payload) if payload else {}
    except Exception:  # noqa: BLE001 - any malformed archive (or a pickled object) scores nothing
        arrays = {}
    arrays = {k: v for k, v in arrays.items() if v.dtype.kind in "biufc"}
    return arrays, kinds


def _names(names) -> str:
    """```a```, ```a`` and ``b```, ```a``, ``b`` and ``c```."""
    quoted = [f"`{name}`" for name in names]
    return series(quoted) if quoted else "this piece"


def _owned(names) -> str:
    """``the library's own `llm_keras.x` and Keras's own `keras.ops.y```: "the library" is the
    course's ``llm_keras`` only, so that a Keras function is never taken for one of its own."""
    ours = [name for name in names if name == "llm_keras" or name.startswith("llm_keras.")]
    keras = [name for name in names if name not in ours]
    return " and ".join(part for part in (ours and f"the library's own {_names(ours)}",
                                          keras and f"Keras's own {_names(keras)}") if part)


def _not_run_message(status: str) -> str:
    reasons = {"timeout": "ran out of time", "died": "crashed (the process exited or was killed)",
               "kernel_died": "crashed (the process exited or was killed)",
               "out_of_memory": "ran out of memory", "sandbox_error": "could not be run"}
    return (f"Not graded: your notebook {reasons.get(status, 'stopped')} before this exercise "
            "was checked.")


def _error_message(report: dict, exercise, backend: str) -> str:
    """The learner's message for a probe that stopped with an error (every field of ``report``
    came from the learner's process: each is checked, cut and stripped of control characters)."""
    kind = report.get("error_kind")
    if kind == "missing_name" and report.get("missing") in exercise.names:
        return f"Your notebook does not define `{report['missing']}` (after running your answer cells)."
    if kind == "exception":
        return _exception_message(report, exercise, backend)
    if kind in ("interrupted", "timeout"):
        return "Your code did not finish within the time limit."
    if kind == "memory":
        return "Your code ran out of memory."
    if kind == "weights":
        return _weights_message(report)
    return "The grader could not call your code as the exercise describes."


def _exception_message(report: dict, exercise, backend: str) -> str:
    """``Your `layer_norm` raised TypeError when the grader called it on torch: <message>``."""
    name = str(report.get("exception", ""))
    name = name if IDENTIFIER.fullmatch(name) else "an exception"
    message = plain_text(report.get("exception_message") or "", 300).strip()
    them = "them" if len(exercise.names) > 1 else "it"
    return (f"Your {_names(exercise.names)} raised {name} when the grader called {them} on "
            f"{backend}"
            + (f": {message}" if message else "."))


def _weights_message(report: dict) -> str:
    """``expected a weight named `w_out` of shape (64, 16); your only weight is
    `dense_1/kernel` (64, 16)``, from the names and shapes the probe's ``WeightsMismatch`` reported."""
    weight = plain_text(report.get("weight") or "", 120)
    expected, found = _shape(report.get("expected_shape")), _shape(report.get("found_shape"))
    if not weight or expected is None:
        return ("Your layer does not create the weights this exercise defines (check their names "
                "and shapes in the exercise text).")
    available = report.get("available") if isinstance(report.get("available"), list) else []
    available = [(plain_text(item[0], 120), _shape(item[1])) for item in available[:MAX_LISTED]
                 if isinstance(item, list | tuple) and len(item) == 2]
    message = describe_mismatch(weight, expected, found,
                                [(path, shape) for path, shape in available if shape is not None])
    return message[0].upper() + message[1:]


def _shape(value) -> tuple | None:
    """A shape reported by the sandbox, as a tuple of small ints, or None when it is not one."""
    if not isinstance(value, list | tuple) or len(value) > 8:
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 1 << 40
               for n in value):
        return None
    return tuple(value)
