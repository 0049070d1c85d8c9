"""wrapped_gpt.py: the four models around a GPT (the classifier, the reward model, DPO's and GRPO's
views of the policy) keep it under the config key their ``.keras`` files have always used, and
rebuild it, with their own settings, from their config. (Each class's own test saves and loads a
``.keras`` file with its weights.)"""

import keras
import pytest

from llm_keras.alignment.dpo import DPOModel
from llm_keras.alignment.grpo import GRPOModel
from llm_keras.alignment.reward_model import RewardModel
from llm_keras.finetuning.classification import LastTokenClassifier
from llm_keras.finetuning.wrapped_gpt import WrappedGPT
from llm_keras.models import GPT, GPTConfig
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)

TINY = {"vocab_size": 20, "context_length": 12, "d_model": 16, "n_layers": 1, "n_heads": 2}
WRAPPERS = {
    "classifier": (lambda gpt: LastTokenClassifier(gpt, 3, train_layers="all"), "gpt",
                   {"num_classes": 3, "train_layers": "all"}),
    "reward": (lambda gpt: RewardModel(gpt, train_layers="head"), "gpt",
               {"train_layers": "head"}),
    "dpo": (lambda gpt: DPOModel(gpt, average_log_probs=True), "policy",
            {"average_log_probs": True}),
    "grpo": (lambda gpt: GRPOModel(gpt, epsilon=0.3, beta=0.1, temperature=0.7), "policy",
             {"epsilon": 0.3, "beta": 0.1, "temperature": 0.7}),
}  # fmt: skip


@pytest.mark.parametrize("name", WRAPPERS)
def test_a_wrapper_keeps_its_gpt_under_its_key_and_rebuilds_it_from_its_config(name):
    make, key, settings = WRAPPERS[name]
    keras.utils.set_random_seed(0)
    gpt = GPT(GPTConfig(**TINY))
    model = make(gpt)
    assert isinstance(model, WrappedGPT) and model.wrapped == key
    assert getattr(model, key) is gpt
    config = model.get_config()
    assert config[key] == keras.saving.serialize_keras_object(gpt)
    assert {k: config[k] for k in settings} == settings
    revived = type(model).from_config(config)
    rebuilt = getattr(revived, key)
    assert isinstance(rebuilt, GPT) and rebuilt is not gpt and rebuilt.config == gpt.config
    assert revived.get_config() == config
    assert [tuple(w.shape) for w in revived.weights] == [tuple(w.shape) for w in model.weights]
    revived.build(None)  # as Keras does when a .keras file loads: nothing left to build
    assert revived.built and len(revived.weights) == len(model.weights)
