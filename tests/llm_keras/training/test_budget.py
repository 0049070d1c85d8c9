"""The compute budget against published figures: each test names its source.

Sources:
- GPT-2 small: Hugging Face's ``gpt2`` has 124,439,808 parameters (Raschka's ch04 prints
  124,412,160 without the 27,648 query/key/value biases); nanoGPT prints 123.65M without the
  position table.
- Brown et al. 2020 (GPT-3), table D.1: GPT-3 175B, 300B tokens, 3.14e23 FLOPs of training.
- Hoffmann et al. 2022 (Chinchilla), table 3: 400M parameters on 8.0B tokens take 1.92e19
  FLOPs; 10B on 205.1B take 1.23e22.
- Chowdhery et al. 2022 (PaLM), appendix B and table 3: PaLM 540B (L=118, H=48, Q=256,
  T=2048) trains at 238.3K tokens/s on 6144 TPU v4 chips (275 TFLOP/s bf16 each), an MFU of
  46.2 %.
- Rajbhandari et al. 2020 (ZeRO), section 3.1 and figure 1: mixed-precision Adam keeps 16 bytes
  per parameter (a 1.5B GPT-2 needs 24 GB); a 7.5B model on 64 GPUs needs 120 GB per device,
  31.4 GB with stage 1, 16.6 GB with stage 2, 1.88 GB with stage 3.
- Korthikanti et al. 2022, section 4: a layer keeps ``s b h (34 + 5 a s / h)`` bytes of 16-bit
  activations, ``s b h (10 + 24 / t + 5 a s / (h t))`` with tensor parallelism over t devices.
"""

import dataclasses

import pytest

from llm_keras.cli import main
from llm_keras.models import GPT, GPTConfig
from llm_keras.training.budget import (
    DEVICES,
    ComputeBudget,
    Device,
    activation_memory_bytes,
    adamw_memory_breakdown,
    adamw_memory_bytes,
    compute_budget,
    device_hours,
    find_device,
    model_flops_utilisation,
    training_flops,
)

GPT2_PARAMS = 124_439_808  # Hugging Face gpt2.num_parameters()
GPT2_NON_EMBEDDING = GPT2_PARAMS - 1024 * 768  # nanoGPT: "number of parameters: 123.65M"


@pytest.fixture(scope="module")
def gpt2_budget():
    return compute_budget("gpt2-small", 10e9, device="h100", utilisation=0.4)


def test_six_n_d_matches_gpt3_and_chinchilla():
    # GPT-3 paper, table D.1: 3.14e23 FLOPs for 175B parameters on 300B tokens.
    assert training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)
    # Chinchilla, table 3.
    assert training_flops(400e6, 8.0e9) == pytest.approx(1.92e19, rel=0.005)
    assert training_flops(10e9, 205.1e9) == pytest.approx(1.23e22, rel=0.005)


def test_gpt2_small_parameters_and_flops_per_token(gpt2_budget):
    assert gpt2_budget.n_params == GPT2_PARAMS
    assert gpt2_budget.n_compute_params == GPT2_NON_EMBEDDING  # the N of 6 N D
    assert round(GPT2_NON_EMBEDDING / 1e6, 2) == 123.65  # nanoGPT's printout
    # nanoGPT's estimate_mfu / PaLM: 6 N + 12 L T d, N without the position table.
    expected = 6 * GPT2_NON_EMBEDDING + 12 * 12 * 1024 * 768
    assert gpt2_budget.flops_per_token == expected
    assert gpt2_budget.flops == expected * 10e9
    # The attention term adds 15 % to 6 N at GPT-2 small's context of 1024.
    assert expected / (6 * GPT2_NON_EMBEDDING) == pytest.approx(1.153, abs=1e-3)


def test_mfu_and_device_hours_match_palm():
    # PaLM appendix B: 6 N + 12 L H Q T FLOPs per token; 238.3K tokens/s on 6144 chips: 46.2 %.
    flops_per_token = 6 * 540.35e9 + 12 * 118 * 48 * 256 * 2048
    mfu = model_flops_utilisation(flops_per_token, 238.3e3, 6144 * 275e12)
    assert mfu == pytest.approx(0.462, abs=0.0005)
    # An hour of that run is 6144 chip-hours.
    hour = flops_per_token * 238.3e3 * 3600
    assert device_hours(hour, 275e12, mfu) == pytest.approx(6144)


def test_gpt2_small_device_hours_on_h100(gpt2_budget):
    # 8.55e18 FLOPs at 40 % of the H100's 989.4 TFLOP/s (bf16, dense): 6.0 hours.
    hours = gpt2_budget.flops / (989.4e12 * 0.4) / 3600
    assert gpt2_budget.device_hours == pytest.approx(hours) == pytest.approx(6.00, abs=0.01)
    assert gpt2_budget.wall_clock_hours == gpt2_budget.device_hours
    fp32 = dataclasses.replace(gpt2_budget, precision="fp32", device=find_device("a100"))
    assert fp32.device_hours == pytest.approx(gpt2_budget.flops / (19.5e12 * 0.4) / 3600)


def test_adamw_keeps_16_bytes_per_parameter():
    # ZeRO, section 3.1: 2 + 2 + 12 bytes; "a 1.5B GPT-2 requires at least 24 GB".
    assert adamw_memory_bytes(1.5e9, "mixed") == 24e9
    assert adamw_memory_breakdown(1.0, "mixed") == {
        "parameters": 2, "gradients": 2, "optimizer states": 12}
    # float32: 4 + 4 + 8 (CS336 assignment 1 counts AdamW's state this way).
    assert adamw_memory_breakdown(1.0, "fp32") == {
        "parameters": 4, "gradients": 4, "optimizer states": 8}
    assert adamw_memory_bytes(GPT2_PARAMS, "fp32") == 16 * GPT2_PARAMS


def test_zero_stages_match_the_zero_paper():
    # ZeRO, figure 1: 7.5B parameters, 64 data-parallel GPUs, K = 12.
    per_device = [adamw_memory_bytes(7.5e9, "mixed", stage, data_parallel=64) / 1e9
                  for stage in (0, 1, 2, 3)]
    assert per_device == pytest.approx([120, 31.4, 16.6, 1.88], abs=0.05)
    # Tensor parallelism divides the whole state (Megatron-LM).
    assert adamw_memory_bytes(7.5e9, "mixed", tensor_parallel=8) == pytest.approx(15e9)


def per_layer(config, **kwargs):
    """Activation bytes of one layer: the difference between two and one layers."""
    two = activation_memory_bytes(dataclasses.replace(config, n_layers=2), **kwargs)
    return two - activation_memory_bytes(dataclasses.replace(config, n_layers=1), **kwargs)


def test_activation_memory_per_layer_matches_korthikanti():
    config = GPTConfig.preset("gpt2-small")  # dropout 0.1, d_ff = 4 d_model
    s, b, h, a = 1024, 4, 768, 12
    assert per_layer(config, batch_size=b) == s * b * h * (34 + 5 * a * s / h)
    for t in (2, 4):
        assert per_layer(config, batch_size=b, tensor_parallel=t) == pytest.approx(
            s * b * h * (10 + 24 / t + 5 * a * s / (h * t)))
    # Plus, once, the final norm's input and the float32 logits that the loss reads.
    once = activation_memory_bytes(config, batch_size=1) - 12 * per_layer(config, batch_size=1)
    assert once == pytest.approx(2 * s * h + 4 * s * 50257)


def test_activation_memory_is_linear_in_the_batch_and_larger_in_float32():
    # CS336 assignment 1: AdamW's peak memory is a * batch_size + b.
    config = GPTConfig.preset("shakespeare-char")
    sizes = [activation_memory_bytes(config, batch_size=n) for n in (1, 2, 3)]
    assert sizes[2] - sizes[1] == sizes[1] - sizes[0] == sizes[0]
    # Without dropout no masks and no dropped copy of the attention weights are kept:
    # s h (32 + 4 a s / h) bytes in 16 bits, twice the 16-bit values in float32.
    plain = dataclasses.replace(config, dropout=0.0)
    s, h, a = 256, 384, 6
    assert per_layer(plain, batch_size=1) == s * h * (32 + 2 * a * s / h)
    assert per_layer(plain, batch_size=1, precision="fp32") == s * h * (64 + 4 * a * s / h)
    assert per_layer(plain, batch_size=1, seq_len=128) == 128 * h * (32 + 2 * a * 128 / h)


def test_the_budget_of_a_parallel_run(gpt2_budget):
    sharded = compute_budget("gpt2-small", 10e9, device="a100", batch_size=8, data_parallel=8,
                             tensor_parallel=2, zero_stage=3)
    assert sharded.n_devices == 16
    assert sharded.device_hours == pytest.approx(gpt2_budget.device_hours * 989.4 / 312)
    assert sharded.wall_clock_hours == pytest.approx(sharded.device_hours / 16)
    assert sharded.memory["optimizer states"] == pytest.approx(12 * GPT2_PARAMS / 16)
    assert sharded.memory["parameters"] == pytest.approx(2 * GPT2_PARAMS / 16)
    assert sharded.memory_per_device == pytest.approx(sum(sharded.memory.values()))
    assert sharded.fits and gpt2_budget.fits


def test_a_model_or_a_config_gives_the_same_budget():
    config = GPTConfig.preset("shakespeare-char-cpu")
    model = GPT(config)  # a model with its weights, as trained
    by_model, by_config = compute_budget(model, 1e6), compute_budget(config, 1e6)
    assert by_model.n_params == by_config.n_params == model.num_parameters()
    assert by_model.flops == by_config.flops == model.flops_per_token() * 1e6


def test_the_table_is_readable(gpt2_budget):
    table = str(gpt2_budget)
    for text in ("gpt2-small: 124,439,808 parameters", "training FLOPs", "8.55e+18",
                 "NVIDIA H100 SXM5 80 GB, 989.4 TFLOP/s peak (mixed), 80 GB",
                 "device-hours", "6.0", "memory: optimizer states", "1.49 GB", "fits",
                 "datasheet"):
        assert text in table, text


def test_each_device_names_its_source():
    assert set(DEVICES) == {"a100", "h100", "h200"}
    for device in DEVICES.values():
        assert "datasheet" in device.source and device.peak_flops_mixed > device.peak_flops_fp32
    assert DEVICES["a100"].peak_flops("mixed") == 312e12  # nanoGPT's estimate_mfu
    assert DEVICES["a100"].peak_flops("fp32") == 19.5e12  # CS336 assignment 1
    custom = Device("a laptop", 1e12, 0.5e12, 16e9, "measured")
    assert find_device(custom) is custom


@pytest.mark.parametrize("call, message", [
    (lambda: compute_budget("gpt3", 1e9), "Unknown preset 'gpt3'"),
    (lambda: compute_budget("gpt2-small", 1e9, device="tpu"), "Unknown device 'tpu'"),
    (lambda: compute_budget("gpt2-small", 0), "n_tokens must be a positive number"),
    (lambda: compute_budget("gpt2-small", 1e9, utilisation=1.5), "outside (0, 1]"),
    (lambda: compute_budget("gpt2-small", 1e9, utilisation=0), "outside (0, 1]"),
    (lambda: compute_budget("gpt2-small", 1e9, precision="fp16"), "Unknown precision 'fp16'"),
    (lambda: compute_budget("gpt2-small", 1e9, zero_stage=4), "zero_stage must be 0, 1, 2 or 3"),
    (lambda: compute_budget("gpt2-small", 1e9, tensor_parallel=5), "does not divide n_heads=12"),
    (lambda: compute_budget("gpt2-small", 1e9, batch_size=0), "batch_size must be a positive"),
    (lambda: adamw_memory_bytes(1e6, data_parallel=2.5), "data_parallel must be a positive"),
])
def test_bad_values_are_named(call, message):
    with pytest.raises(ValueError, match=None) as error:
        call()
    assert message in str(error.value)


def test_the_command_prints_the_table(capsys, gpt2_budget):
    assert main(["budget", "--preset", "gpt2-small", "--tokens", "10e9", "--device", "h100",
                 "--utilisation", "0.4"]) == 0
    assert capsys.readouterr().out == str(gpt2_budget) + "\n"
    assert main(["budget", "--preset", "gpt2-small", "--tokens", "10e9", "--device", "a100",
                 "--precision", "fp32", "--batch", "4", "--data-parallel", "8",
                 "--zero-stage", "2"]) == 0
    expected = compute_budget("gpt2-small", 10e9, device="a100", precision="fp32",
                              batch_size=4, data_parallel=8, zero_stage=2)
    assert capsys.readouterr().out == str(expected) + "\n"
    assert isinstance(expected, ComputeBudget) and "8 device(s)" in str(expected)


@pytest.mark.parametrize("args, message", [
    (["--preset", "gpt3", "--tokens", "1e9"], "Unknown preset 'gpt3'"),
    (["--tokens", "1e9", "--device", "tpu"], "Unknown device 'tpu'"),
    (["--tokens", "-5"], "n_tokens must be a positive number"),
    (["--tokens", "1e9", "--utilisation", "1.2"], "--utilisation 1.2 is outside (0, 1]"),
])
def test_the_command_says_what_is_wrong_in_one_line(capsys, args, message):
    assert main(["budget", *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("llm-keras: error: ") and message in error
    assert error.count("\n") == 1


def test_counting_a_preset_allocates_no_weights():
    from keras.src.backend.common import global_state  # Keras's list of pending variables

    before = list(global_state.get_global_attribute("uninitialized_variables") or [])
    budget = compute_budget("gpt2-small", 1e9)
    after = global_state.get_global_attribute("uninitialized_variables") or []
    assert budget.n_params == GPT2_PARAMS and list(after) == before


@pytest.mark.parametrize("hours, shown", [(0.8, "48 min"), (30, "30.0 h"), (100, "100.0 h (4.2 days)")])
def test_the_wall_clock_line_reads_in_units_that_fit(hours, shown):
    from llm_keras.training.budget import _duration

    assert _duration(hours) == shown
