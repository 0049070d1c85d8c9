"""Shared helpers for testing Keras layers and models on every backend.

- ``assert_close``: compare a backend tensor with a NumPy array (float32 tolerance 1e-5).
- ``run_serialization_test``: ``get_config`` -> ``from_config`` and
  ``keras.saving.serialize_keras_object`` -> ``deserialize_keras_object`` give the same config,
  and the revived object with the same weights gives the same outputs.
- ``run_model_saving_test``: a ``.keras`` file loads back to the same class and outputs.
- ``decode_with_cache``: run a cached call on a prefix, then token by token, and concatenate the
  outputs, to compare with one full forward pass.
"""

import json

import keras
import numpy as np

TOLERANCE = 1e-5


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_close(actual, expected, atol=TOLERANCE, rtol=TOLERANCE):
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), atol=atol, rtol=rtol)


def _json(config):
    return json.dumps(config, sort_keys=True)


def run_serialization_test(layer, *call_args, **call_kwargs):
    """Round-trips ``layer`` (built by calling it on ``call_args``) through its config both ways.

    Asserts that the configs are JSON-equal and that each revived copy, given the original's
    weights, returns exactly the original's outputs.
    """
    expected = layer(*call_args, **call_kwargs)
    config = layer.get_config()

    from_config = type(layer).from_config(config)
    assert _json(from_config.get_config()) == _json(config)

    serialized = keras.saving.serialize_keras_object(layer)
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is type(layer)
    assert _json(keras.saving.serialize_keras_object(deserialized)) == _json(serialized)

    for revived in (from_config, deserialized):
        revived(*call_args, **call_kwargs)  # builds it
        revived.set_weights(layer.get_weights())
        assert_close(revived(*call_args, **call_kwargs), expected, atol=0, rtol=0)


def run_model_saving_test(model, inputs, path):
    """Saves ``model`` to ``path`` (a ``.keras`` file), loads it, and compares the outputs."""
    expected = model(inputs)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert_close(loaded(inputs), expected, atol=0, rtol=0)
    return loaded


def decode_with_cache(step, inputs, cache, prefill_length):
    """Feeds ``inputs[:, :prefill_length]`` at once, then one position at a time, through
    ``step(chunk, cache, cache_index) -> (outputs, cache)``; returns the concatenated outputs
    (as NumPy) and the final cache. The prefill gets the index as a Python int, the later steps
    as an int32 tensor, as a decoding loop passes it."""
    outputs, cache = step(inputs[:, :prefill_length], cache, 0)
    pieces = [to_numpy(outputs)]
    for index in range(prefill_length, inputs.shape[1]):
        index_tensor = keras.ops.convert_to_tensor(index, dtype="int32")
        outputs, cache = step(inputs[:, index : index + 1], cache, index_tensor)
        pieces.append(to_numpy(outputs))
    return np.concatenate(pieces, axis=1), cache
