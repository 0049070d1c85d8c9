"""A whole GPT forward pass in plain NumPy (float64), built from ``tests/.../layers/reference.py``,
and the glue that copies its parameters into ``llm_keras.models.GPT``."""

from tests.llm_keras.layers import reference


def gpt_params(rng, config):
    """Random parameters for ``config`` (a ``GPTConfig``), drawn from ``rng``."""
    c = config
    p = {
        "wte": rng.normal(0, 0.5, (c.vocab_size, c.d_model)),
        "wpe": rng.normal(0, 0.5, (c.context_length, c.d_model)),
        "blocks": [
            reference.block_params(rng, c.d_model, c.d_ff, c.activation, c.use_bias)
            for _ in range(c.n_layers)
        ],
        **reference.norm_params(rng, "lnf", c.d_model),
    }
    if not c.tie_weights:
        p["lm_head"] = rng.normal(0, 0.5, (c.vocab_size, c.d_model))
    return p


def gpt_forward(ids, p, config):
    """ids (batch, seq) -> logits (batch, seq, vocab_size)."""
    c = config
    x = p["wte"][ids]
    if c.positional == "learned":
        x = x + p["wpe"][: ids.shape[1]]
    elif c.positional == "sinusoidal":
        x = x + reference.sinusoidal_table(range(ids.shape[1]), c.d_model)
    for block in p["blocks"]:
        x = reference.block(
            x,
            block,
            c.n_heads,
            norm_first=c.norm_first,
            norm_kind=c.norm,
            activation=c.activation,
            rotary=c.positional == "rotary",
            epsilon=c.layer_norm_epsilon,
        )
    if c.norm_first:
        x = reference.norm(x, p, "lnf", c.norm, c.layer_norm_epsilon)
    head = p["wte"] if c.tie_weights else p["lm_head"]
    return x @ head.T


def set_gpt(model, p):
    """Copies ``p`` into a built ``llm_keras.models.GPT``."""
    model.token_embedding.embeddings.assign(p["wte"])
    if model.config.positional == "learned":
        model.position_embedding.embeddings.assign(p["wpe"])
    for block, block_params in zip(model.blocks, p["blocks"], strict=True):
        reference.set_block(block, block_params)
    if model.final_norm is not None:
        reference.set_norm(model.final_norm, p, "lnf")
    if model.lm_head is not None:
        model.lm_head.embeddings.assign(p["lm_head"])
