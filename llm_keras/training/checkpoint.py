"""Checkpoints: everything a run needs to continue exactly where it stopped (week 3, "Checkpoints and exact resume").

A checkpoint is one ``.npz`` file, ``DIR/checkpoints/step-00000500.npz``, holding

- every variable of the model (weights, and the random-number state of its dropout layers),
- every variable of the optimizer: its step counter, Adam's two running averages per weight,
  the gradient-accumulation buffers and the loss scale when there are some,
- a JSON ``state``: the step, the loss history so far, anything the trainer adds.

The data position needs no saving: the batches of step ``s`` depend only on the seed and ``s``
(``llm_keras.data.windows``). So a run resumed from the checkpoint of step ``s`` computes
exactly what the uninterrupted run computed after step ``s``.

Files appear whole or not at all (``llm_keras.files.atomic_output``): a run killed while saving
leaves the previous checkpoints untouched and at most a hidden ``.part`` file, which the next
save removes. Only the last ``keep`` checkpoints are kept.

A checkpoint is verified when it is read: the zip archive and each member's CRC-32, then a
SHA-256 of every array that the state records. A damaged file (truncated, emptied, a flipped
byte, by a full disk or a copy cut short) raises ``DamagedCheckpoint``, naming it; resuming sets
it aside as ``step-*.npz.damaged`` and goes on from the newest intact one
(``restore_latest_intact``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from pathlib import Path

import keras
import numpy as np

from llm_keras.files import atomic_output

CHECKPOINT_DIR = "checkpoints"
FORMAT = "llm_keras.checkpoint"
VERSION = 1
_NAME = re.compile(r"^step-(\d{8})\.npz$")
DAMAGED_SUFFIX = ".damaged"


class DamagedCheckpoint(ValueError):
    """A checkpoint file that cannot be read back whole: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path} is damaged ({reason}).")
        self.path, self.reason = Path(path), reason


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    """``directory/checkpoints/step-<8-digit step>.npz``."""
    return Path(directory) / CHECKPOINT_DIR / f"step-{step:08d}.npz"


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The complete checkpoints of a run directory, oldest first."""
    folder = Path(directory) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The newest checkpoint of a run directory, or ``None``."""
    checkpoints = list_checkpoints(directory)
    return checkpoints[-1] if checkpoints else None


def _optimizer_variables(model):
    if model.optimizer is None:
        raise ValueError("The model has no optimizer: compile it before saving or restoring.")
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model.optimizer.variables


def save_checkpoint(path: str | os.PathLike, model, state: dict) -> Path:
    """Write ``model``'s and its optimizer's variables and ``state`` (JSON-ready) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(".*.part"):  # left by a run killed while saving
        stale.unlink(missing_ok=True)
    groups = {"model": model.variables, "optimizer": _optimizer_variables(model)}
    arrays = {}
    for group, variables in groups.items():
        for i, variable in enumerate(variables):
            arrays[f"{group}_{i:05d}"] = host_array(variable)
    full_state = {
        "format": FORMAT,
        "version": VERSION,
        **{f"{group}_variables": [v.path for v in vs] for group, vs in groups.items()},
        **state,
    }
    full_state["sha256"] = arrays_digest(arrays)
    arrays["state"] = np.array(json.dumps(full_state))
    with atomic_output(path) as file:
        np.savez(file, **arrays)
        file.flush()
        os.fsync(file.fileno())  # on disk before the rename makes it visible
    return path


def restore_checkpoint(path: str | os.PathLike, model) -> dict:
    """Load a checkpoint into ``model`` (compiled, same configuration); returns its state.

    Raises:
        ValueError: when the file is not a checkpoint, or was written for a model or optimizer
            of other variables (another configuration).
    """
    path = Path(path)
    arrays, state = read_checkpoint(path)
    groups = {"model": model.variables, "optimizer": _optimizer_variables(model)}
    for group, variables in groups.items():
        saved = sorted(name for name in arrays if name.startswith(f"{group}_"))
        shapes = [tuple(arrays[name].shape) for name in saved]
        expected = [tuple(v.shape) for v in variables]
        if shapes != expected:
            raise ValueError(
                f"{path} was written for another {group} configuration: it holds "
                f"{len(shapes)} {group} variables, this {group} has {len(expected)}"
                + _first_difference(state.get(f"{group}_variables", []), shapes, variables)
                + ". Resume with the settings the run started with."
            )
        for name, variable in zip(saved, variables, strict=True):
            variable.assign(placed_like(variable, arrays[name].astype(variable.dtype)))
    return state


def host_array(variable) -> np.ndarray:
    """A variable's value as a NumPy array. A JAX array spread over the devices of several
    processes (``start_jax_workers``) is read from this process's devices alone, which hold it
    whole when it is replicated (data parallelism): no collective, so one worker can save."""
    value = variable.value
    if getattr(value, "is_fully_addressable", True) is False:
        if not value.is_fully_replicated:
            raise ValueError(
                f"{variable.path} is split over the devices of several processes: a checkpoint "
                "of several processes saves replicated (data-parallel) weights only."
            )
        return np.asarray(value.addressable_data(0))
    return keras.ops.convert_to_numpy(value)


def placed_like(variable, array: np.ndarray):
    """``array`` ready for ``variable.assign``. For a JAX array spread over several processes,
    a global array with the variable's sharding made from this process's part of ``array``
    (``jax.make_array_from_callback``): no collective, so one worker can restore alone."""
    value = variable.value
    if getattr(value, "is_fully_addressable", True) is False:
        import jax

        return jax.make_array_from_callback(array.shape, value.sharding, lambda where: array[where])
    return array


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(arrays, state)`` of a checkpoint file, verified (archive, CRC-32s, SHA-256).

    Raises:
        DamagedCheckpoint: the file is missing, empty, truncated or altered.
        ValueError: the file is whole but not an llm_keras checkpoint.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise DamagedCheckpoint(path, "the file is empty")
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except DamagedCheckpoint:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise DamagedCheckpoint(path, f"{type(error).__name__}: {error}") from None
    try:
        state = json.loads(str(arrays.pop("state")))
    except (KeyError, ValueError):
        raise ValueError(f"{path} is not an llm_keras checkpoint (it has no state).") from None
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} is not an llm_keras checkpoint (format {state.get('format')!r}).")
    if "sha256" in state and state["sha256"] != arrays_digest(arrays):  # (older files have none)
        raise DamagedCheckpoint(path, "its arrays differ from the SHA-256 saved with them")
    return arrays, state


def restore_latest_intact(directory: str | os.PathLike, model, report=print) -> tuple[Path, dict]:
    """Restore the newest checkpoint of a run directory that reads back whole.

    Each damaged newer one is renamed ``step-*.npz.damaged`` (kept for a look, never read again)
    and ``report`` is told, in a sentence, which and why. Returns ``(path, state)``.

    Raises:
        ValueError: no checkpoint at all, or none intact.
    """
    directory = Path(directory)
    candidates = list_checkpoints(directory)
    if not candidates:
        raise ValueError(
            f"Nothing to resume in {str(directory)!r}: it has no checkpoints/step-*.npz. Leave "
            "out --resume to start a new run there."
        )
    for path in reversed(candidates):
        try:
            return path, restore_checkpoint(path, model)
        except DamagedCheckpoint as damaged:
            aside = path.with_name(path.name + DAMAGED_SUFFIX)
            os.replace(path, aside)
            report(f"Checkpoint {path} is damaged ({damaged.reason}): set aside as {aside.name}.")
    raise ValueError(
        f"Every checkpoint in {directory / CHECKPOINT_DIR} is damaged (each is set aside as "
        f"*{DAMAGED_SUFFIX}): the run cannot resume. Start it again without --resume, in a new "
        "--out folder."
    )


def arrays_digest(arrays: dict) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "state":
            continue
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _first_difference(saved_paths, saved_shapes, variables):
    for i, (shape, variable) in enumerate(zip(saved_shapes, variables, strict=False)):
        if shape != tuple(variable.shape):
            saved = saved_paths[i] if i < len(saved_paths) else f"#{i}"
            return (
                f" (first difference: {saved} {shape} vs {variable.path} {tuple(variable.shape)})"
            )
    return ""


def prune_checkpoints(directory: str | os.PathLike, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)


class Checkpoint(keras.callbacks.Callback):
    """At the end of every epoch, saves everything a resumed run and generation need.

    In order, each write atomic: the checkpoint ``DIR/checkpoints/step-<step>.npz`` (variables,
    optimizer, ``state``), then ``DIR/model.keras`` and ``DIR/tokenizer/`` for generation
    (``save_for_inference``), then the loss curve ``DIR/loss_curve.png``; finally all but the
    last ``keep`` checkpoints are deleted. Steps are counted as ``(epoch + 1) *
    steps_per_epoch``.

    Args:
        directory: the run directory.
        tokenizer: the run's tokenizer (``None``: no ``model.keras`` is written).
        history: a ``LossHistory`` whose records go into each checkpoint and the loss curve.
        keep: how many checkpoints to keep (at least 1).
        state: more JSON-ready entries for every checkpoint's ``state`` (e.g. the settings).
    """

    def __init__(self, directory, tokenizer=None, history=None, keep=3, state=None):
        super().__init__()
        if keep < 1:
            raise ValueError(f"keep={keep}: keep at least the latest checkpoint.")
        self.directory = Path(directory)
        self.tokenizer = tokenizer
        self.history = history
        self.keep = keep
        self.state = dict(state or {})

    def on_epoch_end(self, epoch, logs=None):
        from llm_keras.training.history import plot_loss_curve
        from llm_keras.training.run_directory import save_for_inference

        model = self.model  # on JAX, reading .model copies the training state into the model
        step = (epoch + 1) * self.params["steps"]
        history = self.history.state() if self.history is not None else None
        state = {**self.state, "step": step, "epoch": epoch + 1, "history": history}
        save_checkpoint(checkpoint_path(self.directory, step), model, state)
        if self.tokenizer is not None:
            save_for_inference(self.directory, model, self.tokenizer)
        if history is not None:
            plot_loss_curve(history, self.directory / LOSS_CURVE)
        prune_checkpoints(self.directory, self.keep)


LOSS_CURVE = "loss_curve.png"
