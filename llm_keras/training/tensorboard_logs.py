"""TensorBoard logs of a training run, written without TensorFlow (week 3, "Monitoring a run").

``tensorboard --logdir RUN/logs`` shows a run's curves. Keras's own ``TensorBoard`` callback
writes them with ``tensorflow.summary``, so on JAX or PyTorch it imports TensorFlow (seconds of
start-up and, on a machine without a GPU, CUDA warnings), and where TensorFlow is not installed it
fails. A TensorBoard log is only a file of records, each an ``Event`` protocol buffer: this
callback writes those records itself with the ``tensorboard`` package's record writer and its
protocol buffers, which need no TensorFlow.

The layout and names are those of Keras's callback, so a reader sees the same thing: the
training metrics in ``logs/train``, the validation ones in ``logs/validation``, each under
``epoch_<name>`` (``epoch_loss``, ``epoch_perplexity``, ...) and the learning rate as
``epoch_learning_rate``. The x axis is the optimizer's step (not the evaluation interval's
index), so a resumed run continues its curves where they stopped.

Example:
    >>> model.fit(..., callbacks=[TensorBoardLogs("runs/cpu/logs")])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import keras


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (its record writer and protocol buffers) is there."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class EventFile:
    """One TensorBoard event file in ``directory``: ``scalar(tag, value, step)``, flushed at
    once, so that a run killed later keeps every point written."""

    def __init__(self, directory):
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.summary.writer.record_writer import RecordWriter

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # TensorBoard reads every file whose name holds "tfevents"; this is Keras's pattern.
        name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.v2"
        self.path = directory / name
        self._file = open(self.path, "ab")  # noqa: SIM115 (closed by close())
        self._writer = RecordWriter(self._file)
        self._event = Event
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def scalar(self, tag: str, value: float, step: int) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
        self._write(self._event(wall_time=time.time(), step=int(step), summary=summary))

    def _write(self, event) -> None:
        self._writer.write(event.SerializeToString())
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class TensorBoardLogs(keras.callbacks.Callback):
    """After each epoch (the trainer's evaluation interval), the metrics Keras reports and the
    learning rate, as scalars at the optimizer's step, in ``log_dir/train`` and
    ``log_dir/validation``."""

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = Path(log_dir)
        self._files = {}

    def _file(self, split: str) -> EventFile:
        if split not in self._files:
            self._files[split] = EventFile(self.log_dir / split)
        return self._files[split]

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        for name, value in (logs or {}).items():
            split = "validation" if name.startswith("val_") else "train"
            self._file(split).scalar(f"epoch_{name.removeprefix('val_')}", value, step)
        rate = keras.ops.convert_to_numpy(optimizer.learning_rate)
        self._file("train").scalar("epoch_learning_rate", float(rate), step)

    def on_train_end(self, logs=None):
        for file in self._files.values():
            file.close()
        self._files = {}
