"""Next-token windows: targets are the inputs moved by one; batches replay from (seed, step)."""

import numpy as np
import pytest

from llm_keras.data.windows import (
    NextTokenWindows,
    check_windows,
    evaluation_windows,
    random_batch,
    random_offsets,
    windows_at,
)


def test_targets_are_the_next_tokens():
    ids = np.arange(1000, dtype=np.uint16) * 3
    inputs, targets = random_batch(ids, batch_size=8, context_length=16, seed=0, step=5)
    assert inputs.shape == targets.shape == (8, 16)
    assert inputs.dtype == targets.dtype == np.int32
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    np.testing.assert_array_equal(targets[:, -1], inputs[:, -1] + 3)
    np.testing.assert_array_equal(np.diff(inputs, axis=1), 3)  # consecutive ids of the text


def test_windows_at_offsets_equal_slices():
    ids = np.array([18, 47, 56, 57, 58, 1, 15, 47, 58])
    inputs, targets = windows_at(ids, np.array([0, 4]), 4)
    np.testing.assert_array_equal(inputs, [[18, 47, 56, 57], [58, 1, 15, 47]])
    np.testing.assert_array_equal(targets, [[47, 56, 57, 58], [1, 15, 47, 58]])


def test_a_step_always_gets_the_same_batch_and_steps_differ():
    ids = np.arange(10_000)
    a = random_batch(ids, 4, 8, seed=3, step=17)
    b = random_batch(ids, 4, 8, seed=3, step=17)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], random_batch(ids, 4, 8, seed=3, step=18)[0])
    assert not np.array_equal(a[0], random_batch(ids, 4, 8, seed=4, step=17)[0])


def test_offsets_cover_every_window_uniformly():
    # 4 windows of 9 ids in 12 ids: offsets 0..3, each drawn about 1/4 of the time.
    offsets = np.concatenate([random_offsets(12, 8, 50, seed=0, step=s) for s in range(200)])
    counts = np.bincount(offsets, minlength=4)
    assert offsets.min() == 0 and offsets.max() == 3
    expected = len(offsets) / 4
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # +-5 sigma, as CS336


def test_resumed_dataset_replays_the_same_batches():
    ids = np.arange(5000)
    whole = NextTokenWindows(ids, 4, 8, seed=1, start_step=0, num_steps=10)
    resumed = NextTokenWindows(ids, 4, 8, seed=1, start_step=6, num_steps=4)
    assert len(whole) == 10 and len(resumed) == 4
    for i in range(4):
        np.testing.assert_array_equal(whole[6 + i][0], resumed[i][0])
        np.testing.assert_array_equal(whole[6 + i][1], resumed[i][1])
    with pytest.raises(IndexError):
        resumed[4]


def test_evaluation_windows_are_fixed():
    ids = np.arange(3000)
    a, b = evaluation_windows(ids, 16, 10, seed=2), evaluation_windows(ids, 16, 10, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], a[0] + 1)


def test_too_little_data_names_the_numbers():
    with pytest.raises(ValueError, match=r"batch_size=20 is larger than the 10 different windows"):
        check_windows(26, 16, 20)
    with pytest.raises(ValueError, match=r"has 10 tokens, too few for one window of .* 17"):
        random_batch(np.arange(10), 1, 16, seed=0, step=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        check_windows(100, 16, 0)
