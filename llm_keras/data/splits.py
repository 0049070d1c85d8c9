"""Holding text out: a deterministic train/validation split (week 1, "Text as data").

A model is judged on text it was not trained on. For one long corpus the simplest honest split,
and the one nanoGPT uses, is by position: the first 90 % trains, the last 10 % validates. It is
deterministic (no random seed to record) and it keeps each part a contiguous run of text, so
next-token windows never straddle the boundary. (A random split of windows would leak: two
overlapping windows would share most of their characters across the split.)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TypeVar

S = TypeVar("S", bound=Sequence)


def train_val_split(data: S, val_fraction: float = 0.1) -> tuple[S, S]:
    """Split a sequence into its first part (train) and its last part (validation).

    The train part has ``n = int(len(data) * (1 - val_fraction))`` items, as in nanoGPT.

    Args:
        data: anything that has a length and can be sliced: a ``str``, a ``list`` of token ids,
            a NumPy array (the parts are views of it, not copies).
        val_fraction: the share of ``data`` for validation, strictly between 0 and 1.

    Returns:
        ``(train, val)``, of the same type as ``data``; together, in order, they are ``data``.

    Raises:
        ValueError: ``val_fraction`` is not in (0, 1), or ``data`` is too short for either part
            to hold an item.

    Example:
        >>> train_val_split("abcdefghij", val_fraction=0.2)
        ('abcdefgh', 'ij')
        >>> train, val = train_val_split(text)  # TinyShakespeare  # doctest: +SKIP
        >>> len(train), len(val)  # doctest: +SKIP
        (1003854, 111540)
    """
    is_number = isinstance(val_fraction, numbers.Real) and not isinstance(val_fraction, bool)
    if not (is_number and 0 < val_fraction < 1):
        raise ValueError(
            f"val_fraction={val_fraction!r} must be a number strictly between 0 and 1 "
            f"(e.g. 0.1 keeps the last 10 % for validation)."
        )
    n = int(len(data) * (1 - val_fraction))
    if n == 0 or n == len(data):
        raise ValueError(
            f"data of length {len(data)} is too short to split with val_fraction={val_fraction}: "
            f"the {'train' if n == 0 else 'validation'} part would be empty. Pass more data or "
            f"another val_fraction."
        )
    return data[:n], data[n:]
