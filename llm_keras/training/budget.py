"""The compute budget of a training run: FLOPs, memory per device, device-hours
(week 5, "The compute budget").

Before renting a hundred GPU-hours, estimate what a run needs with three rules of thumb:

- **compute**: training costs about ``6 N D`` floating-point operations for ``N`` parameters and
  ``D`` tokens (Kaplan et al. 2020, "Scaling laws", section 2.1; the Chinchilla paper uses the
  same rule): a multiply and an add per weight and token in the forward pass, twice that in the
  backward pass. For a GPT, ``GPT.flops_per_token`` adds the attention scores (PaLM's formula,
  Chowdhery et al. 2022, appendix B);
- **memory**: AdamW keeps, for every parameter, the parameter, its gradient and two moments:
  16 bytes in float32 (4 + 4 + 8), and 16 bytes in mixed precision too (a 2-byte copy of the
  weights and 2-byte gradients, plus float32 master weights and moments: 2 + 2 + 12), as the
  ZeRO paper counts them (Rajbhandari et al. 2020, section 3.1). ZeRO's stages 1, 2 and 3
  shard the optimizer states, then the gradients, then the parameters over the data-parallel
  devices. The activations kept for the backward pass grow with the batch and the context
  (Korthikanti et al. 2022, section 4);
- **time**: device-hours = FLOPs / (peak FLOP/s x utilisation) / 3600. The utilisation (the
  *model FLOPs utilisation*, MFU) is the fraction of the peak a run really achieves: 30-50 %
  on large GPU runs (PaLM 540B: 46.2 %).

>>> budget = compute_budget("gpt2-small", n_tokens=10e9, device="h100", utilisation=0.4)
>>> print(budget)                       # a table: parameters, FLOPs, memory, device-hours
>>> training_flops(124e6, 10e9)          # 6 N D = 7.44e18
>>> adamw_memory_bytes(124e6, "mixed", zero_stage=2, data_parallel=8)

The numbers are estimates for planning, good to a few tens of percent: a real run also holds
workspace buffers, memory fragments and the framework's own state, and its utilisation is
measured, not assumed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

PRECISIONS = ("fp32", "mixed")
ZERO_STAGES = (0, 1, 2, 3)


@dataclasses.dataclass(frozen=True)
class Device:
    """An accelerator's peak dense arithmetic and memory, as its datasheet states them.

    Args:
        name: what it is (``"NVIDIA H100 SXM5 80 GB"``).
        peak_flops_mixed: dense bfloat16 matrix products per second on its tensor cores.
        peak_flops_fp32: float32 operations per second (not TF32).
        memory_bytes: its memory, in bytes (decimal gigabytes as the datasheet writes them).
        source: where the figures come from.
    """

    name: str
    peak_flops_mixed: float
    peak_flops_fp32: float
    memory_bytes: float
    source: str

    def peak_flops(self, precision: str) -> float:
        """Peak FLOP/s for ``precision`` (``"fp32"`` or ``"mixed"``)."""
        _check_precision(precision)
        return self.peak_flops_mixed if precision == "mixed" else self.peak_flops_fp32


# NVIDIA quotes tensor-core figures "with sparsity" (2:4 structured sparsity), twice the dense
# rate a transformer's matrix products get: the figures below are the dense ones, half of those.
DEVICES = {
    "a100": Device(
        "NVIDIA A100 SXM4 80 GB", 312e12, 19.5e12, 80e9,
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 tensor core 312 TFLOPS (624 with "
        "sparsity), FP32 19.5 TFLOPS, 80 GB HBM2e; the same 312e12 as nanoGPT's estimate_mfu, "
        "19.5 TFLOP/s as CS336's assignment 1",
    ),
    "h100": Device(
        "NVIDIA H100 SXM5 80 GB", 989.4e12, 66.9e12, 80e9,
        "NVIDIA H100 Tensor Core GPU datasheet: BF16 tensor core 1,979 TFLOPS with sparsity "
        "(989.4 dense, Hopper architecture whitepaper), FP32 67 TFLOPS, 80 GB HBM3",
    ),
    "h200": Device(
        "NVIDIA H200 SXM 141 GB", 989.4e12, 66.9e12, 141e9,
        "NVIDIA H200 Tensor Core GPU datasheet: BF16 tensor core 1,979 TFLOPS with sparsity "
        "(the H100's chip: 989.4 dense), FP32 67 TFLOPS, 141 GB HBM3e",
    ),
}


def find_device(name: str | Device) -> Device:
    """The ``Device`` named ``name`` in ``DEVICES`` (a ``Device`` is returned as it is)."""
    if isinstance(name, Device):
        return name
    if name not in DEVICES:
        raise ValueError(
            f"Unknown device {name!r}: choose one of {', '.join(DEVICES)}, or pass your own "
            "Device(name, peak_flops_mixed, peak_flops_fp32, memory_bytes, source)."
        )
    return DEVICES[name]


# --- compute ---------------------------------------------------------------------------------


def training_flops(n_params: float, n_tokens: float) -> float:
    """``6 N D``: the floating-point operations of training ``n_params`` weights on ``n_tokens``.

    Per token, the forward pass multiplies and adds once per weight (``2 N``); the backward pass
    computes the gradients of both the activations and the weights, twice that (``4 N``)
    (Kaplan et al. 2020, section 2.1). It leaves out the attention scores; for a GPT,
    ``GPT.flops_per_token()`` counts them.
    """
    _check_positive("n_params", n_params)
    _check_positive("n_tokens", n_tokens)
    return 6 * n_params * n_tokens


def device_hours(flops: float, peak_flops: float, utilisation: float) -> float:
    """Hours of one device that ``flops`` operations take at ``utilisation`` of ``peak_flops``
    (FLOP/s): ``flops / (peak_flops * utilisation) / 3600``. Divide by the number of devices
    for the wall-clock time."""
    _check_positive("flops", flops)
    _check_positive("peak_flops", peak_flops)
    _check_utilisation(utilisation)
    return flops / (peak_flops * utilisation) / 3600


def model_flops_utilisation(flops_per_token: float, tokens_per_second: float,
                            peak_flops: float) -> float:
    """The fraction of the peak a run achieves (MFU, PaLM appendix B): the model's FLOPs per
    token times the tokens processed per second, over the devices' total peak FLOP/s."""
    for name, value in (("flops_per_token", flops_per_token),
                        ("tokens_per_second", tokens_per_second), ("peak_flops", peak_flops)):
        _check_positive(name, value)
    return flops_per_token * tokens_per_second / peak_flops


# --- memory ----------------------------------------------------------------------------------

# Bytes per parameter that AdamW keeps (ZeRO paper, section 3.1): "mixed" computes with a 2-byte
# copy of the weights and gets 2-byte gradients, and the optimizer keeps float32 master weights.
# (Keras's mixed_bfloat16 policy keeps float32 variables and gradients and casts the weights at
# each call instead: 4 + 4 + 8, the same 16 bytes.)
_ADAMW_BYTES = {
    "fp32": {"parameters": 4, "gradients": 4, "optimizer states": 8},
    "mixed": {"parameters": 2, "gradients": 2, "optimizer states": 12},
}
# What each ZeRO stage shards over the data-parallel devices (Rajbhandari et al. 2020, figure 1).
_SHARDED = {
    0: (),
    1: ("optimizer states",),
    2: ("optimizer states", "gradients"),
    3: ("optimizer states", "gradients", "parameters"),
}


def adamw_memory_breakdown(n_params: float, precision: str = "mixed", zero_stage: int = 0,
                           data_parallel: int = 1, tensor_parallel: int = 1) -> dict[str, float]:
    """Bytes per device of AdamW's training state: ``{"parameters", "gradients", "optimizer
    states"}``.

    Args:
        n_params: parameters of the model.
        precision: ``"fp32"`` (4 + 4 + 8 bytes per parameter) or ``"mixed"`` (2-byte weights and
            gradients, float32 master weights and two moments: 2 + 2 + 12).
        zero_stage: ZeRO's sharding over the ``data_parallel`` devices: 0 none, 1 the optimizer
            states, 2 and the gradients, 3 and the parameters.
        data_parallel: devices that each train on their own part of the batch.
        tensor_parallel: devices that split each weight matrix (Megatron-LM): every part of the
            state is divided among them (the few small vectors they replicate are ignored).
    """
    _check_positive("n_params", n_params)
    _check_precision(precision)
    _check_sharding(zero_stage, data_parallel, tensor_parallel)
    return {
        part: n_params * size / tensor_parallel
        / (data_parallel if part in _SHARDED[zero_stage] else 1)
        for part, size in _ADAMW_BYTES[precision].items()
    }


def adamw_memory_bytes(n_params: float, precision: str = "mixed", zero_stage: int = 0,
                       data_parallel: int = 1, tensor_parallel: int = 1) -> float:
    """Bytes per device of AdamW's parameters, gradients and optimizer states: 16 per parameter
    without sharding, ``2 + 2 + 12 / data_parallel`` per parameter with ZeRO stage 1 in mixed
    precision. The arguments are those of ``adamw_memory_breakdown``."""
    return sum(adamw_memory_breakdown(n_params, precision, zero_stage, data_parallel,
                                      tensor_parallel).values())


def activation_memory_bytes(config, batch_size: int, precision: str = "mixed",
                            seq_len: int | None = None, tensor_parallel: int = 1) -> float:
    """Bytes per device of the activations a GPT keeps for its backward pass: an estimate.

    Per layer and sequence of ``s`` tokens (``h = d_model``, ``f = d_ff``, ``a = n_heads``,
    ``e`` bytes per activation: 2 in mixed precision, 4 in float32; Korthikanti et al. 2022,
    section 4.1, whose ``s h (34 + 5 a s / h)`` bytes this is for ``e = 2``, ``f = 4 h`` and
    dropout):

    - the inputs of the two norms, of the query/key/value projection and of the feed-forward
      network: ``4 s h`` values, which tensor parallelism does not split;
    - queries, keys, values and the attention output (``4 s h``) and the feed-forward's hidden
      values before and after the activation (``2 s f``): split over ``tensor_parallel``;
    - the attention weights, ``a s^2`` (and their dropout, ``a s^2`` more), split too;
    - with dropout, a 1-byte mask per dropped value (attention weights, two residual branches).

    Plus, once per sequence, the final norm's input and the float32 logits (``4 s V`` bytes),
    which the loss reads. Activation recomputation (checkpointing) is not modelled.

    Args:
        config: the model's ``GPTConfig`` (or a preset name).
        batch_size: sequences per device in one micro-batch.
        precision: ``"fp32"`` or ``"mixed"``.
        seq_len: tokens per sequence (default ``config.context_length``).
        tensor_parallel: devices that split each layer (Megatron-LM, without sequence
            parallelism).
    """
    config = _config(config)
    _check_precision(precision)
    _check_degree("batch_size", batch_size)
    _check_degree("tensor_parallel", tensor_parallel)
    s = config.context_length if seq_len is None else seq_len
    _check_degree("seq_len", s)
    h, f, a = config.d_model, config.d_ff, config.n_heads
    e, dropout = (2 if precision == "mixed" else 4), config.dropout > 0
    replicated = e * 4 * s * h + dropout * 2 * s * h
    split = e * (4 * s * h + 2 * s * f) + (e * (1 + dropout) + dropout) * a * s * s
    per_layer = replicated + split / tensor_parallel
    once = e * s * h + 4 * s * config.vocab_size
    return batch_size * (config.n_layers * per_layer + once)


# --- the whole run ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ComputeBudget:
    """What a training run needs: ``compute_budget``'s result; ``str()`` is a readable table."""

    model: str
    n_params: int  # every trainable number: what memory holds
    n_compute_params: int  # the N of 6ND: without the position table, which is looked up
    n_tokens: float
    flops_per_token: float
    flops: float
    device: Device
    precision: str
    utilisation: float
    batch_size: int
    zero_stage: int
    data_parallel: int
    tensor_parallel: int
    memory: dict  # bytes per device: parameters, gradients, optimizer states, activations

    @property
    def n_devices(self) -> int:
        return self.data_parallel * self.tensor_parallel

    @property
    def device_hours(self) -> float:
        return device_hours(self.flops, self.device.peak_flops(self.precision), self.utilisation)

    @property
    def wall_clock_hours(self) -> float:
        return self.device_hours / self.n_devices

    @property
    def memory_per_device(self) -> float:
        return sum(self.memory.values())

    @property
    def fits(self) -> bool:
        """Whether the estimated memory per device is within the device's memory."""
        return self.memory_per_device <= self.device.memory_bytes

    def __str__(self) -> str:
        peak = self.device.peak_flops(self.precision)
        hours = self.wall_clock_hours
        verdict = "fits" if self.fits else "does NOT fit"
        rows = [
            ("model", f"{self.model}: {self.n_params:,} parameters"),
            ("tokens", f"{self.n_tokens:.3g}"),
            ("FLOPs per token", f"{self.flops_per_token:,.0f} (6 N plus attention)"),
            ("training FLOPs", f"{self.flops:.3g}"),
            ("device", (f"{self.device.name}, {peak / 1e12:g} TFLOP/s peak "
                        f"({self.precision}), {self.device.memory_bytes / 1e9:g} GB")),
            ("layout", (f"{self.n_devices} device(s): data parallel {self.data_parallel} x "
                        f"tensor parallel {self.tensor_parallel}, ZeRO stage {self.zero_stage}")),
            ("utilisation", f"{self.utilisation:.0%} of the peak (MFU)"),
            ("device-hours", f"{self.device_hours:,.1f}"),
            ("wall clock", _duration(hours)),
            *((f"memory: {part}", _gigabytes(size)) for part, size in self.memory.items()),
            ("memory per device", (f"{_gigabytes(self.memory_per_device)} of "
                                   f"{_gigabytes(self.device.memory_bytes)}: {verdict}")),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"Compute budget (batch of {self.batch_size} sequence(s) per device)"]
        lines += [f"  {name:<{width}}  {value}" for name, value in rows]
        lines.append(f"  source of the device figures: {self.device.source}")
        return "\n".join(lines)


def compute_budget(model, n_tokens: float, device: str | Device = "h100",
                   utilisation: float = 0.4, batch_size: int = 1, precision: str = "mixed",
                   zero_stage: int = 0, data_parallel: int = 1,
                   tensor_parallel: int = 1) -> ComputeBudget:
    """FLOPs, memory per device and device-hours of training ``model`` on ``n_tokens`` tokens.

    Args:
        model: a preset name (``"gpt2-small"``), a ``GPTConfig`` or a ``GPT``.
        n_tokens: tokens trained on (all epochs together).
        device: a name in ``DEVICES`` or a ``Device``.
        utilisation: the fraction of the peak FLOP/s the run achieves, in ``(0, 1]``.
        batch_size: sequences of ``context_length`` tokens per device in a micro-batch.
        precision: ``"mixed"`` (bfloat16 compute) or ``"fp32"``.
        zero_stage, data_parallel, tensor_parallel: see ``adamw_memory_breakdown``.

    The FLOPs per token and the parameters are ``models.sizes``'s, from the configuration
    alone (equal to ``GPT.flops_per_token()`` and ``GPT.num_parameters()``, tested): no weight
    is made and, for a preset or a ``GPTConfig``, Keras is not imported.
    """
    _check_positive("n_tokens", n_tokens)
    _check_utilisation(utilisation)
    chosen = find_device(device)
    _check_sharding(zero_stage, data_parallel, tensor_parallel)
    from llm_keras.models import sizes

    config = _config(getattr(model, "config", model))
    name = model if isinstance(model, str) else getattr(model, "name", "a GPTConfig")
    if config.n_heads % tensor_parallel:
        raise ValueError(
            f"tensor_parallel={tensor_parallel} does not divide n_heads={config.n_heads}: "
            "each device computes whole attention heads. Choose a divisor of n_heads."
        )
    activations = activation_memory_bytes(config, batch_size, precision,
                                          tensor_parallel=tensor_parallel)
    n_params = sizes.parameter_count(config)
    memory = adamw_memory_breakdown(n_params, precision, zero_stage, data_parallel,
                                    tensor_parallel)
    memory["activations"] = activations
    flops_per_token = sizes.flops_per_token(config, training=True)
    return ComputeBudget(
        model=name, n_params=n_params,
        n_compute_params=sizes.parameter_count(config, non_embedding=True),
        n_tokens=n_tokens, flops_per_token=flops_per_token,
        flops=flops_per_token * n_tokens, device=chosen, precision=precision,
        utilisation=utilisation, batch_size=batch_size, zero_stage=zero_stage,
        data_parallel=data_parallel, tensor_parallel=tensor_parallel, memory=memory,
    )


# --- helpers ---------------------------------------------------------------------------------


def _config(config):
    from llm_keras.models import GPTConfig

    if isinstance(config, str):
        return GPTConfig.preset(config)
    if not isinstance(config, GPTConfig):
        raise ValueError(
            f"Expected a preset name, a GPTConfig or a GPT, got {type(config).__name__}."
        )
    return config


def _duration(hours: float) -> str:
    """``0.8`` -> ``"48 min"``, ``30`` -> ``"30.0 h"``, ``100`` -> ``"100.0 h (4.2 days)"``."""
    if hours < 1:
        return f"{hours * 60:,.0f} min"
    if hours < 48:
        return f"{hours:,.1f} h"
    return f"{hours:,.1f} h ({hours / 24:,.1f} days)"


def _gigabytes(size: float) -> str:
    return f"{size / 1e9:,.2f} GB"


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {name}={value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {name}={value!r}.")


def _check_degree(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")


def _check_sharding(zero_stage, data_parallel, tensor_parallel):
    if zero_stage not in ZERO_STAGES:
        raise ValueError(
            f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}: 1 shards the optimizer "
            "states, 2 also the gradients, 3 also the parameters."
        )
    _check_degree("data_parallel", data_parallel)
    _check_degree("tensor_parallel", tensor_parallel)


def _check_utilisation(utilisation):
    if isinstance(utilisation, bool) or not isinstance(utilisation, numbers.Real) \
            or not 0 < utilisation <= 1:
        raise ValueError(
            f"utilisation={utilisation!r} is outside (0, 1]: it is the fraction of the device's "
            "peak FLOP/s the run achieves (0.3 to 0.5 is usual for large GPU runs)."
        )


def _check_precision(precision):
    if precision not in PRECISIONS:
        raise ValueError(
            f"Unknown precision {precision!r}: choose 'mixed' (bfloat16 compute, float32 "
            "master weights) or 'fp32'."
        )
