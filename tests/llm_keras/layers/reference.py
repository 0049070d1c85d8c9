"""The GPT's layers written again in plain NumPy (float64), independently of llm_keras, and the
glue that copies their parameters into our Keras layers.

The tests set the same weights, drawn from a fixed NumPy seed, in both, and compare the outputs:
the Keras layers must agree with these formulas on every backend.
"""

import math

import numpy as np


# --- the formulas ---------------------------------------------------------------------------
def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def rms_norm(x, scale, epsilon):
    return scale * x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + epsilon)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def silu(x):
    return x / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sinusoidal_table(positions, d_model, base=10000.0):
    """The 2017 paper's formula, one entry at a time."""
    table = np.zeros((len(positions), d_model))
    for row, pos in enumerate(positions):
        for i in range(d_model):
            angle = pos / base ** (2 * (i // 2) / d_model)
            table[row, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return table


def rope(x, start_index=0, base=10000.0):
    """RoPE as complex multiplication: the pair (x[i], x[i + half]) is the complex number
    x[i] + 1j x[i + half], turned by exp(1j * position * base ** (-2i / head_dim)).
    x: (batch, seq, heads, head_dim)."""
    half = x.shape[-1] // 2
    z = x[..., :half] + 1j * x[..., half:]
    positions = np.arange(start_index, start_index + x.shape[1])
    theta = base ** (-2 * np.arange(half) / x.shape[-1])
    z = z * np.exp(1j * positions[:, None] * theta[None, :])[None, :, None, :]
    return np.concatenate([z.real, z.imag], axis=-1)


def attention(x, p, n_heads, rotary=False, return_weights=False):
    """Causal multi-head self-attention over a whole sequence. x: (batch, seq, d_model)."""
    batch, seq, d_model = x.shape
    head_dim = d_model // n_heads

    def heads(w, b):  # (batch, seq, d_model) -> (batch, heads, seq, head_dim)
        return (x @ w + b).reshape(batch, seq, n_heads, head_dim)

    q, k, v = heads(p["wq"], p["bq"]), heads(p["wk"], p["bk"]), heads(p["wv"], p["bv"])
    if rotary:
        q, k = rope(q), rope(k)
    q, k, v = (t.transpose(0, 2, 1, 3) for t in (q, k, v))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim)  # (batch, heads, seq, seq)
    future = np.triu(np.ones((seq, seq), dtype=bool), k=1)
    scores[..., future] = -np.inf
    weights = softmax(scores)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, seq, d_model)
    out = out @ p["wo"] + p["bo"]
    return (out, weights) if return_weights else out


def feed_forward(x, p, activation):
    hidden = x @ p["w_up"] + p["b_up"]
    if activation == "gelu":
        hidden = gelu_tanh(hidden)
    elif activation == "relu":
        hidden = np.maximum(hidden, 0)
    else:  # swiglu
        hidden = silu(x @ p["w_gate"] + p["b_gate"]) * hidden
    return hidden @ p["w_down"] + p["b_down"]


def norm(x, p, prefix, kind, epsilon):
    if kind == "layernorm":
        return layer_norm(x, p[prefix + "_gamma"], p[prefix + "_beta"], epsilon)
    return rms_norm(x, p[prefix + "_gamma"], epsilon)


def block(
    x,
    p,
    n_heads,
    norm_first=True,
    norm_kind="layernorm",
    activation="gelu",
    rotary=False,
    epsilon=1e-5,
):
    """A transformer block, pre-LN or post-LN."""

    def attend(h):
        return attention(h, p, n_heads, rotary)

    def mlp(h):
        return feed_forward(h, p, activation)

    if norm_first:
        x = x + attend(norm(x, p, "ln1", norm_kind, epsilon))
        return x + mlp(norm(x, p, "ln2", norm_kind, epsilon))
    x = norm(x + attend(x), p, "ln1", norm_kind, epsilon)
    return norm(x + mlp(x), p, "ln2", norm_kind, epsilon)


# --- random parameters (fixed NumPy seed) ----------------------------------------------------
def attention_params(rng, d_model, use_bias=True):
    p = {}
    for name in "qkvo":
        # Larger than GPT-2's 0.02 so that the softmax is far from uniform.
        p["w" + name] = rng.normal(0, 0.5, (d_model, d_model))
        p["b" + name] = rng.normal(0, 0.1, d_model) if use_bias else np.zeros(d_model)
    return p


def feed_forward_params(rng, d_model, d_ff, activation, use_bias=True):
    shapes = {"up": (d_model, d_ff), "down": (d_ff, d_model)}
    if activation == "swiglu":
        shapes["gate"] = (d_model, d_ff)
    p = {}
    for name, shape in shapes.items():
        p["w_" + name] = rng.normal(0, 0.3, shape)
        p["b_" + name] = rng.normal(0, 0.1, shape[1]) if use_bias else np.zeros(shape[1])
    return p


def norm_params(rng, prefix, d_model):
    return {
        prefix + "_gamma": 1 + rng.normal(0, 0.1, d_model),
        prefix + "_beta": rng.normal(0, 0.1, d_model),
    }


def block_params(rng, d_model, d_ff, activation="gelu", use_bias=True):
    return {
        **attention_params(rng, d_model, use_bias),
        **feed_forward_params(rng, d_model, d_ff, activation, use_bias),
        **norm_params(rng, "ln1", d_model),
        **norm_params(rng, "ln2", d_model),
    }


# --- copying parameters into the Keras layers --------------------------------------------------
def set_dense(dense, kernel, bias):
    dense.kernel.assign(kernel)
    if dense.use_bias:
        dense.bias.assign(bias)


def set_attention(layer, p):
    for dense, name in (
        (layer.query, "q"),
        (layer.key, "k"),
        (layer.value, "v"),
        (layer.output_projection, "o"),
    ):
        set_dense(dense, p["w" + name], p["b" + name])


def set_feed_forward(layer, p):
    set_dense(layer.up_projection, p["w_up"], p["b_up"])
    set_dense(layer.down_projection, p["w_down"], p["b_down"])
    if layer.gate_projection is not None:
        set_dense(layer.gate_projection, p["w_gate"], p["b_gate"])


def set_norm(layer, p, prefix):
    if hasattr(layer, "gamma"):  # LayerNorm
        layer.gamma.assign(p[prefix + "_gamma"])
        layer.beta.assign(p[prefix + "_beta"])
    else:  # RMSNorm
        layer.scale.assign(p[prefix + "_gamma"])


def set_block(layer, p):
    set_attention(layer.attention, p)
    set_feed_forward(layer.feed_forward, p)
    set_norm(layer.attention_norm, p, "ln1")
    set_norm(layer.feed_forward_norm, p, "ln2")
