"""Samplers: which tokens survive each filter (against NumPy references), sampling frequencies
within statistical bounds, seeds, and option checks."""

import keras
import numpy as np
import pytest
from keras import ops

from llm_keras.generation.samplers import (
    apply_temperature,
    check_sampling_options,
    greedy_token,
    next_token,
    sample_token,
    top_k_filter,
    top_p_filter,
)
from tests.llm_keras.keras_test_case import to_numpy

RNG = np.random.default_rng(0)
LOGITS = np.stack(
    [
        RNG.normal(0, 2, 50),
        np.linspace(3, -3, 50),  # sorted, distinct
        np.r_[[1.0, 2.0, 2.0, 2.0, 0.5], np.full(45, -1.0)],  # ties at the top
    ]
).astype("float32")  # (3, 50)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def survivors_top_k(logits, k):
    """NumPy reference (nanoGPT's rule): a logit survives if >= the k-th highest of its row."""
    k = min(k, logits.shape[-1])
    kth = np.sort(logits, axis=-1)[:, ::-1][:, k - 1 : k]  # (batch, 1)
    return logits >= kth


def survivors_top_p(logits, p):
    """NumPy reference, token by token: sort descending, keep while the mass before is < p."""
    keep = np.zeros(logits.shape, dtype=bool)
    for row, x in enumerate(logits):
        probabilities = softmax(x.astype("float64"))
        order = np.argsort(-x, kind="stable")
        mass = 0.0
        for token in order:
            if mass >= p:
                break
            keep[row, token] = True
            mass += probabilities[token]
        lowest = x[keep[row]].min()
        keep[row] |= x == lowest  # ties with the last kept token are kept
    return keep


@pytest.mark.parametrize("k", [1, 2, 3, 7, 50, 80])
def test_top_k_keeps_the_k_highest(k):
    filtered = to_numpy(top_k_filter(ops.convert_to_tensor(LOGITS), k))
    expected = survivors_top_k(LOGITS, k)
    np.testing.assert_array_equal(np.isfinite(filtered), expected)
    np.testing.assert_array_equal(filtered[expected], LOGITS[expected])  # survivors unchanged
    counts = expected.sum(axis=1)
    assert counts[0] == min(k, 50) and counts[1] == min(k, 50)
    if k in (2, 3):  # row 2: the three tied 2.0s all survive
        assert counts[2] == 3


@pytest.mark.parametrize("p", [1e-6, 0.1, 0.5, 0.9, 0.99, 1.0])
def test_top_p_keeps_the_nucleus(p):
    filtered = to_numpy(top_p_filter(ops.convert_to_tensor(LOGITS), p))
    expected = survivors_top_p(LOGITS, p)
    np.testing.assert_array_equal(np.isfinite(filtered), expected)
    np.testing.assert_array_equal(filtered[expected], LOGITS[expected])
    kept_mass = (softmax(LOGITS.astype("float64")) * expected).sum(axis=1)
    assert (kept_mass >= min(p, 1.0) - 1e-6).all()
    if p == 1e-6:  # only the likeliest token (and its ties)
        np.testing.assert_array_equal(expected.sum(axis=1), [1, 1, 3])
    if p == 1.0:
        assert expected.all()


def test_options_may_be_tensors():
    logits = ops.convert_to_tensor(LOGITS)
    filtered = top_p_filter(logits, ops.convert_to_tensor(0.5))
    np.testing.assert_array_equal(np.isfinite(to_numpy(filtered)), survivors_top_p(LOGITS, 0.5))
    filtered = top_k_filter(logits, ops.convert_to_tensor(3, "int32"))
    np.testing.assert_array_equal(np.isfinite(to_numpy(filtered)), survivors_top_k(LOGITS, 3))
    # A tensor temperature of 0 is greedy, whatever the other options.
    zero, k, p = (ops.convert_to_tensor(x) for x in (0.0, 50, 1.0))
    greedy = next_token(logits, seed=1, temperature=zero, top_k=k, top_p=p)
    np.testing.assert_array_equal(to_numpy(greedy), LOGITS.argmax(axis=1))


def test_greedy_and_temperature():
    logits = ops.convert_to_tensor(LOGITS)
    np.testing.assert_array_equal(to_numpy(greedy_token(logits)), [np.argmax(LOGITS[0]), 0, 1])
    np.testing.assert_array_equal(
        to_numpy(next_token(logits, temperature=0)), [LOGITS[0].argmax(), 0, 1]
    )
    np.testing.assert_allclose(to_numpy(apply_temperature(logits, 0.5)), LOGITS / 0.5, rtol=1e-6)


def frequencies(ids, vocab):
    return np.bincount(to_numpy(ids), minlength=vocab) / len(to_numpy(ids))


def assert_frequencies(observed, probabilities, draws):
    """Every frequency within 5 standard deviations of its probability (binomial)."""
    sigma = np.sqrt(probabilities * (1 - probabilities) / draws)
    assert np.all(np.abs(observed - probabilities) <= 5 * sigma + 1e-12), (observed, probabilities)


DRAWS = 20_000
ROW = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0], dtype="float32")


@pytest.mark.parametrize(
    "options, probabilities",
    [
        (dict(), softmax(ROW)),
        (dict(temperature=0.5), softmax(ROW / 0.5)),
        (dict(temperature=2.0), softmax(ROW / 2.0)),
        (dict(top_k=2), softmax(np.where(ROW >= 1.0, ROW, -np.inf))),
        (dict(top_p=0.8), softmax(np.where(survivors_top_p(ROW[None], 0.8)[0], ROW, -np.inf))),
        (dict(temperature=2.0, top_k=4, top_p=0.9), None),
    ],
)
def test_sampling_frequencies(options, probabilities):
    if probabilities is None:  # the chain by hand: temperature, top-k, top-p
        tempered = ROW / options["temperature"]
        kept = survivors_top_k(tempered[None], options["top_k"])[0]
        tempered = np.where(kept, tempered, -np.inf)
        kept = survivors_top_p(tempered[None], options["top_p"])[0]
        probabilities = softmax(np.where(kept, tempered, -np.inf))
    logits = ops.convert_to_tensor(np.tile(ROW, (DRAWS, 1)))  # one draw per row
    ids = next_token(logits, seed=3, **options)
    observed = frequencies(ids, len(ROW))
    assert_frequencies(observed, probabilities, DRAWS)
    assert observed[probabilities == 0].sum() == 0  # filtered tokens are never drawn


def test_seeds_are_reproducible_and_keys_are_seeds():
    logits = ops.convert_to_tensor(np.tile(ROW, (64, 1)))
    a = to_numpy(sample_token(logits, 5))
    np.testing.assert_array_equal(a, to_numpy(sample_token(logits, 5)))
    assert (a != to_numpy(sample_token(logits, 6))).sum() > 10
    key = ops.convert_to_tensor([5, 0], "int32")  # the int seed s is the key [s, 0]
    np.testing.assert_array_equal(a, to_numpy(sample_token(logits, key)))
    other = to_numpy(sample_token(logits, ops.convert_to_tensor([5, 1], "int32")))
    assert (a != other).sum() > 10  # the counter changes the draw
    assert keras.backend.standardize_dtype(sample_token(logits, 5).dtype) == "int32"


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(temperature=-0.5), "temperature=-0.5 must be a finite number >= 0"),
        (dict(temperature="hot"), "temperature must be a number >= 0, got 'hot'"),
        (dict(top_k=0), "top_k=0 is not a number of likeliest tokens to keep"),
        (dict(top_k=2.5), "top_k=2.5 is not a number of likeliest tokens to keep"),
        (dict(top_p=0.0), "top_p=0.0 is outside (0, 1]"),
        (dict(top_p=1.5), "top_p=1.5 is outside (0, 1]"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError) as error:
        check_sampling_options(**options)
    assert message in str(error.value)
    with pytest.raises(ValueError):
        next_token(ops.convert_to_tensor(LOGITS), **options)


def test_filters_take_numpy_arrays_on_every_backend():
    # On PyTorch, `numpy_array >= tensor` raised a TypeError inside the filters.
    from llm_keras.generation.samplers import top_k_filter, top_p_filter

    logits = np.array([[1.0, 3.0, 2.0, 0.5]], dtype="float32")
    kept_k = keras.ops.convert_to_numpy(top_k_filter(logits, 2))
    np.testing.assert_array_equal(np.isfinite(kept_k), [[False, True, True, False]])
    kept_p = keras.ops.convert_to_numpy(top_p_filter(logits, 0.5))
    np.testing.assert_array_equal(np.isfinite(kept_p), [[False, True, False, False]])
