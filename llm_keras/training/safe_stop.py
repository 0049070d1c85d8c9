"""Stopping a run between two steps when Ctrl-C or SIGTERM arrives (week 3, "When training goes wrong").

``llm_keras.interrupts`` explains why a signal must not interrupt a training step wherever it
lands. A trainer runs ``model.fit`` inside ``stop_at_safe_points()`` with ``StopBetweenSteps()``
among its callbacks:

    with stop_at_safe_points():
        model.fit(..., callbacks=[..., StopBetweenSteps()])

The callback raises ``KeyboardInterrupt`` before the next training or validation step, after
the step (and an interval's checkpoint) in progress has finished.
"""

import keras

from llm_keras.interrupts import raise_if_stop_requested, stop_at_safe_points

__all__ = ["StopBetweenSteps", "stop_at_safe_points"]


class StopBetweenSteps(keras.callbacks.Callback):
    """Raise the ``KeyboardInterrupt`` of a noted Ctrl-C or SIGTERM before a step begins.

    It acts only in ``on_*_batch_begin``, which Keras calls synchronously without converting the
    step's logs, so it costs nothing per step.
    """

    def on_train_batch_begin(self, batch, logs=None):
        raise_if_stop_requested()

    def on_test_batch_begin(self, batch, logs=None):
        raise_if_stop_requested()
