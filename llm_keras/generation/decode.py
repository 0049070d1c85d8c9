"""Generating token ids: a decoding loop with a KV cache and fixed shapes (week 4, "The KV cache").

A GPT predicts one token at a time: feed the text so far, pick the next token from the scores of
the last position (``samplers.py``), append it, repeat. Done naively, step ``n`` runs the model on
all ``n`` tokens again. With a **KV cache** each step runs the model on the one new token: the
keys and values of the earlier tokens are kept from the steps before (``GPT.call_with_cache``).

**Fixed shapes.** A compiler (XLA, under ``jax.jit`` and ``tf.function``) compiles a function for
given input shapes; a new shape means a new compilation, seconds each. So every tensor of the loop
keeps its shape from the first step to the last:

- ``tokens`` ``(batch, max_length)``: a buffer holding the prompt, left-aligned, then the new
  tokens as they come (the rest is padding, never looked at: the causal mask hides it);
- ``cache`` ``(batch, n_layers, 2, max_length, n_heads, head_dim)`` (``model.init_cache``);
- the position ``t`` of the next token, a scalar *tensor*, not a Python int.

The loop:

1. **prefill**: one call of the model on the whole buffer fills the cache
   (``call_with_cache(tokens, cache, 0)``; padding gets keys and values too, overwritten later);
2. **steps** inside one ``keras.ops.while_loop``: feed the token at ``t - 1`` at cache position
   ``t - 1``, choose the token at ``t`` from the logits, write it into the buffer with
   ``ops.slice_update``, ``t += 1``; stop at the requested length or when every row has produced
   the end token.

Nothing depends on the prompt's length, on ``max_new_tokens``, on the sampling options, the seed
or the end token except tensor *values*, so on JAX and TensorFlow the prefill and the loop compile
once per ``(batch, max_length)`` (the loop without a cache, used past the context, once more). By
default ``max_length`` is the prompt plus the new tokens rounded up to a power of two (at least 16,
at most ``context_length``), so a few lengths serve every call; pass ``max_length`` to fix it.
``compiled.py`` holds the compilation per backend. Without a cache (``use_cache=False``) each step
runs the model on the whole buffer, the same fixed shape.

**Batches.** Prompts of different lengths are left-aligned (as keras-hub does): the loop starts at
the shortest prompt's end, and a row whose prompt is longer keeps its own tokens until its prompt
ends. Each row gets ``max_new_tokens`` new tokens (or fewer if it produces the end token).

**Past the context: the window slides.** The model has no positions past ``context_length``, so,
as nanoGPT's ``generate``, each new token is predicted from the last ``max_length`` tokens at most
(``max_length`` is ``context_length`` whenever the text outgrows it). A prompt longer than that
keeps its last ``max_length`` tokens. Once the buffer is full, every step shifts it left by one
token and runs the model on the whole window: the keys and values of a token depend on its
position in the window, which changes at every shift, so the cache cannot be reused there. Past
the context, generating with a cache is as slow as without one; within it, a cached step costs
about one token's worth of work instead of ``max_length`` tokens'.

**Seeds.** The token at position ``t`` is drawn with the key ``[seed, t]`` (see ``samplers.py``):
the same seed, prompts and options give the same ids on a backend, streamed or not.
"""

import functools
import numbers
import weakref

import numpy as np
from keras import ops

from llm_keras.generation.compiled import compile_for_backend, recorded_method
from llm_keras.generation.samplers import check_sampling_options, next_token

# model -> {what was compiled: function}; an entry goes when its model is freed.
_COMPILED = weakref.WeakKeyDictionary()


def generate(
    model,
    prompt_ids,
    max_new_tokens,
    *,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=0,
    end_token_id=None,
    use_cache=True,
    max_length=None,
):
    """Generate ``max_new_tokens`` token ids after each prompt.

    Args:
        model: a ``GPT``.
        prompt_ids: one prompt (a list or 1-D array of ids) or a batch (a list of lists, lengths
            may differ, or a 2-D array ``(batch, seq)``). Ids in ``[0, vocab_size)``; no prompt
            may be empty.
        max_new_tokens: how many tokens to generate per prompt (fewer when ``end_token_id``
            comes first).
        temperature: ``0`` for greedy decoding, else the sampling temperature (``samplers.py``).
        top_k: ``None`` or keep only the ``k`` likeliest tokens.
        top_p: ``None`` or keep only the nucleus of probability ``p`` in ``(0, 1]``.
        seed: an int in ``[0, 2**31)``; the same seed gives the same ids on a backend.
        end_token_id: ``None``, or an id that ends a row's text. It is not returned.
        use_cache: ``False`` runs the whole window through the model at every step (the slow
            reference: greedy ids are the same).
        max_length: length of the buffer and cache, at most ``context_length`` (see the module
            docstring for the default). Each new token sees at most the last ``max_length``.

    Returns:
        The new ids only (the prompt is not repeated): ``list[int]`` for one prompt,
        ``list[list[int]]`` for a batch.

    Raises:
        ValueError: for a prompt that is empty, not integer ids, of the wrong rank or with ids
            outside the vocabulary, and for options out of range; the message names the value.

    Example:

    >>> ids = generate(model, tokenizer.encode("ROMEO:"), 100, temperature=0.8, top_k=40)
    >>> print(tokenizer.decode(ids))
    """
    prompts, single = check_prompts(prompt_ids, model.config.vocab_size)
    chunks = _decode(
        model, prompts, max_new_tokens, temperature, top_k, top_p, seed, end_token_id,
        use_cache, max_length, chunk_size=None,
    )  # fmt: skip
    new_ids = [[] for _ in prompts]
    for chunk in chunks:
        for ids, more in zip(new_ids, chunk, strict=True):
            ids.extend(more)
    return new_ids[0] if single else new_ids


def stream_ids(model, prompt_ids, max_new_tokens, **options):
    """Like ``generate`` for one prompt, but yields each new id as soon as it is chosen.

    The options are ``generate``'s. The ids are those ``generate`` returns with the same seed.
    Each token costs one call of the compiled loop (one step long), so streaming is a little
    slower than ``generate``, which runs the whole loop in one call.

    >>> for token_id in stream_ids(model, tokenizer.encode("ROMEO:"), 100, temperature=0.8):
    ...     print(token_id)

    For text, ``streaming.stream_text`` decodes the ids as they come without splitting a
    character (decoding byte-level tokens one by one would).
    """
    prompts, single = check_prompts(prompt_ids, model.config.vocab_size)
    if not single:
        raise ValueError(
            f"stream_ids streams one prompt (a list of ids), got a batch of {len(prompts)}: "
            "call it once per prompt, or use generate() for a batch."
        )
    chunks = _decode(model, prompts, max_new_tokens, **options, chunk_size=1)
    return (token_id for chunk in chunks for token_id in chunk[0])


def default_max_length(needed, context_length):
    """``needed`` tokens rounded up to a power of two, at least 16, at most ``context_length``."""
    return min(context_length, max(16, 1 << (needed - 1).bit_length()))


def check_prompts(prompt_ids, vocab_size):
    """Check prompts of token ids; return them as lists of ints and whether there was one.

    Returns:
        ``(prompts, single)``: ``prompts`` a list of non-empty lists of ints in
        ``[0, vocab_size)``; ``single`` is ``True`` when ``prompt_ids`` was one prompt.
    """
    if isinstance(prompt_ids, str):
        raise ValueError(
            f"prompt_ids must be token ids, got the text {prompt_ids!r:.40}: encode it first "
            "(tokenizer.encode(text)), or use generate_text / stream_text, which do."
        )
    if ops.is_tensor(prompt_ids):
        prompt_ids = ops.convert_to_numpy(prompt_ids)
    if isinstance(prompt_ids, np.ndarray):
        if prompt_ids.ndim not in (1, 2):
            raise ValueError(
                "prompt_ids must be one prompt (1-D: seq) or a batch (2-D: batch, seq), got an "
                f"array of shape {prompt_ids.shape}."
            )
        if prompt_ids.dtype == bool or not np.issubdtype(prompt_ids.dtype, np.integer):
            raise ValueError(
                f"prompt_ids must be integer token ids, got dtype {prompt_ids.dtype} (shape "
                f"{prompt_ids.shape}): convert them, e.g. np.asarray(ids, dtype='int32')."
            )
        single = prompt_ids.ndim == 1
        prompts = [prompt_ids.tolist()] if single else prompt_ids.tolist()
    else:
        try:
            items = list(prompt_ids)
        except TypeError:
            raise ValueError(
                f"prompt_ids must be a list of token ids (one prompt) or a list of lists (a "
                f"batch), got {type(prompt_ids).__name__} {prompt_ids!r:.40}."
            ) from None
        single = not items or not isinstance(items[0], (list, tuple, np.ndarray))
        prompts = [items] if single else [list(np.asarray(p).tolist()) for p in items]
    if not prompts:
        raise ValueError("prompt_ids is an empty batch: give at least one prompt.")
    for row, prompt in enumerate(prompts):
        where = "The prompt" if single else f"Prompt {row}"
        if not isinstance(prompt, list) or not prompt:
            raise ValueError(
                f"{where} is empty: generation needs at least one token to continue from (for "
                "a character model, a newline will do)."
            )
        for position, token in enumerate(prompt):
            if isinstance(token, (bool, np.bool_)) or not isinstance(token, numbers.Integral):
                raise ValueError(
                    f"{where} holds {token!r} at position {position}, which is not an integer "
                    "token id (a batch is a list of lists of ints, all of the same depth)."
                )
        low, high = min(prompt), max(prompt)
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise ValueError(
                f"Token id {bad} at position {prompt.index(bad)} of "
                f"{where.lower() if single else where} is outside [0, {vocab_size}) "
                f"(vocab_size={vocab_size}): encode prompts with the model's own tokenizer."
            )
    return [[int(token) for token in prompt] for prompt in prompts], single


def _check_int(name, value, low, high, why):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= value < high
    ):
        raise ValueError(f"{name}={value!r} must be an integer in [{low}, {high}): {why}.")


def _decode(
    model, prompts, max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=0,
    end_token_id=None, use_cache=True, max_length=None, *, chunk_size,
):  # fmt: skip
    """Check the options, then return an iterator over chunks: each chunk is a list (one entry
    per prompt) of the new ids of the positions that one call of the compiled loop produced.
    ``chunk_size`` bounds the steps of a call (``None``: as many as possible)."""
    config = model.config
    _check_int("max_new_tokens", max_new_tokens, 1, 2**31, "the number of tokens to generate")
    check_sampling_options(temperature, top_k, top_p)
    _check_int("seed", seed, 0, 2**31, "any integer; the same seed gives the same text")
    if end_token_id is not None:
        _check_int("end_token_id", end_token_id, 0, config.vocab_size, "an id of the vocabulary")
    if not isinstance(use_cache, bool):
        raise ValueError(f"use_cache must be True or False, got {use_cache!r}.")
    longest = max(len(prompt) for prompt in prompts)
    if max_length is None:
        max_length = default_max_length(longest + max_new_tokens, config.context_length)
    _check_int(
        "max_length", max_length, 1, config.context_length + 1,
        f"the buffer holds at most context_length={config.context_length} tokens",
    )  # fmt: skip
    # Every option is a tensor: changing one does not compile the loop again.
    settings = dict(
        seed=ops.convert_to_tensor(seed, "int32"),
        temperature=ops.convert_to_tensor(temperature, "float32"),
        top_k=ops.convert_to_tensor(min(top_k or config.vocab_size, config.vocab_size), "int32"),
        top_p=ops.convert_to_tensor(1.0 if top_p is None else top_p, "float32"),  # 1: all
        end_token_id=ops.convert_to_tensor(-1 if end_token_id is None else end_token_id, "int32"),
    )
    return _decode_chunks(
        model, prompts, max_new_tokens, end_token_id, use_cache, max_length, chunk_size, settings
    )


def _decode_chunks(
    model, prompts, max_new_tokens, end_token_id, use_cache, max_length, chunk_size, settings
):
    batch = len(prompts)
    # The buffer (batch, max_length): each prompt's last max_length tokens, left-aligned.
    buffer = np.zeros((batch, max_length), dtype="int32")
    lengths = np.zeros(batch, dtype="int32")
    for row, prompt in enumerate(prompts):
        kept = prompt[-max_length:]
        buffer[row, : len(kept)] = kept
        lengths[row] = len(kept)
    limits = lengths + max_new_tokens  # row b is complete once position limits[b] is reached
    t, end = int(lengths.min()), int(limits.max())
    finished = np.zeros(batch, dtype=bool)
    settings = dict(
        settings,
        lengths=ops.convert_to_tensor(lengths),
        limits=ops.convert_to_tensor(limits),
    )
    tokens = ops.convert_to_tensor(buffer)
    ended = ops.zeros((batch,), dtype="bool")
    cache = compiled_for_model(model, _prefill)(tokens) if use_cache and t < max_length else None
    while t < end and not finished.all():
        cached = cache is not None and t < max_length
        # A call may run at most max_length steps, so that what it wrote is still in the window.
        stop = min(end, t + min(chunk_size or max_length, max_length))
        if cached:
            stop = min(stop, max_length)  # the cache ends where the window starts to slide
        loop = compiled_for_model(model, _decode_loop, cached=cached)
        state = (tokens, ops.convert_to_tensor(t, "int32"), ended) + ((cache,) if cached else ())
        tokens, t_after, ended, *rest = loop(
            state, dict(settings, stop=ops.convert_to_tensor(stop, "int32"))
        )
        cache = rest[0] if cached else None
        t_after = int(ops.convert_to_numpy(t_after))
        window = ops.convert_to_numpy(tokens)
        first = max(0, t_after - max_length)  # the position of window[:, 0]
        chunk = []
        for row in range(batch):
            start, stop_row = max(t, lengths[row]), min(t_after, limits[row])
            ids = [] if finished[row] else window[row, start - first : stop_row - first].tolist()
            if end_token_id in ids:
                ids = ids[: ids.index(end_token_id)]
                finished[row] = True
            finished[row] |= t_after >= limits[row]
            chunk.append(ids)
        yield chunk
        t = t_after


def forget_compiled(model):
    """Drop the decoding functions compiled for ``model``, so the next ``generate`` compiles anew.

    Call it after changing the model's layers (``llm_keras.finetuning.lora.apply_lora`` and
    ``merge_lora`` do): on TensorFlow a compiled function keeps reading the variables it was
    traced with, so it would go on generating with the old layers.
    """
    _COMPILED.pop(model, None)


def compiled_for_model(model, function, **options):
    """``function`` with ``options`` fixed, compiled for ``model`` once and remembered.

    ``function(model_ref, *args, **options)`` takes a weak reference to the model first. The
    compiled function lives as long as the model and is dropped by ``forget_compiled``; the
    alignment code (``alignment.log_probs``, ``alignment.grpo``) compiles its functions here for
    the same reasons as generation: one compilation per shape, and none kept for a changed model.
    """
    key = (function.__name__, *sorted(options.items()))
    bound = functools.partial(function, weakref.ref(model), **options)
    return _remembered(model, key, lambda: compile_for_backend(bound, model))


def _remembered(model, key, make):
    """``_COMPILED[model][key]``, made by ``make()`` the first time."""
    functions = _COMPILED.setdefault(model, {})
    if key not in functions:
        functions[key] = make()
    return functions[key]


def _recorded(model, name):
    """``recorded_method(model, name)``, made once per model and dropped by ``forget_compiled``."""
    return _remembered(model, ("recorded", name), lambda: recorded_method(model, name))


def _prefill(model_ref, tokens):
    """The cache after reading the whole buffer ``tokens`` ``(batch, max_length)``."""
    model = model_ref()
    batch, max_length = tokens.shape
    _, cache = model.call_with_cache(tokens, model.init_cache(batch, max_length), 0)
    return cache


def _decode_loop(model_ref, state, settings, *, cached):
    """Run decoding steps from ``state = (tokens, t, ended[, cache])`` until ``t`` reaches
    ``settings["stop"]`` or every row has ended; return the new state.

    ``tokens`` ``(batch, max_length)`` int32; ``t`` the position of the next token; ``ended``
    ``(batch,)`` bool, rows that produced the end token; ``cache`` only when ``cached``.
    """
    model = model_ref()
    s = settings
    batch, max_length = state[0].shape
    # The model's calls, recorded once per shapes on PyTorch (compiled.py); the methods elsewhere.
    step = _recorded(model, "call_with_cache" if cached else "__call__")

    def cond(tokens, t, ended, *cache):
        active = ops.logical_and(ops.logical_not(ended), t < s["limits"])  # (batch,)
        return ops.logical_and(t < s["stop"], ops.any(active))

    def body(tokens, t, ended, *cache):
        index = ops.minimum(t, max_length)  # the buffer slot of position t (max_length: full)
        if cached:  # one token in: the token at index - 1, at its cache position
            last = ops.take(tokens, index - 1, axis=1)[:, None]  # (batch, 1)
            logits, new_cache = step(last, cache[0], index - 1)
            logits, cache = logits[:, 0], (new_cache,)  # (batch, vocab)
        else:  # the whole window in; once it is full, slide it left by one token
            logits = ops.take(step(tokens), index - 1, axis=1)  # (batch, vocab)
            full = index == max_length
            tokens = ops.where(full, ops.roll(tokens, -1, axis=1), tokens)
            index = index - ops.cast(full, "int32")
        chosen = next_token(
            logits,
            seed=ops.stack([s["seed"], t]),  # one key per position
            temperature=s["temperature"],
            top_k=s["top_k"],
            top_p=s["top_p"],
        )  # (batch,)
        in_prompt = t < s["lengths"]  # (batch,): rows whose prompt is longer keep their tokens
        token = ops.where(in_prompt, ops.take(tokens, index, axis=1), chosen)
        tokens = ops.slice_update(tokens, [0, index], token[:, None])
        produced_end = ops.logical_and(ops.logical_not(in_prompt), token == s["end_token_id"])
        ended = ops.logical_or(ended, produced_end)  # (no end token: its id is -1, never produced)
        return (tokens, t + 1, ended, *cache)

    return ops.while_loop(cond, body, state)
