"""What a graded child process does, inside the sandbox: run the cells, then the probes.

The child is forked from the zygote with the learner's limits already set. It

1. installs a tracer on the objects each exercise grades (``graded`` in the exercise), so that a
   solution that hands the graded piece to the library's own implementation can be caught;
2. runs the rebuilt notebook's code cells one by one in an IPython shell (magics work, ``input()``
   raises ``EOFError``), reporting each cell's start and end to the zygote;
3. says ``cells_done`` and waits: only now does the zygote hand over the probes and their inputs,
   so nothing printed by the cells can contain a hidden input;
4. runs each exercise's probe (``probe(learner, inputs)``) and sends its outputs back as an
   ``.npz`` archive of plain numeric arrays, with the kind of each returned value.

Everything this process reports is treated as untrusted by the grader: the learner's code runs
here and could forge any of it. The worst it can do is hand over wrong data for its own grade.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import io
import sys
import time

import numpy as np

from autograder.sandbox.probe_tools import WeightsMismatch
from autograder.sandbox.protocol import read_frame, write_frame

MAX_INPUTS = 256 << 20
EXCEPTION_NAMES = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)


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


class Tracer:
    """Records calls of the graded library objects (functions, or layer classes when built).

    Every module attribute bound to a graded object is replaced by a recording wrapper, so
    ``from llm_keras.layers import causal_mask`` and ``llm_keras.layers.causal_mask`` are both
    seen. ``calls`` holds the dotted names called since the last ``reset``.
    """

    def __init__(self, dotted_names):
        self.calls: set[str] = set()
        self.names = sorted(set(dotted_names))

    def reset(self) -> None:
        self.calls.clear()

    def install(self) -> None:
        for dotted in self.names:
            module_name, _, attribute = dotted.rpartition(".")
            try:
                original = getattr(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError):
                continue
            if isinstance(original, type):
                self._wrap_class(original, dotted)
            elif callable(original):
                self._rebind(original, self._wrap_function(original, dotted))

    def _wrap_function(self, original, dotted):
        calls = self.calls

        @functools.wraps(original)
        def traced(*args, **kwargs):
            calls.add(dotted)
            return original(*args, **kwargs)

        _hide_original(traced, original)
        return traced

    def _wrap_class(self, cls, dotted):
        calls = self.calls
        original_init = cls.__init__

        @functools.wraps(original_init)
        def traced_init(self, *args, **kwargs):
            calls.add(dotted)
            original_init(self, *args, **kwargs)

        # Keras layers read their __init__'s signature with inspect.signature, which follows
        # __wrapped__, and with inspect.getfullargspec, which does not: give both the original's,
        # or a traced layer class (llm_keras.layers.CausalSelfAttention) could not be created.
        _hide_original(traced_init, original_init)
        cls.__init__ = traced_init

    @staticmethod
    def _rebind(original, replacement) -> None:
        for module in list(sys.modules.values()):
            try:
                namespace = vars(module)
            except TypeError:
                continue
            for name, value in list(namespace.items()):
                if value is original:
                    namespace[name] = replacement


def _hide_original(wrapper, original) -> None:
    """Keep the original's signature (Keras reads it) but not the easy way back to it
    (``__wrapped__``). The original still sits in the wrapper's closure: a learner who digs it out
    on purpose defeats the tracer, not the static check, and leaves code a reviewer will see."""
    try:
        wrapper.__signature__ = inspect.signature(original)
    except (TypeError, ValueError):
        pass
    del wrapper.__wrapped__


def run(job: dict, events: int, handover: int, shell) -> None:
    """Run one submission (the child's whole life); ``events`` and ``handover`` are pipe fds."""
    tracer = Tracer(name for exercise in job["exercises"] for name in exercise["graded"])
    tracer.install()
    for index, cell in enumerate(job["cells"]):
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
        tracer.reset()
        report, arrays = _probe(exercise, payload[start : start + size], learner)
        report.update(event="exercise", name=exercise["name"], delegated=sorted(tracer.calls),
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
    except WeightsMismatch:
        return {"status": "error", "error_kind": "weights"}, b""
    except MissingName as missing:
        return {"status": "error", "error_kind": "missing_name", "missing": missing.name}, b""
    except KeyboardInterrupt:
        return {"status": "error", "error_kind": "interrupted"}, b""
    except MemoryError:
        return {"status": "error", "error_kind": "memory"}, b""
    except BaseException as error:  # the learner's code raised: report only the exception type
        name = type(error).__name__
        return {"status": "error", "error_kind": "exception",
                "exception": name if name in EXCEPTION_NAMES else "an exception"}, b""
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
