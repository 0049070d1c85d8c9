"""The deterministic train/validation split: first part / last part, as nanoGPT."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_keras.data import train_val_split


def test_tiny_shakespeare_90_10(tiny_shakespeare):
    train, val = train_val_split(tiny_shakespeare)
    assert (len(train), len(val)) == (1_003_854, 111_540)
    assert train == tiny_shakespeare[:1_003_854] and train + val == tiny_shakespeare


def test_list_and_numpy_array():
    train, val = train_val_split(list(range(10)), val_fraction=0.25)
    assert (train, val) == (list(range(7)), [7, 8, 9])  # int(10 * 0.75) = 7

    ids = np.arange(1000, dtype=np.int32)
    train, val = train_val_split(ids, val_fraction=0.1)
    assert isinstance(train, np.ndarray) and train.dtype == np.int32
    np.testing.assert_array_equal(train, np.arange(900))
    np.testing.assert_array_equal(val, np.arange(900, 1000))
    assert np.shares_memory(train, ids) and np.shares_memory(val, ids)  # views, not copies


@given(length=st.integers(1, 5000), val_fraction=st.floats(0.01, 0.99))
def test_parts_are_contiguous_non_empty_and_the_right_size(length, val_fraction):
    data = list(range(length))
    try:
        train, val = train_val_split(data, val_fraction)
    except ValueError as err:
        assert "the train part would be empty" in str(err)
        assert length * (1 - val_fraction) < 1
        return
    assert train + val == data and len(train) > 0 and len(val) > 0
    assert -1e-9 <= len(val) - length * val_fraction < 1 + 1e-9  # val is the fraction, rounded up


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), "0.1", None, True])
def test_bad_fraction_names_the_value_and_the_range(bad):
    expected = f"val_fraction={bad!r} must be a number strictly between 0 and 1"
    with pytest.raises(ValueError, match=re.escape(expected)):
        train_val_split("abcdefghij", bad)


def test_too_short_data():
    with pytest.raises(ValueError, match=r"length 1 .* the train part would be empty"):
        train_val_split("a", 0.5)
    assert train_val_split("ab", 0.5) == ("a", "b")
