"""Stage 3, trusted: score what the sandbox handed over against the reference implementation.

Runs in a separate process per Keras backend (``Scorer``), which imports Keras for the reference
but never imports, unpickles or executes anything a learner wrote: the learner's outputs arrive as
``.npz`` bytes read with ``allow_pickle=False`` and a JSON header whose fields are checked here.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import io
import multiprocessing
import os

import numpy as np

from autograder.compare import compare

_PROBES: dict = {}
EXCEPTION_NAMES = frozenset(name for name, value in vars(builtins).items()
                            if isinstance(value, type) and issubclass(value, BaseException))


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
              "message": "", "seconds": _seconds(report)}
    weights = sum(check.weight for check in probe.checks)
    report = report if isinstance(report, dict) else None
    runtime = [name for name in (report or {}).get("delegated", []) if name in exercise.graded]
    delegated = sorted(set(static) | set(runtime))
    if report is None:
        result["message"] = _not_run_message(status)
    elif delegated:
        where = "named in your answer cell" if static else "called while your code was checked"
        result["message"] = (f"No credit: this exercise asks you to write "
                             f"{_names(exercise.names)} yourself, and your answer uses the "
                             f"library's own {', '.join(f'`{d}`' for d in delegated)} ({where}).")
    elif report.get("status") != "ok":
        result["message"] = _error_message(report, exercise)
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
    with np.load(io.BytesIO(npz), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


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
    return " and ".join(f"`{name}`" for name in names) or "this piece"


def _not_run_message(status: str) -> str:
    reasons = {"timeout": "ran out of time", "died": "crashed (the process exited or was killed)",
               "kernel_died": "crashed (the process exited or was killed)",
               "out_of_memory": "ran out of memory", "sandbox_error": "could not be run"}
    return (f"Not graded: your notebook {reasons.get(status, 'stopped')} before this exercise "
            "was checked.")


def _error_message(report: dict, exercise) -> str:
    kind = report.get("error_kind")
    if kind == "missing_name" and report.get("missing") in exercise.names:
        return f"Your notebook does not define `{report['missing']}` (after running your answer cells)."
    if kind == "exception":
        exception = report.get("exception")
        exception = exception if exception in EXCEPTION_NAMES else "an exception"
        return f"Your {_names(exercise.names)} raised {exception} when the grader called it."
    if kind in ("interrupted", "timeout"):
        return "Your code did not finish within the time limit."
    if kind == "memory":
        return "Your code ran out of memory."
    if kind == "weights":
        return ("Your layer does not create the weights this exercise defines (check their names "
                "and shapes in the exercise text).")
    return "The grader could not call your code as the exercise describes."
