import keras
import numpy as np

from llm_keras.layers import TokenEmbedding
from tests.llm_keras.keras_test_case import assert_close, run_serialization_test, to_numpy

VOCAB, D_MODEL = 11, 8
IDS = np.array([[1, 2, 3, 4, 10], [0, 0, 5, 9, 7]], dtype="int32")


def make_layer(**kwargs):
    layer = TokenEmbedding(VOCAB, D_MODEL, **kwargs)
    layer.build(IDS.shape)
    table = np.random.default_rng(0).normal(size=(VOCAB, D_MODEL))
    layer.embeddings.assign(table)
    return layer, table


def test_lookup_returns_the_rows_of_the_table():
    layer, table = make_layer()
    vectors = layer(IDS)
    assert tuple(vectors.shape) == (2, 5, D_MODEL)
    assert_close(vectors, table[IDS])


def test_reverse_uses_the_same_table_and_gives_float32_logits():
    layer, table = make_layer()
    hidden = np.random.default_rng(1).normal(size=(2, 5, D_MODEL)).astype("float32")
    logits = layer(hidden, reverse=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert_close(logits, hidden @ table.T)
    # One variable serves both directions: change it and the logits follow.
    assert len(layer.weights) == 1
    layer.embeddings.assign(2 * table)
    assert_close(layer(hidden, reverse=True), 2 * (hidden @ table.T))


def test_mixed_precision_vectors_are_bfloat16_logits_float32():
    layer, table = make_layer(dtype="mixed_bfloat16")
    vectors = layer(IDS)
    assert keras.backend.standardize_dtype(vectors.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(layer.embeddings.dtype) == "float32"
    logits = layer(vectors, reverse=True)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    np.testing.assert_allclose(to_numpy(logits), table[IDS] @ table.T, rtol=0.05, atol=0.05)


def test_serialization_round_trip():
    layer, _ = make_layer()
    run_serialization_test(layer, IDS)
    assert layer.get_config()["vocab_size"] == VOCAB and layer.get_config()["d_model"] == D_MODEL
