"""``recorded_method``: on PyTorch the model's calls inside the decoding loop are replayed from a
``torch.jit.trace`` record. The record must give the eager method's numbers at every cache index
(it was made at one), follow new weights without recording again, and record once per shapes."""

import keras
import numpy as np
import pytest
from keras import ops

from llm_keras.generation.compiled import recorded_method
from tests.llm_keras.generation.test_decode import SIZES, make
from tests.llm_keras.models.numpy_gpt import gpt_params, set_gpt

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="only PyTorch records the model's calls: JAX and TensorFlow compile the whole "
    "decoding loop around them (jax.jit, tf.function), and test_decode checks its ids",
)


def steps(model, step, tokens, cache, first):
    """Feed ``tokens`` (batch, n) one column at a time from cache position ``first`` through
    ``step`` and through the eager method; yield both results at each position."""
    import torch

    with torch.no_grad():
        for offset in range(tokens.shape[1]):
            index = ops.convert_to_tensor(first + offset, "int32")
            column = ops.convert_to_tensor(tokens[:, offset : offset + 1])
            expected = model.call_with_cache(column, cache, index)
            got = step(column, cache, index)
            yield expected, got
            cache = expected[1]


@pytest.mark.parametrize("size", SIZES)
def test_a_recorded_step_gives_the_eager_numbers_at_every_cache_index(size):
    model, _, config = make(size)
    step = recorded_method(model, "call_with_cache")
    rng = np.random.default_rng(0)
    prompt = rng.integers(0, config.vocab_size, (2, 3)).astype("int32")
    _, cache = model.call_with_cache(prompt, model.init_cache(2, config.context_length), 0)
    later = rng.integers(0, config.vocab_size, (2, config.context_length - 3)).astype("int32")
    for (logits, new_cache), (got_logits, got_cache) in steps(model, step, later, cache, 3):
        np.testing.assert_allclose(ops.convert_to_numpy(got_logits),
                                   ops.convert_to_numpy(logits), rtol=1e-5, atol=1e-5)  # fmt: skip
        np.testing.assert_allclose(ops.convert_to_numpy(got_cache),
                                   ops.convert_to_numpy(new_cache), rtol=1e-5, atol=1e-5)  # fmt: skip
    assert len(step.records) == 1  # recorded once, at cache index 3, replayed 12 times


def test_new_weights_are_used_without_recording_again_and_an_int_index_has_its_own_record():
    model, _, config = make()
    step = recorded_method(model, "call_with_cache")
    cache = model.init_cache(1, config.context_length)
    tokens = np.array([[4, 7]], dtype="int32")
    before = [ops.convert_to_numpy(got[0]) for _, got in steps(model, step, tokens, cache, 0)]
    set_gpt(model, gpt_params(np.random.default_rng(9), config))  # other weights, same shapes
    for (logits, _), (got_logits, _) in steps(model, step, tokens, cache, 0):
        np.testing.assert_allclose(ops.convert_to_numpy(got_logits),
                                   ops.convert_to_numpy(logits), rtol=1e-5, atol=1e-5)  # fmt: skip
        assert np.abs(ops.convert_to_numpy(got_logits) - before[0]).max() > 0.1
        before.pop(0)
    assert len(step.records) == 1
    import torch

    with torch.no_grad():
        column = ops.convert_to_tensor(tokens[:, :1])
        for index in (0, 5):  # a Python int is frozen into its record: one record per value
            got = step(column, cache, index)[0]
            expected = model.call_with_cache(column, cache, index)[0]
            np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(expected),
                                       rtol=1e-5, atol=1e-5)  # fmt: skip
    assert len(step.records) == 3
