"""Sampling with a given uniform number: parity with NumPy's search of the cumulative sums,
frequencies within statistical bounds, impossible tokens never drawn, rounding at the top."""

import numpy as np
from keras import ops

from llm_keras.generation.inverse_cdf import sample_with_uniform
from tests.llm_keras.keras_test_case import to_numpy

RNG = np.random.default_rng(0)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_the_example_of_the_docstring():
    ids = sample_with_uniform(ops.log(np.float32([[0.5, 0.25, 0.25]])), np.float32([0.6]))
    assert to_numpy(ids).tolist() == [1]
    assert str(to_numpy(ids).dtype) == "int32"


def test_ids_are_numpys_search_of_the_cumulative_sums():
    logits = RNG.normal(0, 2, size=(64, 20)).astype("float32")
    cdf = np.cumsum(softmax(logits.astype("float64")), axis=-1)
    # Uniform numbers at least 1e-4 from every boundary, so float32 rounding cannot matter.
    uniform = RNG.uniform(0, 0.999, size=64)
    for row in range(64):
        while np.min(np.abs(cdf[row] - uniform[row])) < 1e-4:
            uniform[row] = RNG.uniform(0, 0.999)
    expected = [int(np.searchsorted(cdf[row], uniform[row], side="right")) for row in range(64)]
    received = to_numpy(sample_with_uniform(logits, uniform.astype("float32")))
    assert received.tolist() == expected


def test_frequencies_follow_the_softmax():
    """20,000 evenly spaced uniforms of one row: each id's share is its probability +- 1e-4."""
    logits = np.float32([[2.0, 0.5, -1.0, 1.0, 0.0]])
    n = 20_000
    uniform = (np.arange(n, dtype="float64") + 0.5) / n
    ids = to_numpy(sample_with_uniform(np.repeat(logits, n, axis=0), uniform))
    shares = np.bincount(ids, minlength=5) / n
    np.testing.assert_allclose(shares, softmax(logits.astype("float64"))[0], atol=1e-4)


def test_tokens_of_probability_zero_are_never_drawn():
    logits = np.float32([[-np.inf, 1.0, -np.inf, 0.0, -np.inf]] * 5)
    uniform = np.float32([0.0, 0.3, 0.7310, 0.7312, 0.99999994])
    ids = to_numpy(sample_with_uniform(logits, uniform))
    # p = [0, 0.731, 0, 0.269, 0]: u = 0 picks token 1, the first possible; the top picks token 3.
    assert ids.tolist() == [1, 1, 1, 3, 3]


def test_a_uniform_above_the_rounded_total_takes_the_last_possible_token():
    # Thirty equal probabilities of 1/30 add up in float32 to a little less or more than 1.
    logits = np.zeros((1, 31), "float32")
    logits[0, -1] = -np.inf
    cdf_total = float(to_numpy(ops.sum(ops.softmax(logits), axis=-1))[0])
    uniform = np.float32([np.nextafter(np.float32(1.0), np.float32(0.0))])  # the largest < 1
    ids = to_numpy(sample_with_uniform(logits, uniform))
    assert ids.tolist() == [29], cdf_total
