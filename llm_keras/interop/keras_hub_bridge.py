"""Our GPT as a keras-hub ``GPT2CausalLM``, and back (week 4, "Keras users: keras-hub").

keras-hub (``pip install keras-hub``) is Keras's own library of pretrained models. Its
``GPT2CausalLM`` is GPT-2 written with keras-hub's layers (``TransformerDecoder``,
``CachedMultiHeadAttention``, ``ReversibleEmbedding``), and it comes with tools our course builds
by hand: samplers (``"greedy"``, ``"top_k"``, beam search, contrastive...), ``generate`` on
strings, ``fit`` on strings, and LoRA (``backbone.enable_lora(rank)``). Converting a learner's
model lets them use all of it.

The conversion goes through GPT-2's weight names (``gpt2_checkpoint.py``), the map that the
Hugging Face export uses too; keras-hub's own converter from Hugging Face checkpoints
(``keras_hub/src/utils/transformers/convert_gpt2.py``) uses the same names. The only change of
shape: keras-hub's attention projections are ``EinsumDense`` layers with per-head kernels,
``(d, heads, head_dim)`` for query, key and value and ``(heads, head_dim, d)`` for the output,
where ours are ``(d, d)``: a reshape, since head ``j`` owns columns ``j * head_dim ...``.

``GPT2Backbone`` fixes more than GPT-2 itself: GELU, tied embeddings and ``layer_norm_epsilon``
1e-5. A model that differs is refused, naming the option.

    >>> causal_lm = to_keras_hub(model, tokenizer)         # a byte-level BPE with <|endoftext|>
    >>> causal_lm.compile(sampler=keras_hub.samplers.TopKSampler(k=40))
    >>> causal_lm.generate("ROMEO:", max_length=64)
    >>> model, tokenizer = from_keras_hub(causal_lm)
"""

from __future__ import annotations

import numpy as np

from llm_keras.interop.gpt2_checkpoint import (
    check_gpt2_compatible,
    from_gpt2_weights,
    to_gpt2_weights,
)
from llm_keras.interop.huggingface_tokenizer import byte_level_from_gpt2_tables
from llm_keras.tokenizers.base import END_OF_TEXT

TARGET = "keras-hub's GPT2Backbone"


def _check_keras_hub_compatible(config) -> None:
    check_gpt2_compatible(config, target=TARGET)
    fixed = []
    if config.activation != "gelu":
        fixed.append(f"activation={config.activation!r} (GPT2Backbone always uses GELU)")
    if not config.tie_weights:
        fixed.append("tie_weights=False (GPT2Backbone's output projection is its token table)")
    if config.layer_norm_epsilon != 1e-5:
        fixed.append(f"layer_norm_epsilon={config.layer_norm_epsilon} (GPT2Backbone uses 1e-5)")
    if fixed:
        raise ValueError(
            f"This model cannot be written as {TARGET}: {'; '.join(fixed)}. Export it to Hugging "
            "Face instead (export_to_huggingface), which can express it."
        )


def _import_keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise ImportError("This needs keras-hub: pip install keras-hub") from None
    return keras_hub


def to_keras_hub(model, tokenizer=None, dtype=None):
    """A ``keras_hub.models.GPT2CausalLM`` that computes the same logits as ``model``.

    Args:
        model: a ``GPT`` with GPT-2's architecture, GELU, tied embeddings, epsilon 1e-5.
        tokenizer: ``None``, or the model's ``ByteLevelBPETokenizer`` with GPT-2's
            pre-tokenisation and an ``<|endoftext|>`` token: it becomes a
            ``GPT2CausalLMPreprocessor``, so ``generate`` takes strings. Without it, ``generate``
            takes ``{"token_ids": (batch, length), "padding_mask": (batch, length)}``.
        dtype: the keras-hub model's dtype policy; default ``model``'s.

    Returns:
        A ``GPT2CausalLM`` (its ``backbone`` is a ``GPT2Backbone``) with ``model``'s weights.

    Raises:
        ValueError: an option GPT2Backbone cannot express (named), or a tokenizer keras-hub's
            GPT-2 preprocessor cannot reproduce.
    """
    _check_keras_hub_compatible(model.config)
    keras_hub = _import_keras_hub()
    c = model.config
    preprocessor = None if tokenizer is None else _preprocessor(keras_hub, tokenizer, c)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=c.vocab_size,
        num_layers=c.n_layers,
        num_heads=c.n_heads,
        hidden_dim=c.d_model,
        intermediate_dim=c.d_ff,
        dropout=c.dropout,
        max_sequence_length=c.context_length,
        dtype=dtype if dtype is not None else model.dtype_policy.name,
    )
    weights = to_gpt2_weights(model)
    d = c.d_model
    for variable, name, part in _variable_names(backbone):
        value = weights[name]
        if part is not None:  # this projection's third of c_attn: columns part*d .. (part+1)*d
            value = value[..., part * d : (part + 1) * d]
        variable.assign(np.reshape(value, variable.shape))  # (d, d) -> (d, heads, head_dim) etc.
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=preprocessor)


def from_keras_hub(causal_lm, dtype=None):
    """Our ``GPT`` (and tokenizer) from a keras-hub ``GPT2CausalLM`` or ``GPT2Backbone``.

    Returns:
        ``(model, tokenizer)``: a ``GPT`` with the same logits, and the preprocessor's tokenizer as
        a ``ByteLevelBPETokenizer`` (``None`` without a preprocessor, or for a backbone).
    """
    from llm_keras.models import GPTConfig

    keras_hub = _import_keras_hub()
    backbone = getattr(causal_lm, "backbone", causal_lm)
    if not isinstance(backbone, keras_hub.models.GPT2Backbone):
        raise ValueError(
            f"from_keras_hub takes a keras_hub.models.GPT2CausalLM or GPT2Backbone, got "
            f"{type(causal_lm).__name__}."
        )
    config = GPTConfig(
        vocab_size=backbone.vocabulary_size,
        context_length=backbone.max_sequence_length,
        d_model=backbone.hidden_dim,
        n_layers=backbone.num_layers,
        n_heads=backbone.num_heads,
        d_ff=backbone.intermediate_dim,
        dropout=float(backbone.dropout),
    )
    if any("lora" in v.path for v in backbone.weights):
        raise ValueError(
            "This GPT2Backbone has LoRA enabled: merge the adapters into the kernels first "
            "(or convert the model before enable_lora); our GPT has no LoRA weights."
        )
    weights, thirds = {}, {}
    for variable, name, part in _variable_names(backbone):
        value = np.asarray(_numpy(variable), dtype=np.float32)
        if part is None:
            weights[name] = np.reshape(
                value, (-1, value.shape[-1]) if value.ndim == 3 else value.shape
            )
        else:  # (d, heads, head_dim) -> (d, d), or (heads, head_dim) -> (d,)
            thirds.setdefault(name, {})[part] = np.reshape(value, value.shape[:-2] + (-1,))
    for name, parts in thirds.items():
        weights[name] = np.concatenate([parts[j] for j in range(3)], axis=-1)  # [q | k | v]
    model = from_gpt2_weights(weights, config, dtype=dtype)
    preprocessor = getattr(causal_lm, "preprocessor", None)
    tokenizer = None
    if preprocessor is not None:
        hub_tokenizer = preprocessor.tokenizer
        tokenizer = byte_level_from_gpt2_tables(
            dict(hub_tokenizer.vocabulary), hub_tokenizer.merges
        )
    return model, tokenizer


def _preprocessor(keras_hub, tokenizer, config):
    from llm_keras.tokenizers import GPT2_SPLIT_PATTERN, ByteLevelBPETokenizer

    problem = None
    if not isinstance(tokenizer, ByteLevelBPETokenizer):
        problem = f"it is a {type(tokenizer).__name__}, not a byte-level BPE tokenizer"
    elif tokenizer.pattern != GPT2_SPLIT_PATTERN:
        problem = "its pre-tokenisation regex is not GPT-2's"
    elif END_OF_TEXT not in tokenizer.special_tokens:
        problem = f"it has no {END_OF_TEXT} token, which GPT2Tokenizer needs as its start and end"
    if problem:
        raise ValueError(
            f"keras-hub's GPT2Tokenizer cannot reproduce this tokenizer: {problem}. Call "
            "to_keras_hub(model) without a tokenizer, and pass token ids to generate "
            '({"token_ids": ..., "padding_mask": ...}).'
        )
    saved = tokenizer.get_config()
    hub_tokenizer = keras_hub.models.GPT2Tokenizer(
        vocabulary={**saved["vocab"], **saved["special_tokens"]}, merges=saved["merges"]
    )
    return keras_hub.models.GPT2CausalLMPreprocessor(
        tokenizer=hub_tokenizer, sequence_length=config.context_length
    )


def _variable_names(backbone):
    """``(keras-hub variable, GPT-2 name, part)`` triples. Query, key and value are the three
    parts (0, 1, 2) of GPT-2's fused ``c_attn``; every other variable is a whole tensor (``None``)."""
    pairs = [
        (backbone.token_embedding.embeddings, "wte.weight", None),
        (backbone.position_embedding.position_embeddings, "wpe.weight", None),
    ]
    for i, layer in enumerate(backbone.transformer_layers):
        h, attention = f"h.{i}", layer._self_attention_layer
        for part, dense in enumerate(
            (attention._query_dense, attention._key_dense, attention._value_dense)
        ):
            pairs += [
                (dense.kernel, f"{h}.attn.c_attn.weight", part),
                (dense.bias, f"{h}.attn.c_attn.bias", part),
            ]
        pairs += [
            (layer._self_attention_layer_norm.gamma, f"{h}.ln_1.weight", None),
            (layer._self_attention_layer_norm.beta, f"{h}.ln_1.bias", None),
            (
                attention._output_dense.kernel,
                f"{h}.attn.c_proj.weight",
                None,
            ),  # (heads, head_dim, d)
            (attention._output_dense.bias, f"{h}.attn.c_proj.bias", None),
            (layer._feedforward_layer_norm.gamma, f"{h}.ln_2.weight", None),
            (layer._feedforward_layer_norm.beta, f"{h}.ln_2.bias", None),
            (layer._feedforward_intermediate_dense.kernel, f"{h}.mlp.c_fc.weight", None),
            (layer._feedforward_intermediate_dense.bias, f"{h}.mlp.c_fc.bias", None),
            (layer._feedforward_output_dense.kernel, f"{h}.mlp.c_proj.weight", None),
            (layer._feedforward_output_dense.bias, f"{h}.mlp.c_proj.bias", None),
        ]
    pairs += [
        (backbone.layer_norm.gamma, "ln_f.weight", None),
        (backbone.layer_norm.beta, "ln_f.bias", None),
    ]
    # The names of a Hugging Face checkpoint's body.
    return [(variable, f"transformer.{name}", part) for variable, name, part in pairs]


def _numpy(variable):
    from keras import ops

    return ops.convert_to_numpy(variable)
