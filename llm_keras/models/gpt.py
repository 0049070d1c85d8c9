"""The GPT model: token ids in, next-token logits out (week 3, "Assembling the GPT").

    ids (batch, seq) -> token embedding (+ position vectors) -> dropout
        -> n_layers x TransformerBlock -> final norm (pre-LN only)
        -> output projection (the token table itself when weights are tied)
        -> logits (batch, seq, vocab_size), float32

``logits[b, t]`` scores every token of the vocabulary as the one that follows ``ids[b, :t + 1]``.
``hidden_states(ids)`` stops before the output projection: ``(batch, seq, d_model)``, the vectors
a new head reads (week 6's classifier).

Decoding with a KV cache (used by ``llm_keras.generation``) keeps every shape fixed, so a compiled
step is compiled once:

>>> model = GPT(GPTConfig.preset("shakespeare-char-cpu"))
>>> cache = model.init_cache(batch_size=1, max_length=64)    # (1, n_layers, 2, 64, heads, head_dim)
>>> logits, cache = model.call_with_cache(prompt_ids, cache, cache_index=0)        # prefill
>>> logits, cache = model.call_with_cache(next_id[:, None], cache, cache_index=n)  # one token

Bad input is stopped at the door with a message that says what to do: ids of the wrong rank or
dtype, sequences longer than ``context_length``, and (in eager mode only) ids outside
``[0, vocab_size)``. Inside a compiled function (``jax.jit``, ``tf.function``, ``model.fit`` on
JAX and TensorFlow) the values of the ids are not known yet, so they cannot be checked there: an id
out of range then gives garbage (JAX clamps it) or a backend error.
"""

import math

import keras
from keras import ops

from llm_keras.layers import (
    NORMS,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    TokenEmbedding,
    TransformerBlock,
)
from llm_keras.models import sizes
from llm_keras.models.gpt_config import GPTConfig


def _values_are_known(x):
    """Whether ``x`` holds numbers now (eager mode), rather than standing for numbers to come
    (a tracer inside ``jax.jit``, a graph tensor inside ``tf.function``, torch's shape-only
    "meta" tensors). The one backend-specific function of the model."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly()
    if backend == "torch":
        import torch

        return (
            x.device.type != "meta"
            and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing()
        )
    return True


@keras.saving.register_keras_serializable(package="llm_keras")
class GPT(keras.Model):
    """A decoder-only transformer language model (GPT-2 and its variants).

    Args:
        config: a ``GPTConfig`` with every size and choice.
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``: e.g. ``"mixed_bfloat16"``).

    Sublayers: ``token_embedding`` (``TokenEmbedding``), ``position_embedding``
    (``LearnedPositionalEmbedding``, ``SinusoidalPositionalEncoding`` or ``None`` with rotary
    positions, which live inside the attention), ``embedding_dropout``, ``blocks`` (a list of
    ``TransformerBlock``), ``final_norm`` (``None`` for post-LN models, whose blocks already end
    with a norm), ``lm_head`` (a second ``TokenEmbedding``, used in reverse; ``None`` when the
    weights are tied).

    Call arguments:
        token_ids: integer ids ``(batch, seq)``, ``seq <= context_length``, each id in
            ``[0, vocab_size)``.
        training: ``True`` applies dropout.

    Returns:
        Logits ``(batch, seq, vocab_size)``, float32 whatever the dtype policy.

    Raises:
        ValueError: for ids of the wrong rank or dtype, too long a sequence, or (in eager mode)
            ids outside ``[0, vocab_size)``.

    Example:

    >>> model = GPT(GPTConfig.preset("shakespeare-char-cpu"))
    >>> logits = model(np.zeros((2, 64), dtype="int32"))          # (2, 64, 65)
    >>> model.num_parameters()
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(config, GPTConfig):
            raise TypeError(
                f"GPT expects a GPTConfig, got {type(config).__name__}: build one with "
                "GPTConfig(...), GPTConfig.preset(name) or GPTConfig.from_dict(d)."
            )
        self.config = config
        c = config
        self.token_embedding = TokenEmbedding(
            c.vocab_size, c.d_model, dtype=self.dtype_policy, name="token_embedding"
        )
        if c.positional == "learned":
            self.position_embedding = LearnedPositionalEmbedding(
                c.context_length, c.d_model, dtype=self.dtype_policy, name="position_embedding"
            )
        elif c.positional == "sinusoidal":
            self.position_embedding = SinusoidalPositionalEncoding(
                dtype=self.dtype_policy, name="position_embedding"
            )
        else:  # rotary: positions enter inside each attention layer
            self.position_embedding = None
        self.embedding_dropout = keras.layers.Dropout(
            c.dropout, dtype=self.dtype_policy, name="embedding_dropout"
        )
        self.blocks = [
            TransformerBlock(
                c.d_model,
                c.n_heads,
                c.d_ff,
                dropout=c.dropout,
                norm_first=c.norm_first,
                norm=c.norm,
                activation=c.activation,
                use_bias=c.use_bias,
                fused_attention=c.fused_attention,
                fused_norm=c.fused_norm,
                rotary=c.positional == "rotary",
                layer_norm_epsilon=c.layer_norm_epsilon,
                dtype=self.dtype_policy,
                name=f"block_{i}",
            )
            for i in range(c.n_layers)
        ]
        self.final_norm = (
            NORMS[c.norm](c.layer_norm_epsilon, fused=c.fused_norm, dtype=self.dtype_policy,
                          name="final_norm")
            if c.norm_first
            else None
        )
        self.lm_head = (
            None
            if c.tie_weights
            else TokenEmbedding(c.vocab_size, c.d_model, dtype=self.dtype_policy, name="lm_head")
        )
        self._recorded_logits = None  # record_forward's recording of _logits (PyTorch)
        # The weights' shapes do not depend on the input: build now, so that a new model can be
        # counted, saved or have its weights set before it has seen any data.
        self.build((None, c.context_length))
        if c.scaled_residual_init:
            self._scale_residual_projections()

    def _scale_residual_projections(self):
        """GPT-2's initialisation of the layers that write into the residual stream.

        Each block adds two branches to the residual stream, so after ``n_layers`` blocks it is
        a sum of ``2 * n_layers`` terms and its variance grows with the depth. Starting those
        two projections (attention output, feed-forward down) with standard deviation
        ``0.02 / sqrt(2 * n_layers)`` keeps the variance of the sum near that of one branch.
        (Scaling a normal(0, 0.02) sample by ``c`` gives a normal(0, 0.02 c) one.)
        """
        scale = 1.0 / math.sqrt(2 * self.config.n_layers)
        for block in self.blocks:
            for dense in (block.attention.output_projection, block.feed_forward.down_projection):
                dense.kernel.assign(dense.kernel * scale)

    def build(self, input_shape):
        if self.built:  # built in __init__; Keras calls build again when it loads a saved model
            return
        hidden_shape = (*input_shape, self.config.d_model)  # (batch, seq, d_model)
        self.token_embedding.build(input_shape)
        for layer in (self.position_embedding, *self.blocks, self.final_norm, self.lm_head):
            if layer is not None:
                layer.build(hidden_shape)

    def get_build_config(self):
        # The weights do not depend on the input shape: always rebuild the same way on load.
        return {"input_shape": (None, self.config.context_length)}

    def call(self, token_ids, training=None):
        if self._recorded_logits is not None and _values_are_known(token_ids):
            token_ids = self._check_token_ids(token_ids)  # checked here: the record skips it
            return self._recorded_logits(token_ids, bool(training))
        return self._logits(token_ids, training)

    def _logits(self, token_ids, training):
        logits, _ = self._forward(token_ids, training=training)
        return logits

    def record_forward(self, enabled=True):
        """PyTorch: replay ``call`` from a record instead of running each layer's Python.

        Eager Keras spends about 0.1 ms of Python in each layer call; a training step of the
        CPU preset makes about 60 of them. With ``enabled``, ``call`` is recorded once per
        input shape and ``training`` flag (``torch.jit.trace``, as generation records its
        cached step: ``llm_keras.generation.compiled.recorded_method``) with the weights as
        inputs that require gradients, and replayed: ``model.fit``'s trainer, loss, optimizer
        and callbacks are Keras's as before, and the loss and its gradients are the eager
        call's to float32 rounding. Weights changed by training or loading are read at every
        call; dropout draws a new mask at every call, from PyTorch's generator as the eager
        call does. ``compile_for_training`` turns it on for a GPT on PyTorch; ``False`` turns
        it off (and forgets the records). A no-op on JAX and TensorFlow, which compile the
        whole training step already.
        """
        if keras.backend.backend() != "torch" or not enabled:
            self._recorded_logits = None
            return
        from llm_keras.generation.compiled import recorded_method

        self._recorded_logits = recorded_method(self, "_logits", differentiable=True)

    def call_with_cache(self, token_ids, cache, cache_index):
        """One decoding step: logits for ``token_ids`` and the cache with their keys and values.

        Args:
            token_ids: ``(batch, seq)``: the prompt when ``cache_index == 0`` (prefill), or one
                new token ``(batch, 1)`` per step.
            cache: ``(batch, n_layers, 2, max_length, n_heads, head_dim)`` from ``init_cache``.
            cache_index: position of ``token_ids[:, 0]``: the number of tokens already in the
                cache. A Python int or a scalar integer tensor (it may be traced: shapes do not
                depend on it). ``cache_index + seq <= max_length``.

        Returns:
            ``(logits, new_cache)``: logits ``(batch, seq, vocab_size)`` float32, and the cache
            with positions ``cache_index .. cache_index + seq - 1`` written. Dropout is off.
        """
        expected = (self.config.n_layers, 2, None, self.config.n_heads, self.config.head_dim)
        shape = tuple(cache.shape)
        fits = len(shape) == 6 and all(
            e is None or e == s for e, s in zip(expected, shape[1:], strict=True)
        )
        if not fits:
            raise ValueError(
                f"Expected a cache of shape (batch, {expected[0]}, 2, max_length, {expected[3]}, "
                f"{expected[4]}), got {shape}: make it with model.init_cache(batch, max_length)."
            )
        return self._forward(token_ids, cache=cache, cache_index=cache_index)

    def init_cache(self, batch_size, max_length):
        """An empty KV cache: zeros ``(batch_size, n_layers, 2, max_length, n_heads, head_dim)``.

        It is in the compute dtype (bfloat16 under ``"mixed_bfloat16"``). ``max_length`` is the
        most tokens (prompt + generated) it can hold, at most ``context_length``.
        """
        c = self.config
        if not 0 < max_length <= c.context_length:
            raise ValueError(
                f"max_length={max_length} must be in [1, context_length={c.context_length}]: "
                "the model has no positions beyond its context."
            )
        shape = (batch_size, c.n_layers, 2, max_length, c.n_heads, c.head_dim)
        return ops.zeros(shape, dtype=self.compute_dtype)

    def hidden_states(self, token_ids, training=None):
        """The residual stream after the final norm: what the output head reads.

        A new head (a classifier, week 6) can read these vectors instead of the logits:
        ``head(hidden_states(ids))`` with the token table as ``head`` gives ``call(ids)``.

        Args:
            token_ids: integer ids ``(batch, seq)``, as for ``call``.
            training: ``True`` applies dropout.

        Returns:
            ``(batch, seq, d_model)`` in the compute dtype (float32, or bfloat16 under
            ``"mixed_bfloat16"``). For post-LN models (no final norm) the last block's output.
        """
        hidden, _ = self._hidden_states(token_ids, training=training)
        return hidden

    def logits_from_hidden_states(self, hidden):
        """The output projection: ``hidden_states``'s vectors as next-token logits.

        ``logits_from_hidden_states(hidden_states(ids))`` is ``call(ids)``: a model that needs
        both (a reward model reading the last token and the response's log-probability) runs
        the blocks once.

        Args:
            hidden: ``(batch, seq, d_model)``, as ``hidden_states`` returns them.

        Returns:
            ``(batch, seq, vocab_size)`` float32 logits.
        """
        head = self.token_embedding if self.lm_head is None else self.lm_head
        return head(hidden, reverse=True)

    def _forward(self, token_ids, cache=None, cache_index=None, training=None):
        x, new_cache = self._hidden_states(token_ids, cache, cache_index, training)
        return self.logits_from_hidden_states(x), new_cache  # (batch, seq, vocab_size)

    def _hidden_states(self, token_ids, cache=None, cache_index=None, training=None):
        token_ids = self._check_token_ids(token_ids)
        start_index = 0 if cache is None else cache_index
        x = self.token_embedding(token_ids)  # (batch, seq, d_model)
        if self.position_embedding is not None:
            x = x + self.position_embedding(x, start_index=start_index)
        x = self.embedding_dropout(x, training=training)
        new_caches = []
        for i, block in enumerate(self.blocks):
            if cache is None:
                x = block(x, training=training)
            else:
                x, block_cache = block(x, cache=cache[:, i], cache_index=cache_index)
                new_caches.append(block_cache)
        if self.final_norm is not None:
            x = self.final_norm(x)  # (batch, seq, d_model)
        return x, (ops.stack(new_caches, axis=1) if cache is not None else None)

    def _check_token_ids(self, token_ids):
        token_ids = ops.convert_to_tensor(token_ids)
        shape = tuple(token_ids.shape)
        dtype = keras.backend.standardize_dtype(token_ids.dtype)
        if len(shape) != 2:
            hint = "add a batch axis: ids[None, :]" if len(shape) == 1 else "one id per position"
            raise ValueError(
                f"GPT expects token ids of shape (batch, seq), got shape {shape} ({hint})."
            )
        if "int" not in dtype:
            raise ValueError(
                f"GPT expects integer token ids, got dtype {dtype} (shape {shape}): ids index "
                "the embedding table. Convert them, e.g. np.asarray(ids, dtype='int32')."
            )
        seq_len, context_length = shape[1], self.config.context_length
        if seq_len is not None and seq_len > context_length:
            raise ValueError(
                f"The input has {seq_len} tokens but context_length={context_length}: the model "
                f"has no positions beyond {context_length}. Keep the last {context_length} tokens "
                f"(ids[:, -{context_length}:]); generation slides this window along the text "
                "for you (llm_keras.generation)."
            )
        if _values_are_known(token_ids):
            vocab_size = self.config.vocab_size
            low = int(ops.convert_to_numpy(ops.min(token_ids)))
            high = int(ops.convert_to_numpy(ops.max(token_ids)))
            if low < 0 or high >= vocab_size:
                bad = low if low < 0 else high
                raise ValueError(
                    f"Token id {bad} is outside [0, {vocab_size}) (vocab_size={vocab_size}): the "
                    "ids must come from the tokenizer this model was built for."
                )
        return token_ids

    def num_parameters(self, non_embedding=False):
        """Number of distinct trainable numbers (a tied table counts once).

        ``non_embedding=True`` leaves out the learned position table, as nanoGPT's
        ``get_num_params`` does: a lookup costs no multiplications. (The token table stays in:
        it is also the output projection when tied.) Builds the model if needed.
        """
        if not self.built:
            self.build((None, self.config.context_length))
        unique = {id(w): w for w in self.weights}.values()
        count = sum(math.prod(w.shape) for w in unique)
        if non_embedding and isinstance(self.position_embedding, LearnedPositionalEmbedding):
            count -= self.config.context_length * self.config.d_model
        return count

    def flops_per_token(self, training=True, seq_len=None):
        """Floating-point operations per token: ``sizes.flops_per_token`` of this model's
        configuration (``6 N + 12 L T d`` for training, nanoGPT's ``estimate_mfu``)."""
        return sizes.flops_per_token(self.config, training=training, seq_len=seq_len)

    def get_config(self):
        config = super().get_config()
        config["config"] = self.config.to_dict()
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(GPTConfig.from_dict(config.pop("config")), **config)
