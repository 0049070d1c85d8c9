"""Next-token windows: how a long run of token ids becomes training batches (week 1, "Next-token training windows").

A language model learns from windows of ``context_length + 1`` consecutive ids: the first
``context_length`` are the input, the last ``context_length`` (the same window moved by one) are
the targets, so ``targets[t]`` is the token that follows ``inputs[: t + 1]``:

    ids      = [18, 47, 56, 57, 58,  1, 15, 47, ...]
    inputs   = [18, 47, 56, 57]          (context_length = 4)
    targets  = [47, 56, 57, 58]

Training batches are windows at random offsets, as nanoGPT's ``get_batch`` draws them. The
offsets of step ``s`` come from a generator seeded with ``(seed, s)`` alone, so step ``s`` always
sees the same batch: a run resumed at step ``s`` continues with exactly the batches the
uninterrupted run would have seen (the "data position" is just the step number).

The ids are a NumPy array, or a ``ShardedTokens`` (``llm_keras.data.shards``): the ids of a folder
of token shards, memory-mapped, of which only the windows drawn are read; a window may span two
shards, as it spans any two ids of nanoGPT's single stream.

Evaluation uses fixed windows (drawn once from ``seed``), so two evaluations of the same model
give the same loss and two models are compared on the same text.

Example:
    >>> ids = np.arange(100, dtype=np.int32)
    >>> inputs, targets = random_batch(ids, batch_size=2, context_length=4, seed=0, step=7)
    >>> inputs.shape, (targets == inputs + 1).all()
    ((2, 4), True)
"""

from __future__ import annotations

import keras
import numpy as np

# The random stream of the evaluation windows: a "step" number that training never reaches.
EVALUATION_STREAM = 2**32 - 1


def check_windows(num_tokens: int, context_length: int, batch_size: int, what: str = "data"):
    """Raise a ValueError unless ``num_tokens`` ids hold at least ``batch_size`` windows.

    A window needs ``context_length + 1`` ids; ``num_tokens`` ids hold
    ``num_tokens - context_length`` different windows.
    """
    for name, value in (("context_length", context_length), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")
    windows = num_tokens - context_length
    if windows < 1:
        raise ValueError(
            f"The {what} has {num_tokens} tokens, too few for one window of context_length + 1 "
            f"= {context_length + 1} tokens (inputs and their next tokens): use more text or a "
            "shorter context_length."
        )
    if batch_size > windows:
        raise ValueError(
            f"batch_size={batch_size} is larger than the {windows} different windows of "
            f"{context_length + 1} tokens in the {what} ({num_tokens} tokens): use a smaller "
            "batch_size or more text."
        )


def token_ids(ids):
    """``ids`` as the windows read them: a ``ShardedTokens`` as it is (read where indexed),
    anything else as a NumPy array."""
    from llm_keras.data.shards import ShardedTokens

    return ids if isinstance(ids, ShardedTokens) else np.asarray(ids)


def windows_at(ids, offsets: np.ndarray, context_length: int):
    """The windows starting at ``offsets``: ``(inputs, targets)``, each ``(len(offsets), T)``.

    ``inputs[i] = ids[o : o + T]`` and ``targets[i] = ids[o + 1 : o + T + 1]`` for ``o =
    offsets[i]`` and ``T = context_length``, as int32. ``ids``: an array or a ``ShardedTokens``.
    """
    if isinstance(ids, np.ndarray):
        # Every window of T + 1 ids as a (len(ids) - T, T + 1) view: no copy until indexed.
        windows = np.lib.stride_tricks.sliding_window_view(ids, context_length + 1)[offsets]
    else:  # a ShardedTokens: read only the windows
        windows = np.stack([ids[o : o + context_length + 1] for o in offsets])
    windows = windows.astype(np.int32)  # (batch, T + 1)
    return windows[:, :-1], windows[:, 1:]


def random_offsets(num_tokens: int, context_length: int, batch_size: int, seed: int, step: int):
    """The ``batch_size`` window offsets of training step ``step``, uniform in
    ``[0, num_tokens - context_length)``; the same ``(seed, step)`` always gives the same ones."""
    rng = np.random.default_rng((seed, step))
    return rng.integers(0, num_tokens - context_length, size=batch_size)


def random_batch(ids, batch_size: int, context_length: int, seed: int, step: int):
    """Training batch number ``step``: ``(inputs, targets)``, each ``(batch_size, T)`` int32.

    nanoGPT's ``get_batch``, made a function of ``(seed, step)`` so that it can be replayed.
    """
    ids = token_ids(ids)
    check_windows(len(ids), context_length, batch_size)
    offsets = random_offsets(len(ids), context_length, batch_size, seed, step)
    return windows_at(ids, offsets, context_length)


def evaluation_windows(ids, context_length: int, num_windows: int, seed: int = 0):
    """``num_windows`` fixed windows for evaluation: ``(inputs, targets)``, ``(num_windows, T)``.

    Drawn at random offsets from ``seed`` (a different stream from any training step's), so
    that they cover the whole text; call it once and evaluate every model on the result.
    """
    ids = token_ids(ids)
    check_windows(len(ids), context_length, num_windows, what="evaluation data")
    offsets = np.random.default_rng((seed, EVALUATION_STREAM)).integers(
        0, len(ids) - context_length, size=num_windows
    )
    return windows_at(ids, offsets, context_length)


class NextTokenWindows(keras.utils.PyDataset):
    """The training batches of steps ``start_step .. start_step + num_steps - 1``, for ``fit``.

    Item ``i`` is ``random_batch(ids, batch_size, context_length, seed, start_step + i)``. A run
    resumed at step ``s`` passes ``start_step=s`` and sees the batches it would have seen.

    Args:
        ids: the training token ids (1-D, any integer dtype), or a ``ShardedTokens``.
        batch_size: windows per batch.
        context_length: tokens per window (the model's context).
        seed: the run's data seed.
        start_step: the global step of item 0.
        num_steps: number of batches (the dataset's length).

    Example:
        >>> batches = NextTokenWindows(train_ids, 12, 64, seed=1337, start_step=0, num_steps=2000)
        >>> model.fit(batches, epochs=8, steps_per_epoch=250)   # doctest: +SKIP
    """

    def __init__(self, ids, batch_size, context_length, seed, start_step=0, num_steps=1):
        super().__init__(workers=1, use_multiprocessing=False)
        self.ids = token_ids(ids)
        check_windows(len(self.ids), context_length, batch_size, what="training data")
        self.batch_size = batch_size
        self.context_length = context_length
        self.seed = seed
        self.start_step = start_step
        self.num_steps = num_steps

    def __len__(self):
        return self.num_steps

    def __getitem__(self, index):
        if not 0 <= index < self.num_steps:
            raise IndexError(f"batch {index} is outside [0, {self.num_steps})")
        step = self.start_step + index
        offsets = random_offsets(
            len(self.ids), self.context_length, self.batch_size, self.seed, step
        )
        return windows_at(self.ids, offsets, self.context_length)
