"""GPT-2's checkpoint layout: its configuration and its weights by name (week 4, "Sharing a model on Hugging Face").

OpenAI's GPT-2, as Hugging Face ``transformers`` stores it (``GPT2LMHeadModel``), is our ``GPT``
with ``norm_first=True`` (pre-LN), ``norm="layernorm"``, ``activation="gelu"`` (tanh approximation,
``"gelu_new"`` in transformers), ``positional="learned"`` and tied embeddings. Only the names and
the packing of a few tensors differ:

    GPT-2 (Hugging Face)                 shape            our GPT
    transformer.wte.weight               (V, d)           token_embedding/embeddings
    transformer.wpe.weight               (T, d)           position_embedding/embeddings
    transformer.h.{i}.ln_1.weight/bias   (d,)             block_i/attention_norm/gamma, beta
    transformer.h.{i}.attn.c_attn.weight (d, 3d)          [query | key | value] kernels side by side
    transformer.h.{i}.attn.c_attn.bias   (3d,)            [query | key | value] biases
    transformer.h.{i}.attn.c_proj.*      (d, d), (d,)     block_i/attention/output_projection
    transformer.h.{i}.ln_2.weight/bias   (d,)             block_i/feed_forward_norm/gamma, beta
    transformer.h.{i}.mlp.c_fc.*         (d, d_ff)        block_i/feed_forward/up_projection
    transformer.h.{i}.mlp.c_proj.*       (d_ff, d)        block_i/feed_forward/down_projection
    transformer.ln_f.weight/bias         (d,)             final_norm/gamma, beta
    lm_head.weight                       (V, d)           none when tied (the token table); else lm_head

GPT-2's linear layers are ``Conv1D`` modules whose weight is ``(in, out)``, the layout of a Keras
``Dense`` kernel, so no matrix is transposed (a ``torch.nn.Linear`` would need one: its weight is
``(out, in)``). Attention's three projections are one fused ``c_attn`` matrix; splitting its
columns in three gives the query, key and value kernels, whose columns are already grouped by
head in the same order (head ``j`` owns columns ``j * head_dim .. (j + 1) * head_dim - 1``).

What GPT-2 cannot express is refused, naming the option (``gpt2_obstacles``): post-LN blocks, RMSNorm,
SwiGLU and rotary positions compute functions that no GPT-2 weights reproduce. Three choices *can*
be written exactly: a model without biases gets zero biases, sinusoidal positions become the
table of their values (fixed vectors added to the tokens, as a learned table is), and an untied
output projection becomes ``lm_head.weight`` with ``tie_word_embeddings: false``.
"""

from __future__ import annotations

import numpy as np

from llm_keras.models import GPT, GPTConfig

# Hugging Face's names of the tanh-approximated GELU (``gelu_new`` is GPT-2's own), and ReLU.
GELU_TANH_NAMES = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
ACTIVATION_TO_GPT2 = {"gelu": "gelu_new", "relu": "relu"}

# Buffers that old GPT-2 checkpoints (OpenAI's, converted in 2019) store next to the weights: the
# causal mask and the value it fills in. They are recomputed, never learned: ignored on import.
BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def gpt2_obstacles(config: GPTConfig, *, target: str = "GPT-2") -> list[str]:
    """The options of ``config`` that ``target`` cannot express, one sentence each (empty: none)."""
    obstacles = []
    if not config.norm_first:
        obstacles.append(
            f"norm_first=False (post-LN): {target} normalises the input of each sub-layer "
            "(pre-LN) and ends with a final LayerNorm; a post-LN block normalises after the "
            "residual sum, a different function"
        )
    if config.norm != "layernorm":
        obstacles.append(
            f"norm={config.norm!r}: {target} uses LayerNorm (mean subtracted, with a bias); "
            "RMSNorm only rescales"
        )
    if config.activation == "swiglu":
        obstacles.append(
            f"activation='swiglu': {target}'s feed-forward network has one up-projection and "
            "a GELU; SwiGLU's gate projection has no place in it"
        )
    if config.positional == "rotary":
        obstacles.append(
            f"positional='rotary' (RoPE): {target} adds a learned position vector to each "
            "token; RoPE rotates queries and keys inside attention instead"
        )
    return obstacles


def check_gpt2_compatible(config: GPTConfig, *, target: str = "GPT-2") -> None:
    """Raise a ``ValueError`` naming every option of ``config`` that ``target`` cannot express."""
    obstacles = gpt2_obstacles(config, target=target)
    if obstacles:
        raise ValueError(
            f"This model cannot be written as {target}: "
            + "; ".join(obstacles)
            + ". Only models with GPT-2's architecture (norm_first=True, norm='layernorm', "
            "activation 'gelu' or 'relu', learned or sinusoidal positions) can be converted; "
            "train one with such a GPTConfig to share it in this format."
        )


def gpt2_config(config: GPTConfig, *, end_token_id: int | None = None) -> dict:
    """The ``config.json`` of a Hugging Face ``GPT2LMHeadModel`` equal to a ``GPT`` of ``config``."""
    check_gpt2_compatible(config, target="a Hugging Face GPT-2")
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.context_length,
        "n_ctx": config.context_length,  # read by transformers before 4.x; the same number
        "n_embd": config.d_model,
        "n_layer": config.n_layers,
        "n_head": config.n_heads,
        "n_inner": config.d_ff,
        "activation_function": ACTIVATION_TO_GPT2[config.activation],
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "attn_pdrop": config.dropout,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "add_cross_attention": False,
        "tie_word_embeddings": config.tie_weights,
        "bos_token_id": end_token_id,
        "eos_token_id": end_token_id,
        "use_cache": True,
        "dtype": "float32",
    }


# GPT2Config's defaults, for config.json files that leave a field out (OpenAI's gpt2 has no n_inner).
_GPT2_DEFAULTS = {
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "activation_function": "gelu_new",
    "resid_pdrop": 0.1,
    "embd_pdrop": 0.1,
    "attn_pdrop": 0.1,
    "layer_norm_epsilon": 1e-5,
    "scale_attn_weights": True,
    "scale_attn_by_inverse_layer_idx": False,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
}


def config_from_gpt2(hf_config: dict, *, source: str = "config.json") -> GPTConfig:
    """The ``GPTConfig`` of a Hugging Face GPT-2 ``config.json`` (a dict), or a ``ValueError``
    naming the field that our ``GPT`` cannot reproduce."""
    model_type = hf_config.get("model_type")
    if model_type != "gpt2":
        raise ValueError(
            f"{source} describes a model of type {model_type!r}, not 'gpt2': only GPT-2 "
            "checkpoints (GPT2LMHeadModel, model_type 'gpt2') can be imported."
        )
    c = {
        **_GPT2_DEFAULTS,
        **{k: v for k, v in hf_config.items() if v is not None or k == "n_inner"},
    }
    activation = c["activation_function"]
    if activation in GELU_TANH_NAMES:
        activation = "gelu"
    elif activation != "relu":
        raise ValueError(
            f"{source} has activation_function={activation!r}: our GPT computes GELU in its "
            f"tanh approximation ({', '.join(GELU_TANH_NAMES)}) or ReLU ('relu'), so this "
            "checkpoint's logits could not be reproduced."
        )
    for field, wanted in (
        ("scale_attn_weights", True),
        ("scale_attn_by_inverse_layer_idx", False),
        ("add_cross_attention", False),
    ):
        if c[field] != wanted:
            raise ValueError(
                f"{source} has {field}={c[field]!r}: our GPT's attention always divides the "
                f"scores by sqrt(head_dim) and nothing else, which needs {field}={wanted!r}."
            )
    return GPTConfig(
        vocab_size=c["vocab_size"],
        context_length=c["n_positions"],
        d_model=c["n_embd"],
        n_layers=c["n_layer"],
        n_heads=c["n_head"],
        d_ff=c["n_inner"] or 4 * c["n_embd"],
        dropout=float(max(c["resid_pdrop"], c["embd_pdrop"], c["attn_pdrop"])),
        activation=activation,
        positional="learned",
        tie_weights=bool(c["tie_word_embeddings"]),
        layer_norm_epsilon=float(c["layer_norm_epsilon"]),
    )


def gpt2_weight_shapes(config: GPTConfig) -> dict[str, tuple[int, ...]]:
    """``{Hugging Face name: shape}`` of every weight of the GPT-2 equal to a GPT of ``config``."""
    d, d_ff = config.d_model, config.d_ff
    shapes = {
        "transformer.wte.weight": (config.vocab_size, d),
        "transformer.wpe.weight": (config.context_length, d),
    }
    for i in range(config.n_layers):
        h = f"transformer.h.{i}"
        shapes.update({
            f"{h}.ln_1.weight": (d,), f"{h}.ln_1.bias": (d,),
            f"{h}.attn.c_attn.weight": (d, 3 * d), f"{h}.attn.c_attn.bias": (3 * d,),
            f"{h}.attn.c_proj.weight": (d, d), f"{h}.attn.c_proj.bias": (d,),
            f"{h}.ln_2.weight": (d,), f"{h}.ln_2.bias": (d,),
            f"{h}.mlp.c_fc.weight": (d, d_ff), f"{h}.mlp.c_fc.bias": (d_ff,),
            f"{h}.mlp.c_proj.weight": (d_ff, d), f"{h}.mlp.c_proj.bias": (d,),
        })  # fmt: skip
    shapes["transformer.ln_f.weight"] = shapes["transformer.ln_f.bias"] = (d,)
    if not config.tie_weights:
        shapes["lm_head.weight"] = (config.vocab_size, d)
    return shapes


def _numpy(variable) -> np.ndarray:
    from keras import ops

    return np.asarray(ops.convert_to_numpy(variable), dtype=np.float32)


def _dense(layer, units: int) -> tuple[np.ndarray, np.ndarray]:
    """A Dense layer's ``(kernel (in, out), bias (out,))``; zeros for a layer without bias."""
    bias = _numpy(layer.bias) if layer.bias is not None else np.zeros(units, np.float32)
    return _numpy(layer.kernel), bias


def _positions(model: GPT) -> np.ndarray:
    """The ``(context_length, d_model)`` vectors added for positions 0, 1, ...: the learned table,
    or the sinusoidal formula's values."""
    c = model.config
    if c.positional == "learned":
        return _numpy(model.position_embedding.embeddings)
    zeros = np.zeros((1, c.context_length, c.d_model), np.float32)
    return _numpy(model.position_embedding(zeros))[0]


def to_gpt2_weights(model: GPT) -> dict[str, np.ndarray]:
    """``{Hugging Face name: float32 array}`` for a ``GPT`` with GPT-2's architecture."""
    c = model.config
    check_gpt2_compatible(c)
    d = c.d_model
    weights = {
        "transformer.wte.weight": _numpy(model.token_embedding.embeddings),
        "transformer.wpe.weight": _positions(model),
    }
    for i, block in enumerate(model.blocks):
        h, attention, mlp = f"transformer.h.{i}", block.attention, block.feed_forward
        qkv = [_dense(getattr(attention, name), d) for name in ("query", "key", "value")]
        out_kernel, out_bias = _dense(attention.output_projection, d)
        up_kernel, up_bias = _dense(mlp.up_projection, c.d_ff)
        down_kernel, down_bias = _dense(mlp.down_projection, d)
        weights.update({
            f"{h}.ln_1.weight": _numpy(block.attention_norm.gamma),
            f"{h}.ln_1.bias": _numpy(block.attention_norm.beta),
            f"{h}.attn.c_attn.weight": np.concatenate([k for k, _ in qkv], axis=1),  # (d, 3d)
            f"{h}.attn.c_attn.bias": np.concatenate([b for _, b in qkv]),  # (3d,)
            f"{h}.attn.c_proj.weight": out_kernel, f"{h}.attn.c_proj.bias": out_bias,
            f"{h}.ln_2.weight": _numpy(block.feed_forward_norm.gamma),
            f"{h}.ln_2.bias": _numpy(block.feed_forward_norm.beta),
            f"{h}.mlp.c_fc.weight": up_kernel, f"{h}.mlp.c_fc.bias": up_bias,
            f"{h}.mlp.c_proj.weight": down_kernel, f"{h}.mlp.c_proj.bias": down_bias,
        })  # fmt: skip
    weights["transformer.ln_f.weight"] = _numpy(model.final_norm.gamma)
    weights["transformer.ln_f.bias"] = _numpy(model.final_norm.beta)
    if not c.tie_weights:
        weights["lm_head.weight"] = _numpy(model.lm_head.embeddings)
    return weights


def standard_names(weights: dict, *, source: str = "the checkpoint") -> dict:
    """GPT-2 weights named as ``gpt2_weight_shapes`` names them.

    Old checkpoints (OpenAI's ``gpt2`` on the Hugging Face Hub) name the body's weights without the
    ``transformer.`` prefix (``h.0.attn.c_attn.weight``) and store the attention-mask buffers;
    the prefix is added and the buffers are dropped.
    """
    named = {}
    for name, value in weights.items():
        if name.endswith(BUFFER_SUFFIXES):
            continue
        if not (name.startswith("transformer.") or name == "lm_head.weight"):
            name = f"transformer.{name}"
        if name in named:
            raise ValueError(f"{source} holds {name!r} twice (with and without 'transformer.').")
        named[name] = value
    return named


def check_gpt2_weights(weights: dict, config: GPTConfig, *, source: str = "the checkpoint") -> None:
    """Raise a ``ValueError`` unless ``weights`` (standard names) are exactly the weights of a
    GPT-2 of ``config``, with the right shapes. A tied model may also carry ``lm_head.weight``
    when it equals the token table."""
    expected = gpt2_weight_shapes(config)
    extra = sorted(set(weights) - set(expected))
    if config.tie_weights and "lm_head.weight" in extra:
        if not np.array_equal(weights["lm_head.weight"], weights.get("transformer.wte.weight")):
            raise ValueError(
                f"{source} has tie_word_embeddings=true but an lm_head.weight that differs from "
                "transformer.wte.weight: set tie_word_embeddings to false in config.json."
            )
        extra.remove("lm_head.weight")
    missing = sorted(set(expected) - set(weights))
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing {_some(missing)}")
        if extra:
            problems.append(f"unexpected {_some(extra)}")
        raise ValueError(
            f"{source} does not hold the weights of the GPT2LMHeadModel that config.json "
            f"describes ({config.n_layers} layers): {'; '.join(problems)}. Check that the "
            "weights and config.json come from the same model."
        )
    for name, shape in expected.items():
        actual = tuple(weights[name].shape)
        if actual != shape:
            raise ValueError(
                f"{source}: {name} has shape {actual}, but config.json (n_embd={config.d_model}, "
                f"n_inner={config.d_ff}, vocab_size={config.vocab_size}, "
                f"n_positions={config.context_length}) needs {shape}. The weights and "
                "config.json do not belong together."
            )


def _some(names: list[str], limit: int = 4) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def from_gpt2_weights(weights: dict, config: GPTConfig, **gpt_kwargs) -> GPT:
    """A new ``GPT`` of ``config`` holding GPT-2 ``weights`` (standard names, checked first)."""
    check_gpt2_weights(weights, config)
    model = GPT(config, **gpt_kwargs)
    d = config.d_model

    def set_dense(layer, kernel, bias):
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)

    def w(name):
        return np.asarray(weights[name], dtype=np.float32)

    model.token_embedding.embeddings.assign(w("transformer.wte.weight"))
    model.position_embedding.embeddings.assign(w("transformer.wpe.weight"))
    for i, block in enumerate(model.blocks):
        h, attention, mlp = f"transformer.h.{i}", block.attention, block.feed_forward
        block.attention_norm.gamma.assign(w(f"{h}.ln_1.weight"))
        block.attention_norm.beta.assign(w(f"{h}.ln_1.bias"))
        kernel, bias = w(f"{h}.attn.c_attn.weight"), w(f"{h}.attn.c_attn.bias")
        for j, name in enumerate(("query", "key", "value")):
            columns = slice(j * d, (j + 1) * d)
            set_dense(getattr(attention, name), kernel[:, columns], bias[columns])
        set_dense(
            attention.output_projection, w(f"{h}.attn.c_proj.weight"), w(f"{h}.attn.c_proj.bias")
        )
        block.feed_forward_norm.gamma.assign(w(f"{h}.ln_2.weight"))
        block.feed_forward_norm.beta.assign(w(f"{h}.ln_2.bias"))
        set_dense(mlp.up_projection, w(f"{h}.mlp.c_fc.weight"), w(f"{h}.mlp.c_fc.bias"))
        set_dense(mlp.down_projection, w(f"{h}.mlp.c_proj.weight"), w(f"{h}.mlp.c_proj.bias"))
    model.final_norm.gamma.assign(w("transformer.ln_f.weight"))
    model.final_norm.beta.assign(w("transformer.ln_f.bias"))
    if not config.tie_weights:
        model.lm_head.embeddings.assign(w("lm_head.weight"))
    return model
