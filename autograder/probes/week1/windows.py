"""Probe for week 1, exercise 6: ``next_token_windows(ids, context_length, stride=1)``.

The reference cuts the windows with NumPy's ``sliding_window_view``, as
``llm_keras.data.windows`` does for training batches.
"""

from types import SimpleNamespace

import numpy as np

from autograder.contract import Check, Exercise

EXERCISE = Exercise(
    name="next_token_windows",
    answer_cells=("windows-answer",),
    grade_cell="windows-check",
    names=("next_token_windows",),
    graded=("llm_keras.data.windows.windows_at",),
)

SHIFT_HINT = "targets[w] is inputs[w] moved by one token: ids[s + 1 : s + context_length + 1]."
CHECKS = (
    Check("inputs, stride 1", output="inputs", dtype="int", exact=True),
    Check("targets, stride 1", output="targets", dtype="int", exact=True, hint=SHIFT_HINT),
    Check("inputs, a larger stride", output="strided_inputs", dtype="int", exact=True,
          hint="Window w starts at w * stride; take every window that fits."),
    Check("targets, a larger stride", output="strided_targets", dtype="int", exact=True,
          hint=SHIFT_HINT),
)


def inputs(rng):
    context_length = int(rng.integers(2, 9))
    return {"ids": rng.integers(0, 1000, size=int(rng.integers(20, 60))),
            "context_length": np.array(context_length),
            "stride": np.array(int(rng.integers(2, context_length + 2)))}


def probe(learner, inputs):
    ids, context_length = inputs["ids"], int(inputs["context_length"])
    inputs_1, targets_1 = learner.next_token_windows(ids.tolist(), context_length)
    strided = learner.next_token_windows(ids, context_length, stride=int(inputs["stride"]))
    return {"inputs": inputs_1, "targets": targets_1,
            "strided_inputs": strided[0], "strided_targets": strided[1]}


def next_token_windows(ids, context_length, stride=1):
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(ids), context_length + 1)
    windows = windows[::stride]  # (n_windows, context_length + 1)
    return windows[:, :-1], windows[:, 1:]


def reference(inputs):
    return probe(SimpleNamespace(next_token_windows=next_token_windows), inputs)
