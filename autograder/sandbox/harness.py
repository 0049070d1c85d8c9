"""What a graded child process does, inside the sandbox: run the cells, then the probes.

The child is forked (by the zygote's supervisor of this job) with the learner's limits already
set and, in the sandbox, in namespaces of its own. It

1. runs the rebuilt notebook's code cells one by one in an IPython shell (magics work, ``input()``
   raises ``EOFError``), reporting each cell's start and end to the supervisor;
2. says ``cells_done`` and waits: only now does the grader send the probes and their inputs,
   which this process has never held before (nothing of them was in the zygote it was forked
   from), and nothing printed from now on reaches the learner's feedback;
3. runs each exercise's probe (``probe(learner, inputs)``) and sends its outputs back as an
   ``.npz`` archive of plain numeric arrays, with the kind of each returned value.

Everything this process reports is treated as untrusted by the grader: the learner's code runs
here and could forge any of it. The worst it can do is hand over wrong data for its own grade.
Which library pieces a solution used is not asked of this process: the pieces an assignment
grades are absent from the library mounted here, and the static check runs on the trusted side.
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np

from autograder.sandbox.probe_tools import WeightsMismatch
from autograder.sandbox.protocol import read_frame, write_frame

MAX_INPUTS = 256 << 20


class MissingName(Exception):
    """The probe asked for a name that the learner's cells did not define."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class Learner:
    """What a probe sees of the notebook: ``learner.softmax`` is the learner's ``softmax``."""

    def __init__(self, namespace: dict):
        object.__setattr__(self, "_namespace", namespace)

    def __getattr__(self, name: str):
        try:
            return self._namespace[name]
        except KeyError:
            raise MissingName(name) from None


def run(cells: list, events: int, handover: int, shell) -> None:
    """Run one submission (the child's whole life); ``events`` and ``handover`` are pipe fds."""
    for index, cell in enumerate(cells):
        write_frame(events, {"event": "cell_start", "index": index})
        started = time.monotonic()
        result = shell.run_cell(cell["source"], store_history=False)
        error = result.error_before_exec or result.error_in_exec
        write_frame(events, {
            "event": "cell_end", "index": index, "status": "ok" if error is None else "error",
            "error": None if error is None else _describe(error),
            "memory_error": isinstance(error, MemoryError),
            "seconds": round(time.monotonic() - started, 3),
        })
        sys.stdout.flush()
    write_frame(events, {"event": "cells_done"})

    header, payload = read_frame(handover, MAX_INPUTS)
    learner = Learner(shell.user_ns)
    for exercise in header["exercises"]:
        write_frame(events, {"event": "probe_start", "name": exercise["name"]})
        started = time.monotonic()
        start, size = exercise["inputs"]
        report, arrays = _probe(exercise, payload[start : start + size], learner)
        report.update(event="exercise", name=exercise["name"],
                      seconds=round(time.monotonic() - started, 3))
        write_frame(events, report, arrays)
    write_frame(events, {"event": "finished"})


def _probe(exercise: dict, inputs_npz: bytes, learner: Learner) -> tuple[dict, bytes]:
    """Call the exercise's probe; return (report, npz bytes of its outputs)."""
    try:
        with np.load(io.BytesIO(inputs_npz), allow_pickle=False) as archive:
            inputs = {key: archive[key] for key in archive.files}
        namespace = {"__name__": f"probe_{exercise['name']}"}
        exec(compile(exercise["source"], f"<probe {exercise['name']}>", "exec"), namespace)
        outputs = namespace["probe"](learner, inputs)
        if not isinstance(outputs, dict):
            return {"status": "error", "error_kind": "probe_result"}, b""
        arrays, kinds = {}, {}
        for key, value in outputs.items():
            kinds[str(key)], array = _to_array(value)
            if array is not None:
                arrays[str(key)] = array
    except WeightsMismatch as mismatch:  # which weight, the shape expected and the one found
        return {"status": "error", "error_kind": "weights", **mismatch.fields()}, b""
    except MissingName as missing:
        return {"status": "error", "error_kind": "missing_name", "missing": missing.name}, b""
    except KeyboardInterrupt:
        return {"status": "error", "error_kind": "interrupted"}, b""
    except MemoryError:
        return {"status": "error", "error_kind": "memory"}, b""
    except BaseException as error:  # the learner's code raised: its type and message
        return {"status": "error", "error_kind": "exception", "exception": type(error).__name__,
                "exception_message": _message(error)}, b""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return {"status": "ok", "kinds": kinds}, buffer.getvalue()


def _to_array(value) -> tuple[str, np.ndarray | None]:
    """(kind, numeric array) for a returned value; the array is None when it is not numeric."""
    import keras

    if isinstance(value, np.ndarray):
        kind = "ndarray"
        array = np.asarray(value).view(np.ndarray)
    elif keras.ops.is_tensor(value):
        kind = "tensor"
        array = np.asarray(keras.ops.convert_to_numpy(value))
    elif type(value) in (list, tuple, int, float, bool):
        kind = type(value).__name__
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            return kind, None
    elif value is None:
        return "None", None
    else:
        return "other", None
    if array.dtype.kind not in "biufc":
        return kind, None
    return kind, np.array(array, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)


def _describe(error: BaseException) -> str:
    """``TypeError: ...`` for a cell's error (cells run before any hidden input exists)."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


def _message(error: BaseException, limit: int = 300) -> str:
    """The exception's message, at most ``limit`` characters (the trusted side strips control
    characters from it, as from everything this process reports)."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a learner's exception whose __str__ fails has no message
        return ""
    return text if len(text) <= limit else text[: limit - 3] + "..."
