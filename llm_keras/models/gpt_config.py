"""The GPT's configuration: every size and choice in one validated dataclass (week 3, "Assembling the GPT").

A configuration is checked when it is made, so a mistake shows up as one clear sentence before any
weight is created:

>>> GPTConfig(vocab_size=65, context_length=64, d_model=100, n_layers=4, n_heads=3)
ValueError: d_model=100 is not divisible by n_heads=3: ...

Named presets hold the configurations the course trains or loads:

- ``"shakespeare-char-cpu"``: nanoGPT's configuration for a laptop CPU (4 layers, 4 heads,
  d_model 128, context 64, no dropout), for the 65 characters of TinyShakespeare;
- ``"shakespeare-char"``: nanoGPT's GPU configuration (6 layers, 6 heads, 384, context 256,
  dropout 0.2);
- ``"gpt2-small"``: GPT-2's 124M model (vocabulary 50257, context 1024, 12 layers, 12 heads, 768).

>>> config = GPTConfig.preset("shakespeare-char-cpu", dropout=0.1)   # a preset with overrides
>>> GPTConfig.from_dict(config.to_dict()) == config
True
"""

import dataclasses

from llm_keras.config_dict import ConfigDict

# The layers' choices, named here so that a configuration is made and checked without importing
# Keras (``llm-keras budget`` does not); tests check they equal the layers' own
# (``feed_forward.ACTIVATIONS``, ``normalization.NORMS``).
ACTIVATIONS = ("gelu", "relu", "swiglu")
NORMS = ("layernorm", "rmsnorm")

POSITIONALS = ("learned", "sinusoidal", "rotary")


@dataclasses.dataclass
class GPTConfig(ConfigDict):
    """Sizes and choices of a GPT.

    Args:
        vocab_size: number of token ids (65 characters, 50257 GPT-2 tokens).
        context_length: longest sequence the model reads (positions 0 .. context_length - 1).
        d_model: features of each token's vector.
        n_layers: number of transformer blocks.
        n_heads: attention heads per block; must divide ``d_model``.
        d_ff: hidden features of the feed-forward networks; ``None`` means ``4 * d_model``.
        dropout: dropout rate in ``[0, 1)`` (embeddings, attention weights, residual branches).
        norm_first: ``True`` pre-LN (GPT-2), ``False`` post-LN (the 2017 paper).
        norm: ``"layernorm"`` or ``"rmsnorm"``.
        activation: ``"gelu"`` (tanh approximation, GPT-2), ``"relu"`` or ``"swiglu"``.
        positional: ``"learned"`` (GPT-2), ``"sinusoidal"`` (2017 paper) or ``"rotary"`` (RoPE).
        tie_weights: ``True`` uses the token embedding table as the output projection.
        use_bias: biases in the dense layers (the normalisations always have theirs).
        fused_attention: ``True`` computes attention with ``keras.ops.dot_product_attention``.
        fused_norm: ``True`` computes each normalisation with one Keras op
            (``ops.layer_normalization``, ``ops.rms_normalization``: one kernel on PyTorch)
            instead of the written-out formula; the same numbers to float32 rounding.
        scaled_residual_init: ``True`` starts the two projections that write into the residual
            stream (attention output, feed-forward down) with standard deviation
            ``0.02 / sqrt(2 * n_layers)`` instead of 0.02, as GPT-2 and nanoGPT do.
        layer_norm_epsilon: epsilon of every normalisation.

    Raises:
        ValueError: when a value is out of range, saying which and what to do.
    """

    vocab_size: int
    context_length: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int | None = None
    dropout: float = 0.0
    norm_first: bool = True
    norm: str = "layernorm"
    activation: str = "gelu"
    positional: str = "learned"
    tie_weights: bool = True
    use_bias: bool = True
    fused_attention: bool = False
    fused_norm: bool = False
    scaled_residual_init: bool = False
    layer_norm_epsilon: float = 1e-5

    def __post_init__(self):
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model
        for name in ("vocab_size", "context_length", "d_model", "n_layers", "n_heads", "d_ff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")
        if self.d_model % self.n_heads:
            divisors = [n for n in range(1, self.d_model + 1) if self.d_model % n == 0]
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: each head "
                f"gets d_model // n_heads features. Choose n_heads among {divisors}, or change "
                "d_model."
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise ValueError(f"dropout must be a number in [0, 1), got dropout={self.dropout!r}.")
        if not 0 <= self.dropout < 1:
            raise ValueError(
                f"dropout={self.dropout} is outside [0, 1): it is the fraction of activations "
                "set to zero during training (0.0 for none, 0.1 or 0.2 are usual)."
            )
        for name, allowed in (
            ("norm", NORMS),
            ("activation", ACTIVATIONS),
            ("positional", POSITIONALS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"Unknown {name} {getattr(self, name)!r}: choose one of "
                    f"{', '.join(repr(a) for a in allowed)}."
                )
        for name in (
            "norm_first",
            "tie_weights",
            "use_bias",
            "fused_attention",
            "fused_norm",
            "scaled_residual_init",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if not self.layer_norm_epsilon > 0:
            raise ValueError(
                f"layer_norm_epsilon must be positive, got {self.layer_norm_epsilon!r} "
                "(1e-5 is usual)."
            )
        if self.positional == "rotary" and self.head_dim % 2:
            raise ValueError(
                f"positional='rotary' needs an even head_dim, but d_model={self.d_model} / "
                f"n_heads={self.n_heads} = {self.head_dim}: RoPE rotates features in pairs. "
                "Change d_model or n_heads."
            )

    @property
    def head_dim(self):
        """Features per attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads

    @classmethod
    def preset(cls, name, **overrides):
        """A named configuration, some fields changed: ``preset("gpt2-small", dropout=0.0)``."""
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
        return cls.from_dict({**PRESETS[name], **overrides})


PRESETS = {
    # nanoGPT's README, "I only have a macbook": char-level TinyShakespeare on a CPU.
    "shakespeare-char-cpu": dict(
        vocab_size=65,
        context_length=64,
        d_model=128,
        n_layers=4,
        n_heads=4,
        dropout=0.0,
        # nanoGPT's scaled init made the final validation loss of this 4-layer model about 0.02
        # worse on JAX and TensorFlow (docs/benchmarks.md, "Training"): off.
        scaled_residual_init=False,
    ),
    # nanoGPT's config/train_shakespeare_char.py (one GPU, a few minutes).
    "shakespeare-char": dict(
        vocab_size=65,
        context_length=256,
        d_model=384,
        n_layers=6,
        n_heads=6,
        dropout=0.2,
        scaled_residual_init=True,
    ),
    # GPT-2 small (124M), as Hugging Face's GPT2Config(): GELU, learned positions, tied head.
    "gpt2-small": dict(
        vocab_size=50257,
        context_length=1024,
        d_model=768,
        n_layers=12,
        n_heads=12,
        dropout=0.1,
        activation="gelu",
        positional="learned",
        tie_weights=True,
        scaled_residual_init=True,
    ),
}
