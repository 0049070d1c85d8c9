"""The record of a run: losses, learning rate and speed over the steps, and its plot (week 3, "Monitoring a run").

``LossHistory`` is a callback that keeps

- ``train``: ``[step, loss]`` every ``log_every`` steps: the mean training loss of those steps
  (Keras reports the running mean since the epoch began; the difference of two running means
  gives the mean of the steps in between);
- ``evaluations``: one dict per epoch (evaluation interval) with the step, the training loss of
  the interval, the validation loss, perplexity and bits per character, the learning rate, and
  the interval's training time and tokens per second (evaluation not included).

Its ``state()`` goes into every checkpoint, so a resumed run's history, and so its loss curve,
covers the whole run. ``plot_loss_curve`` draws it to a PNG.
"""

from __future__ import annotations

import io
import time

import keras

from llm_keras.files import atomic_output


class LossHistory(keras.callbacks.Callback):
    """Records the training and validation losses of a ``fit`` (see the module docstring).

    Args:
        tokens_per_step: tokens in one ``fit`` step (``batch_size * context_length``), to report
            tokens per second.
        log_every: record the training loss every this many steps.
        state: a ``state()`` from a checkpoint, to go on from.
    """

    def __init__(self, tokens_per_step, log_every=10, state=None):
        super().__init__()
        self.tokens_per_step = tokens_per_step
        self.log_every = log_every
        state = state or {}
        self.train = [list(point) for point in state.get("train", [])]
        self.evaluations = [dict(record) for record in state.get("evaluations", [])]

    def state(self):
        """A JSON-ready copy of the records."""
        return {"train": [list(p) for p in self.train], "evaluations": list(self.evaluations)}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = epoch * self.params["steps"]
        self._logged_steps, self._logged_mean = 0, 0.0
        self._started = self._last_step_done = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last_step_done = time.perf_counter()
        steps = batch + 1  # steps done in this epoch
        if steps - self._logged_steps < self.log_every and steps != self.params["steps"]:
            return
        mean = float(logs["loss"])  # running mean over this epoch's `steps` steps
        chunk = (steps * mean - self._logged_steps * self._logged_mean) / (
            steps - self._logged_steps
        )
        self.train.append([self._epoch_start + steps, chunk])
        self._logged_steps, self._logged_mean = steps, mean

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        steps = self.params["steps"]
        seconds = self._last_step_done - self._started
        learning_rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        record = {
            "step": (epoch + 1) * steps,
            "train_loss": float(logs["loss"]),
            "learning_rate": float(learning_rate),
            "train_seconds": seconds,
            "tokens_per_second": steps * self.tokens_per_step / seconds,
        }
        for name in ("val_loss", "val_perplexity", "val_bits_per_character"):
            if name in logs:
                record[name] = float(logs[name])
        self.evaluations.append(record)


def plot_loss_curve(state, path, title="Training"):
    """Draw a ``LossHistory.state()`` (training loss, and validation loss at each evaluation)
    against the step, to the PNG file ``path`` (written atomically). Needs matplotlib."""
    try:
        import matplotlib  # noqa: F401  (only to say clearly when it is missing)
    except ImportError:
        raise ValueError(
            "Plotting the loss curve needs matplotlib: pip install 'matplotlib>=3.8'."
        ) from None
    # A Figure of its own, never pyplot: it draws to the file without switching the process's
    # backend (which would stop a notebook's inline plots after training).
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.2), dpi=120)
    axes = figure.subplots()
    if state["train"]:
        steps, losses = zip(*state["train"], strict=True)
        axes.plot(steps, losses, color="tab:blue", linewidth=0.8, alpha=0.7, label="train")
    validated = [r for r in state["evaluations"] if "val_loss" in r]
    if validated:
        axes.plot(
            [r["step"] for r in validated],
            [r["val_loss"] for r in validated],
            color="tab:orange",
            marker="o",
            label=f"validation (last {validated[-1]['val_loss']:.4f})",
        )
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per token)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with atomic_output(path) as file:
        file.write(buffer.getvalue())
    return path
