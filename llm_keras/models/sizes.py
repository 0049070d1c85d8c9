"""A GPT's size and cost from its configuration alone (week 3, "Assembling the GPT").

The number of parameters and the FLOPs per token follow from a ``GPTConfig`` by arithmetic: no
weight needs to exist. ``llm-keras budget`` answers from these in a fraction of a second, where
building GPT-2 small with its 124M weights (what ``GPT.num_parameters`` counts) takes seconds and
imports Keras. The tests check ``parameter_count`` against ``GPT.num_parameters`` for every
choice of the configuration.

With ``d = d_model``, ``f = d_ff``, ``V = vocab_size``, ``T = context_length``, ``L = n_layers``
and ``b = 1`` when the dense layers have biases (else 0), a pre-LN GPT holds:

- the token table ``V d`` (also the output projection when tied; else a second ``V d``);
- learned positions ``T d`` (sinusoidal and rotary positions have no weights);
- per block: attention ``4 (d d + b d)`` (query, key, value, output), feed-forward
  ``d f + b f + f d + b d`` (SwiGLU adds a gate, ``d f + b f``), two normalisations of ``2 d``
  (LayerNorm: scale and shift) or ``d`` (RMSNorm: scale only);
- a final normalisation after the last block (pre-LN only: a post-LN block ends with its own).

Example:
    >>> from llm_keras.models.gpt_config import GPTConfig
    >>> parameter_count(GPTConfig.preset("gpt2-small"))
    124439808
"""

from __future__ import annotations


def parameter_count(config, non_embedding: bool = False) -> int:
    """Trainable numbers of a GPT built from ``config`` (a tied table counts once).

    ``non_embedding=True`` leaves out the learned position table, as ``GPT.num_parameters``
    and nanoGPT's ``get_num_params`` do.
    """
    d, f, bias = config.d_model, config.d_ff, int(config.use_bias)
    norm = 2 * d if config.norm == "layernorm" else d
    attention = 4 * (d * d + bias * d)
    projections = 3 if config.activation == "swiglu" else 2  # (up, down and the SwiGLU gate)
    feed_forward = projections * d * f + (projections - 1) * bias * f + bias * d
    block = attention + feed_forward + 2 * norm
    tables = config.vocab_size * d * (1 if config.tie_weights else 2)
    positions = config.context_length * d if config.positional == "learned" else 0
    final_norm = norm if config.norm_first else 0
    count = tables + positions + config.n_layers * block + final_norm
    return count - positions if non_embedding else count


def flops_per_token(config, training: bool = True, seq_len: int | None = None) -> int:
    """Floating-point operations per token, the estimate of nanoGPT's ``estimate_mfu``.

    With ``N = parameter_count(config, non_embedding=True)``, ``L`` layers, ``T`` tokens of
    context (``seq_len``, by default ``context_length``) and ``d = d_model``:

    - forward only: ``2 N + 4 L T d``: a multiply and an add per weight, plus the attention
      scores ``q k^T`` and the weighted sum of values, ``2 T d`` each per layer;
    - training (``training=True``): three times that, ``6 N + 12 L T d``, since the backward
      pass costs twice the forward (PaLM, Chowdhery et al. 2022, appendix B).

    It counts the full ``T x T`` score matrix, as the published formula does, though the causal
    mask makes half of it unused.
    """
    seq_len = config.context_length if seq_len is None else seq_len
    n = parameter_count(config, non_embedding=True)
    forward = 2 * n + 4 * config.n_layers * seq_len * config.d_model
    return 3 * forward if training else forward
