"""The decoding loop: greedy ids with and without the cache equal a NumPy greedy decoder (window
sliding included), one compilation per (batch, max_length), streaming, seeds, end tokens, batches,
and bad input."""

import gc
import itertools
import weakref

import keras
import numpy as np
import pytest

from llm_keras.generation import decode
from llm_keras.generation.decode import generate, stream_ids
from llm_keras.models import GPT, GPTConfig
from tests.llm_keras.models.numpy_gpt import gpt_forward, gpt_params, set_gpt

TINY = dict(vocab_size=11, context_length=16, d_model=16, n_layers=2, n_heads=2, d_ff=32)
SIZES = {
    "learned": TINY,
    "rotary": dict(
        TINY, positional="rotary", norm="rmsnorm", activation="swiglu", use_bias=False,
        tie_weights=False,
    ),
    "larger": dict(TINY, context_length=24, d_model=32, n_layers=3, n_heads=4, d_ff=64),
}  # fmt: skip
# Four prompts of different lengths; the last is longer than a 16-token context.
PROMPTS = [[1, 2, 3, 4, 5], [7], [3, 9, 2], [(5 * i) % 11 for i in range(20)]]


def make(size="learned"):
    """A GPT with NumPy weights large enough (std 0.5) for varied greedy text."""
    config = GPTConfig(**SIZES[size])
    model = GPT(config)
    params = gpt_params(np.random.default_rng(2), config)
    set_gpt(model, params)
    return model, params, config


# Models are shared between tests: on JAX and TensorFlow each model compiles its loops once per
# (batch, max_length), which costs seconds. Most tests use one prompt or the four PROMPTS.
MODELS = {}


def shared(size="learned"):
    if size not in MODELS:
        MODELS[size] = make(size)
    return MODELS[size]


@pytest.fixture(scope="module")
def tiny():
    return shared()[0]


def numpy_greedy(params, config, prompt, new_tokens):
    """nanoGPT's generate in NumPy (float64): the argmax of the last position, fed the last
    context_length tokens at most."""
    ids = list(prompt)
    for _ in range(new_tokens):
        window = np.array([ids[-config.context_length :]])
        ids.append(int(np.argmax(gpt_forward(window, params, config)[0, -1])))
    return ids[len(prompt) :]


@pytest.mark.parametrize("size", SIZES)
def test_greedy_ids_with_and_without_cache_are_identical_and_match_numpy(size):
    model, params, config = shared(size)
    new_tokens = 24  # every row goes past the context: the window slides
    cached = generate(model, PROMPTS, new_tokens, temperature=0)
    uncached = generate(model, PROMPTS, new_tokens, temperature=0, use_cache=False)
    expected = [numpy_greedy(params, config, prompt, new_tokens) for prompt in PROMPTS]
    assert cached == uncached == expected
    assert [len(ids) for ids in cached] == [new_tokens] * 4
    assert min(len(set(ids)) for ids in expected) >= 4  # varied text, not one repeated token


def count_block_calls(model):
    """Count the calls of the first block: under jax.jit and tf.function, one per trace."""
    calls = []
    call = model.blocks[0].call

    def counting(*args, **kwargs):
        calls.append(1)
        return call(*args, **kwargs)

    model.blocks[0].call = counting
    return calls


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="torch runs eagerly: no tracing")
def test_compiles_once_per_batch_and_max_length():
    model = make()[0]
    traces = count_block_calls(model)
    generate(model, [1, 2, 3], 2, temperature=0.7, seed=0, max_length=16)
    after_first = len(traces)  # the prefill and the loop: one trace each (TF: two of the loop)
    assert 2 <= after_first <= 3
    for prompt, new_tokens, options in [
        ([4, 5, 6], 2, dict(temperature=0.7)),  # another prompt of the same length
        ([4, 5, 6, 7, 8, 9], 5, dict(temperature=1.3, top_k=3, top_p=0.5, seed=1)),
        ([9], 9, dict(temperature=0, end_token_id=4)),  # greedy, an end token
        ([1, 2, 3], 13, dict(top_p=0.9, seed=3)),  # fills the buffer exactly
    ]:
        generate(model, prompt, new_tokens, max_length=16, **options)
    assert len(traces) == after_first  # 29 tokens more, nothing traced again
    generate(model, [[1, 2], [3, 4]], 3, max_length=16)  # a new batch size: a new compilation
    assert len(traces) > after_first


def test_stream_yields_the_ids_of_generate_one_by_one(tiny):
    options = dict(temperature=0.9, seed=3)
    expected = generate(tiny, [1, 2, 3], 20, **options)
    tokens = stream_ids(tiny, [1, 2, 3], 20, **options)
    first = next(tokens)
    assert isinstance(first, int) and [first, *tokens] == expected
    # Streaming is lazy: the first ids of a stream of 100,000 come without generating the rest.
    endless = stream_ids(tiny, [1, 2, 3], 100_000, **options)
    assert list(itertools.islice(endless, 5)) == expected[:5]
    # The cache does not change sampled ids either: each position has its own random key.
    assert generate(tiny, [1, 2, 3], 20, use_cache=False, **options) == expected


def test_seeds_and_sampler_limits(tiny):
    sample = generate(tiny, [4, 2], 14, temperature=2.0, seed=11)
    assert generate(tiny, [4, 2], 14, temperature=2.0, seed=11) == sample
    other_seed = generate(tiny, [4, 2], 14, temperature=2.0, seed=12)
    assert sum(a != b for a, b in zip(sample, other_seed, strict=True)) > 4
    greedy = generate(tiny, [4, 2], 14, temperature=0)
    assert sum(a != b for a, b in zip(sample, greedy, strict=True)) > 4
    assert generate(tiny, [4, 2], 14, temperature=1.5, top_k=1, seed=5) == greedy
    assert generate(tiny, [4, 2], 14, temperature=1.5, top_p=1e-6, seed=5) == greedy


def test_generation_stops_at_the_end_token(tiny):
    greedy = generate(tiny, PROMPTS, 24, temperature=0)
    # The end token: the first token of row 0's text not seen before position 3 of it.
    stop = next(i for i, token in enumerate(greedy[0]) if i >= 3 and token not in greedy[0][:i])
    end = greedy[0][stop]
    stopped = generate(tiny, PROMPTS, 24, temperature=0, end_token_id=end)
    expected = [ids[: ids.index(end)] if end in ids else ids for ids in greedy]
    assert stopped == expected and len(stopped[0]) == stop
    assert sorted(map(len, stopped)) != [24] * 4  # at least one other row stops early or not
    stream = stream_ids(tiny, PROMPTS[0], 10, temperature=0, end_token_id=end)
    assert list(stream) == expected[0][:10]


def test_a_long_prompt_keeps_its_last_context_length_tokens(tiny):
    long_prompt = [(3 * i) % 11 for i in range(40)]
    expected = generate(tiny, long_prompt[-16:], 10, temperature=0)
    assert generate(tiny, long_prompt, 10, temperature=0) == expected
    assert generate(tiny, np.array(long_prompt, dtype="int64"), 10, temperature=0) == expected


def test_default_max_length():
    assert [decode.default_max_length(n, 256) for n in (1, 16, 17, 100, 256, 300)] == [
        16, 16, 32, 128, 256, 256,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "prompt, options, message",
    [
        ([1, 11, 2], {}, "Token id 11 at position 1 of the prompt is outside [0, 11)"),
        ([[1, 2], [3, -1]], {}, "Token id -1 at position 1 of Prompt 1 is outside [0, 11)"),
        ([], {}, "The prompt is empty"),
        ([[1], []], {}, "Prompt 1 is empty"),
        ([1, 2.5], {}, "holds 2.5 at position 1, which is not an integer token id"),
        (np.zeros((1, 2, 3), "int32"), {}, "got an array of shape (1, 2, 3)"),
        (np.ones((2, 3), "float32"), {}, "must be integer token ids, got dtype float32"),
        ("ROMEO:", {}, "must be token ids, got the text 'ROMEO:'"),
        ([1, 2], dict(max_new_tokens=0), "max_new_tokens=0 must be an integer in [1,"),
        ([1, 2], dict(max_length=17), "max_length=17 must be an integer in [1, 17)"),
        ([1, 2], dict(seed=-1), "seed=-1 must be an integer in [0, 2147483648)"),
        ([1, 2], dict(end_token_id=11), "end_token_id=11 must be an integer in [0, 11)"),
        ([1, 2], dict(top_p=1.5), "top_p=1.5 is outside (0, 1]"),
        ([1, 2], dict(temperature=-1), "temperature=-1 must be a finite number >= 0"),
        ([1, 2], dict(use_cache="yes"), "use_cache must be True or False"),
    ],
)
def test_bad_input_is_named(tiny, prompt, options, message):
    options = {"max_new_tokens": 3, **options}
    with pytest.raises(ValueError) as error:
        generate(tiny, prompt, **options)
    assert message in str(error.value)


def test_stream_ids_takes_one_prompt(tiny):
    with pytest.raises(ValueError, match="streams one prompt .* got a batch of 2"):
        stream_ids(tiny, [[1], [2]], 3)


def test_compiled_functions_go_with_their_model():
    model = make()[0]
    generate(model, [1, 2], 2, temperature=0)
    # the prefill, the loop with a cache, and the model's step inside it (recorded on PyTorch)
    assert len(decode._COMPILED[model]) == 3
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None
