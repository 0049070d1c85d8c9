"""Typed comparison of one learner output with the reference: kind, dtype, shape, then values.

Messages help without revealing anything hidden: they name shapes, dtypes and how far off the
values are, never the expected values or the inputs.
"""

from __future__ import annotations

import numpy as np

from autograder.contract import Check

KIND_WORDS = {"ndarray": "a NumPy array", "tensor": "a tensor", "list": "a list", "tuple": "a tuple",
              "int": "an int", "float": "a float", "bool": "a bool", "None": "None",
              "other": "an object that is not an array"}
DTYPE_WORDS = {"float": ("f", "a floating-point array"), "int": ("iu", "an integer array"),
               "bool": ("b", "a boolean array")}


def compare(check: Check, backend: str, kind: str | None, got: np.ndarray | None,
            expected: np.ndarray) -> tuple[bool, str]:
    """(passed, message) for one check; the message is empty when it passed."""
    expected = np.asarray(expected)
    if kind is None:
        return False, "your code returned nothing for this check"
    if kind not in check.kinds:
        wanted = " or ".join(KIND_WORDS.get(k, k) for k in check.kinds)
        return False, f"expected {wanted}, got {KIND_WORDS.get(kind, 'another kind of value')}"
    if got is None:
        return False, f"expected numbers, got {KIND_WORDS.get(kind, kind)} that is not a numeric array"
    if check.dtype in DTYPE_WORDS:
        kinds, words = DTYPE_WORDS[check.dtype]
        if got.dtype.kind not in kinds:
            return False, f"expected {words}, got dtype {got.dtype}"
    elif check.dtype != "any" and got.dtype != np.dtype(check.dtype):
        return False, f"expected dtype {np.dtype(check.dtype)}, got {got.dtype}"
    if got.shape != expected.shape:
        return False, f"expected shape {expected.shape}, got {got.shape}"
    if check.exact:
        if np.array_equal(got, expected):
            return True, ""
        wrong = int(np.sum(got != expected))
        return False, _with_hint(f"{_of(wrong, expected.size)} {_verb(wrong, 'differs', 'differ')} "
                                 "from the reference", check)
    got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
    finite = np.isfinite(expected64)
    if np.any(~np.isfinite(got64) & finite):
        bad = int(np.sum(~np.isfinite(got64) & finite))
        return False, _with_hint(f"{_of(bad, expected.size)} {_verb(bad, 'is', 'are')} NaN or "
                                 "infinite where the reference has finite values", check)
    rtol, atol = check.tolerance(backend)
    close = np.isclose(got64, expected64, rtol=rtol, atol=atol, equal_nan=True)
    if np.all(close):
        return True, ""
    difference = np.abs(got64 - expected64)[finite & ~close]
    largest = f"{float(difference.max()):.3g}" if difference.size else "n/a"
    wrong = int(np.sum(~close))
    return False, _with_hint(
        f"{_of(wrong, expected.size)} {_verb(wrong, 'differs', 'differ')} from the reference by "
        f"more than the tolerance (largest difference {largest}; rtol {rtol:g}, atol {atol:g})",
        check)


def _of(count: int, size: int) -> str:
    """``3 of 40 values``, ``1 of 1 value``: how many of the output's values."""
    return f"{count} of {size} value{'' if size == 1 else 's'}"


def _verb(count: int, one: str, several: str) -> str:
    """The verb that agrees with ``count``: ``1 of 7 values differs``, ``3 of 7 values differ``."""
    return one if count == 1 else several


def _with_hint(message: str, check: Check) -> str:
    return f"{message}. {check.hint}" if check.hint else message
