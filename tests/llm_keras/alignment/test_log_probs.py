"""log_probs.py: token and sequence log-probabilities against NumPy (sum, average, masked padding,
large logits, long responses), the rows of a worked example, and a model's log-probs of responses
equal to those of its own logits one chat at a time, whatever the batching."""

import keras
import numpy as np
import pytest

from llm_keras.alignment.log_probs import (
    encode_responses,
    paired_texts,
    response_log_probs,
    sequence_log_probs,
    token_log_probs,
)
from llm_keras.finetuning.chat_template import add_chat_tokens, format_example
from llm_keras.finetuning.sft import sft_loss_mask
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from tests.llm_keras.keras_test_case import assert_close, to_numpy
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)

USER, ASSISTANT, END = 4, 5, 6  # the chat tokens' ids after "abcd"


def numpy_log_softmax(logits):
    """log softmax over the last axis, in float64: z - max - log(sum(exp(z - max)))."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def numpy_sequence_log_probs(logits, ids, mask, average=False):
    picked = np.take_along_axis(numpy_log_softmax(logits), np.asarray(ids)[..., None], -1)[..., 0]
    total = (picked * mask).sum(axis=-1)
    return total / np.maximum(np.sum(mask, axis=-1), 1) if average else total


def random_case(batch=3, seq=7, vocab=11, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((batch, seq, vocab))).astype("float32")
    ids = rng.integers(0, vocab, (batch, seq)).astype("int32")
    mask = (rng.random((batch, seq)) < 0.6).astype("float32")
    return logits, ids, mask


def test_token_log_probs_equal_numpy_log_softmax_of_the_targets():
    logits, ids, _ = random_case()
    expected = np.take_along_axis(numpy_log_softmax(logits), ids[..., None], -1)[..., 0]
    actual = token_log_probs(logits, ids)
    assert tuple(actual.shape) == (3, 7)
    assert_close(actual, expected)
    assert (to_numpy(actual) <= 0).all()
    # A probability distribution: exp of the log-probs of every target sums to 1 per position.
    every = np.stack(
        [to_numpy(token_log_probs(logits, np.full_like(ids, v))) for v in range(11)], axis=-1
    )
    np.testing.assert_allclose(np.exp(every).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("average", [False, True])
def test_sequence_log_probs_equal_numpy(average):
    logits, ids, mask = random_case()
    mask[1] = 0.0  # a row with nothing to score gives 0, averaged or not
    expected = numpy_sequence_log_probs(logits, ids, mask, average)
    actual = sequence_log_probs(logits, ids, mask, average=average)
    assert tuple(actual.shape) == (3,)
    assert_close(actual, expected)
    assert to_numpy(actual)[1] == 0.0


def test_the_average_is_the_sum_divided_by_the_response_length():
    logits, ids, mask = random_case(seed=1)
    mask[:, 0] = 1.0  # every row scores at least one token
    total = to_numpy(sequence_log_probs(logits, ids, mask))
    mean = to_numpy(sequence_log_probs(logits, ids, mask, average=True))
    np.testing.assert_allclose(mean, total / mask.sum(-1), rtol=1e-6)


def test_masked_positions_change_nothing():
    logits, ids, mask = random_case(seed=2)
    before = to_numpy(sequence_log_probs(logits, ids, mask))
    rng = np.random.default_rng(3)
    masked = mask == 0
    logits[masked] = 100 * rng.standard_normal((masked.sum(), logits.shape[-1]))
    ids[masked] = rng.integers(0, logits.shape[-1], masked.sum())
    assert_close(sequence_log_probs(logits, ids, mask), before, atol=0, rtol=0)


def test_large_logits_stay_finite_and_exact():
    logits, ids, mask = random_case(seed=4, scale=1e4)
    mask[:, 0] = 1.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exp = np.exp(logits)  # float32: inf
        naive = np.log(exp / exp.sum(-1, keepdims=True))
    assert not np.isfinite(naive).all()  # log(softmax) written naively breaks
    actual = to_numpy(sequence_log_probs(logits, ids, mask))
    assert np.isfinite(actual).all()
    np.testing.assert_allclose(actual, numpy_sequence_log_probs(logits, ids, mask), rtol=1e-5)
    # The largest logit's token has probability ~1 (log-prob ~0); every other is ~1e4 lower.
    best = logits.argmax(-1).astype("int32")
    np.testing.assert_allclose(to_numpy(token_log_probs(logits, best)), 0.0, atol=1e-3)


def test_very_long_responses_sum_thousands_of_tokens():
    logits, ids, _ = random_case(batch=2, seq=4096, vocab=50, seed=5)
    mask = np.ones((2, 4096), "float32")
    mask[1, 3000:] = 0.0
    expected = numpy_sequence_log_probs(logits, ids, mask)
    assert expected[0] < -4000  # ~ -4096 * (log 50 + ...): a float32 sum must not drift
    assert_close(sequence_log_probs(logits, ids, mask), expected, atol=0, rtol=1e-5)
    expected_mean = numpy_sequence_log_probs(logits, ids, mask, average=True)
    assert_close(sequence_log_probs(logits, ids, mask, average=True), expected_mean, rtol=1e-5)


# --- chats of a tokenizer, a model's log-probs -------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    return add_chat_tokens(CharTokenizer("abcd"))


@pytest.fixture(scope="module")
def model(tokenizer):
    keras.utils.set_random_seed(0)
    config = GPTConfig.preset("shakespeare-char-cpu", vocab_size=tokenizer.vocab_size,
                              context_length=16, d_model=32, n_layers=1, n_heads=2)  # fmt: skip
    return GPT(config)


def test_encode_responses_makes_the_rows_of_the_worked_example(tokenizer):
    inputs, targets, mask = encode_responses(tokenizer, ["abc", "d"], ["cba", "ab"], seq_len=10)
    # Chat 0: [USER] a b c [END] [ASSISTANT] c b a [END], 10 tokens, 9 targets, 1 pad.
    np.testing.assert_array_equal(inputs[0], [USER, 0, 1, 2, END, ASSISTANT, 2, 1, 0, END])
    np.testing.assert_array_equal(targets[0], [0, 1, 2, END, ASSISTANT, 2, 1, 0, END, END])
    np.testing.assert_array_equal(mask[0], [0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    # Chat 1: [USER] d [END] [ASSISTANT] a b [END]: 7 tokens, weights on a, b and [END].
    np.testing.assert_array_equal(mask[1], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0])
    assert (inputs.dtype, targets.dtype, mask.dtype) == (np.int32, np.int32, np.float32)
    # The mask is week 6's SFT loss mask of format_example's chat.
    ids, roles = format_example(tokenizer, "d", "ab")
    np.testing.assert_array_equal(mask[1, :6], sft_loss_mask(ids, roles))
    # seq_len=None: the longest chat's targets.
    assert encode_responses(tokenizer, ["abc", "d"], ["cba", "ab"])[0].shape == (2, 9)


@pytest.mark.parametrize(
    "prompts, responses, message",
    [
        (["a", "b"], ["a"], "2 prompts and 1 responses"),
        (["a", "b"], ["a", 7], r"responses\[1\] is int 7"),
        ([], [], "prompts is empty"),
        ("ab", ["a", "b"], "prompts must be a list of strings"),
        (["abcabcabc"], ["abc"], "more than seq_len"),
    ],
)
def test_encode_responses_rejects_bad_input(tokenizer, prompts, responses, message):
    with pytest.raises(ValueError, match=message):
        encode_responses(tokenizer, prompts, responses, seq_len=10)


def test_paired_texts_name_what_is_wrong():
    assert paired_texts(("a", "b"), iter(["x", "y"])) == (["a", "b"], ["x", "y"])
    assert paired_texts([], []) == ([], [])
    with pytest.raises(ValueError, match="Got 1 prompts and 2 completions: pass one per prompt"):
        paired_texts(["a"], ["x", "y"], name="completions")
    with pytest.raises(ValueError, match=r"responses\[1\] is list \[3, 4\], not a string"):
        paired_texts(["a", "b"], ["x", [3, 4]])
    with pytest.raises(ValueError, match="responses must be a list of strings, got one string"):
        paired_texts(["a"], "x")


def chats(tokenizer):
    # Chats of 8 and 10 tokens (two shapes when run alone: JAX compiles each), padded to 14.
    prompts = ["abc", "d", "ab", "dcb", "a", "bb", "cdab"]
    responses = ["cba", "abc", "ba", "bcd", "bcd", "bb", "dc"]
    return encode_responses(tokenizer, prompts, responses, seq_len=14)


@pytest.mark.parametrize("average", [False, True])
def test_response_log_probs_equal_the_models_own_logits_one_chat_at_a_time(
    tokenizer, model, average
):
    inputs, targets, mask = chats(tokenizer)
    expected = []
    for row in range(len(inputs)):
        length = int(np.nonzero(mask[row])[0][-1]) + 1  # the chat without its padding
        logits = to_numpy(model(inputs[row : row + 1, :length]))
        expected.append(numpy_sequence_log_probs(
            logits, targets[row : row + 1, :length], mask[row : row + 1, :length], average
        )[0])  # fmt: skip
    actual = response_log_probs(model, inputs, targets, mask, average=average)
    assert actual.shape == (7,) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
    assert (actual < 0).all()


def test_batching_with_a_padded_last_batch_changes_no_value(tokenizer, model):
    inputs, targets, mask = chats(tokenizer)
    whole = response_log_probs(model, inputs, targets, mask)
    batched = response_log_probs(model, inputs, targets, mask, batch_size=3)  # 3 + 3 + 1 (padded)
    np.testing.assert_allclose(batched, whole, rtol=1e-5, atol=1e-6)
    # The order of the rows is kept: reversed rows give reversed values.
    reversed_rows = response_log_probs(model, inputs[::-1], targets[::-1], mask[::-1], batch_size=3)
    np.testing.assert_allclose(reversed_rows, whole[::-1], rtol=1e-5, atol=1e-6)


def test_response_log_probs_rejects_bad_input(tokenizer, model):
    inputs, targets, mask = chats(tokenizer)
    with pytest.raises(ValueError, match="must all be"):
        response_log_probs(model, inputs, targets[:, :5], mask)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        response_log_probs(model, inputs, targets, mask, batch_size=0)
    long_rows = [np.zeros((1, 20), dtype) for dtype in ("int32", "int32", "float32")]
    with pytest.raises(ValueError, match="context_length=16"):
        response_log_probs(model, *long_rows)
