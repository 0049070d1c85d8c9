import math

import numpy as np
import pytest
from keras import ops

from llm_keras.layers import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from tests.llm_keras.keras_test_case import assert_close, run_serialization_test
from tests.llm_keras.layers.reference import sinusoidal_table

CONTEXT, D_MODEL = 8, 8
X = np.random.default_rng(0).normal(size=(2, 5, D_MODEL)).astype("float32")


def make_learned():
    layer = LearnedPositionalEmbedding(CONTEXT, D_MODEL)
    layer.build(X.shape)
    table = np.random.default_rng(1).normal(size=(CONTEXT, D_MODEL))
    layer.embeddings.assign(table)
    return layer, table


@pytest.mark.parametrize("start_index", [0, 3])
def test_learned_returns_rows_from_start_index_for_every_sequence(start_index):
    layer, table = make_learned()
    positions = layer(X, start_index=ops.convert_to_tensor(start_index, "int32"))
    assert tuple(positions.shape) == X.shape
    expected = table[start_index : start_index + 5]
    assert_close(positions, np.broadcast_to(expected, X.shape))


def test_learned_serialization_round_trip():
    layer, _ = make_learned()
    run_serialization_test(layer, X)
    assert layer.get_config()["context_length"] == CONTEXT


@pytest.mark.parametrize("start_index", [0, 3])
def test_sinusoidal_matches_the_papers_formula(start_index):
    positions = SinusoidalPositionalEncoding()(X, start_index=start_index)
    expected = sinusoidal_table(range(start_index, start_index + 5), D_MODEL)
    assert_close(positions, np.broadcast_to(expected, X.shape))


def test_sinusoidal_known_values():
    table = SinusoidalPositionalEncoding()(X)[0]
    # Position 0: sin(0) = 0 on even features, cos(0) = 1 on odd ones.
    assert_close(table[0], [0, 1, 0, 1, 0, 1, 0, 1])
    # Position 1, features 0 and 1 turn at one radian per position.
    assert_close(table[1, :2], [math.sin(1), math.cos(1)])
    # Features 2 and 3 at 1 / 10000 ** (2 / 8) = 0.1 radian per position.
    assert_close(table[1, 2:4], [math.sin(0.1), math.cos(0.1)])


def test_sinusoidal_serialization_round_trip():
    layer = SinusoidalPositionalEncoding(max_wavelength=500.0)
    run_serialization_test(layer, X)
    assert layer.get_config()["max_wavelength"] == 500.0
    assert layer.weights == []
