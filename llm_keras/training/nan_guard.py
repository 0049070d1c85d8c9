"""Stopping a run that diverged, and saying what to do about it (week 3, "When training goes wrong").

Once one step produces a loss of ``nan`` or ``inf``, the weights are usually ``nan`` too and
every later step is wasted. ``NaNGuard`` checks the loss after each step and stops training at
the first bad one, with a message that lists the usual remedies. (Keras's own
``TerminateOnNaN`` stops too, but silently, and only after the epoch's checkpoint could have
saved the broken weights: this guard raises, so no later callback sees them.)
"""

import math

import keras


class TrainingDiverged(ValueError):
    """The loss became ``nan`` or ``inf``; the message says at which step and what to try."""


class NaNGuard(keras.callbacks.Callback):
    """Raises ``TrainingDiverged`` at the first step whose loss is not finite.

    The loss Keras reports is the running mean since the start of the epoch, which is ``nan``
    from the first bad step on. Steps are counted as ``epoch * steps_per_epoch + batch + 1``
    (a resumed ``fit`` passes ``initial_epoch``, so the count goes on). With
    ``steps_per_execution > 1`` Keras reports once per execution, so the step named is the last
    one of the execution that went wrong.

    Example:
        >>> model.fit(batches, epochs=8, steps_per_epoch=250, callbacks=[NaNGuard()])
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = epoch * self.params["steps"]

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            step = self._epoch_start + batch + 1
            learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            raise TrainingDiverged(divergence_message(loss, step, learning_rate))


def divergence_message(loss, step, learning_rate):
    """What went wrong at ``step`` and what to try (used by ``NaNGuard``)."""
    return (
        f"Training diverged: the loss became {loss} at step {step} (learning rate "
        f"{learning_rate:.3g}). Training stopped; the checkpoints written before this step are "
        "intact. Remedies: lower the learning rate (e.g. --learning-rate "
        f"{learning_rate / 3:.1e}) or lengthen the warm-up (--warmup-steps); clip the "
        "gradients (--grad-clip 1.0); with --dtype-policy mixed_float16, use mixed_bfloat16 or "
        "float32 instead. Then start a new run (a new --out folder)."
    )
