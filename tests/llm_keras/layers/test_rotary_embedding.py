import numpy as np
import pytest

from llm_keras.layers import RotaryEmbedding
from tests.llm_keras.keras_test_case import assert_close, run_serialization_test, to_numpy
from tests.llm_keras.layers.reference import rope

# (batch, seq, heads, head_dim)
Q = np.random.default_rng(0).normal(size=(2, 5, 2, 4)).astype("float32")
K = np.random.default_rng(1).normal(size=(2, 5, 2, 4)).astype("float32")


@pytest.mark.parametrize("start_index", [0, 3])
def test_matches_rotation_as_complex_multiplication(start_index):
    assert_close(RotaryEmbedding()(Q, start_index=start_index), rope(Q, start_index))


def test_position_zero_is_not_rotated_and_lengths_are_kept():
    rotated = to_numpy(RotaryEmbedding()(Q))
    np.testing.assert_allclose(rotated[:, 0], Q[:, 0], atol=1e-6)
    half = Q.shape[-1] // 2
    lengths = np.hypot(rotated[..., :half], rotated[..., half:])
    np.testing.assert_allclose(lengths, np.hypot(Q[..., :half], Q[..., half:]), rtol=1e-5)


def test_scores_depend_only_on_relative_positions():
    layer = RotaryEmbedding()
    scores = []
    for shift in (0, 3):
        q, k = to_numpy(layer(Q, start_index=shift)), to_numpy(layer(K, start_index=shift))
        scores.append(np.einsum("bqhd,bkhd->bhqk", q, k))
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)


def test_odd_head_dim_is_refused():
    with pytest.raises(ValueError, match=r"even head_dim.*head_dim=3"):
        RotaryEmbedding()(np.ones((1, 2, 2, 3), dtype="float32"))


def test_serialization_round_trip():
    layer = RotaryEmbedding(max_wavelength=500.0)
    run_serialization_test(layer, Q)
    assert layer.get_config()["max_wavelength"] == 500.0
