"""models.sizes: a GPT's parameters and FLOPs from its configuration, without weights or Keras."""

import itertools
import subprocess
import sys

import pytest

from llm_keras.models import GPT, GPTConfig
from llm_keras.models import gpt_config as gpt_config_module
from llm_keras.models.sizes import flops_per_token, parameter_count

# Every value of each choice that changes the weights, each paired with every other at least once
# (a covering set: the full product is 96 models).
CHOICES = dict(activation=("gelu", "relu", "swiglu"), positional=("learned", "rotary", "sinusoidal"),
               norm=("layernorm", "rmsnorm"), tie_weights=(True, False), use_bias=(True, False),
               norm_first=(True, False))  # fmt: skip


def covering_configs():
    names = list(CHOICES)
    seen, configs = set(), []
    for combo in itertools.product(*CHOICES.values()):
        pairs = {(a, combo[i], b, combo[j]) for i, a in enumerate(names)
                 for j, b in enumerate(names) if i < j}  # fmt: skip
        if not pairs <= seen:
            seen |= pairs
            configs.append(dict(zip(names, combo, strict=True)))
    return configs


@pytest.mark.parametrize("choices", covering_configs(), ids=lambda c: "-".join(map(str, c.values())))
def test_parameter_count_equals_the_weights_of_the_built_model(choices):
    config = GPTConfig(vocab_size=11, context_length=8, d_model=16, n_layers=2, n_heads=2,
                       d_ff=24, **choices)  # fmt: skip
    model = GPT(config)
    assert parameter_count(config) == model.num_parameters()
    assert parameter_count(config, non_embedding=True) == model.num_parameters(non_embedding=True)


def test_gpt2_small_has_as_many_parameters_as_hugging_face_gpt2():
    # A built GPT has parameter_count's weights for every choice (the test above), so GPT-2
    # small is counted here without initialising its 124 M weights (20 s on TensorFlow).
    count = parameter_count(GPTConfig.preset("gpt2-small"))
    assert count == 124_439_808  # Hugging Face's GPT2Model (tied head), as published
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    with torch.device("meta"):  # shapes only, no memory, nothing downloaded
        hf_model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    assert count == hf_model.num_parameters()


def test_flops_per_token_is_nanogpts_formula():
    config = GPTConfig.preset("shakespeare-char-cpu")
    model = GPT(config)
    n = model.num_parameters(non_embedding=True)
    layers, seq_len, d = config.n_layers, config.context_length, config.d_model
    assert flops_per_token(config) == 6 * n + 12 * layers * seq_len * d
    assert flops_per_token(config, training=False, seq_len=10) == 2 * n + 4 * layers * 10 * d
    assert model.flops_per_token() == flops_per_token(config)


def test_the_configurations_choices_are_the_layers_own():
    from llm_keras.layers import feed_forward, normalization

    assert gpt_config_module.ACTIVATIONS == feed_forward.ACTIVATIONS
    assert set(gpt_config_module.NORMS) == set(normalization.NORMS)


def test_budget_command_imports_neither_keras_nor_tensorflow():
    code = ("import sys\nfrom llm_keras.cli import main\n"
            "sys.argv = ['llm-keras', 'budget', '--preset', 'gpt2-small', '--tokens', '10e9']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print('imported:', sorted({'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules)))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    assert "gpt2-small: 124,439,808 parameters" in result.stdout
    assert result.stdout.strip().endswith("imported: []"), result.stdout[-500:]
