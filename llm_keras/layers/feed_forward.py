"""The position-wise feed-forward network, the "MLP" of a transformer block (week 2,
"Feed-forward layers").

After attention has mixed information *between* tokens, each token's vector goes on its own
through a small two-layer network: widen to ``d_ff`` features (4 x ``d_model`` in GPT-2), apply a
non-linearity, project back to ``d_model``. Most of a GPT's parameters live here.

Activations (``ACTIVATIONS``):

- ``"gelu"``: GPT-2's GELU in its tanh approximation,
  ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`` (``keras.ops.gelu(approximate=True)``).
- ``"relu"``: ``max(x, 0)``, as in the 2017 transformer.
- ``"swiglu"``: Llama's gated unit (Shazeer 2020), ``silu(x W_gate) * (x W_up)``, then the
  output projection. It has three matrices instead of two; ``d_ff = 8/3 d_model`` keeps the
  parameter count of a ``4 d_model`` GELU network.
"""

import keras
from keras import ops

ACTIVATIONS = ("gelu", "relu", "swiglu")


@keras.saving.register_keras_serializable(package="llm_keras")
class FeedForward(keras.layers.Layer):
    """``Dense(d_ff) -> activation -> Dense(d_model)``, applied to each token separately.

    Weights start as GPT-2's: kernels normal with standard deviation 0.02, biases zero.

    Args:
        d_model: features in and out.
        d_ff: features of the hidden layer.
        activation: one of ``"gelu"`` (tanh approximation), ``"relu"``, ``"swiglu"``.
        use_bias: whether the dense layers have biases (GPT-2: yes; Llama: no).
        **kwargs: passed to ``keras.layers.Layer``.

    Sublayers (to set weights from arrays): ``up_projection`` (kernel ``(d_model, d_ff)``),
    ``gate_projection`` (``"swiglu"`` only, kernel ``(d_model, d_ff)``), ``down_projection``
    (kernel ``(d_ff, d_model)``), all ``keras.layers.Dense``.

    Call arguments:
        inputs: ``(batch, seq, d_model)``.

    Returns:
        ``(batch, seq, d_model)``.

    Example:

    >>> mlp = FeedForward(d_model=8, d_ff=32, activation="gelu")
    >>> y = mlp(keras.ops.ones((2, 10, 8)))       # (2, 10, 8)
    """

    def __init__(self, d_model, d_ff, activation="gelu", use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}."
            )
        self.d_model = d_model
        self.d_ff = d_ff
        self.activation = activation
        self.use_bias = use_bias

        def dense(units, name):
            return keras.layers.Dense(
                units,
                use_bias=use_bias,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
                dtype=self.dtype_policy,
                name=name,
            )

        self.up_projection = dense(d_ff, "up_projection")
        self.gate_projection = dense(d_ff, "gate_projection") if activation == "swiglu" else None
        self.down_projection = dense(d_model, "down_projection")

    def build(self, input_shape):
        self.up_projection.build(input_shape)
        if self.gate_projection is not None:
            self.gate_projection.build(input_shape)
        self.down_projection.build((*input_shape[:-1], self.d_ff))

    def call(self, inputs):
        hidden = self.up_projection(inputs)  # (batch, seq, d_ff)
        if self.activation == "gelu":
            hidden = ops.gelu(hidden, approximate=True)
        elif self.activation == "relu":
            hidden = ops.relu(hidden)
        else:  # swiglu
            hidden = ops.silu(self.gate_projection(inputs)) * hidden
        return self.down_projection(hidden)  # (batch, seq, d_model)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "d_model": self.d_model,
                "d_ff": self.d_ff,
                "activation": self.activation,
                "use_bias": self.use_bias,
            }
        )
        return config
