"""What each backend offers: asking one for what it lacks names the backend and the way out."""

import keras
import pytest

from tests.llm_keras.distributed.programs import TINY


def test_keras_distribution_elsewhere_than_jax_says_what_to_use():
    from llm_keras.distributed.keras_distribution import data_parallel, model_parallel
    from llm_keras.models import GPTConfig

    backend = keras.backend.backend()
    if backend == "jax":
        pytest.skip("keras.distribution exists on JAX: test_keras_distribution.py tests it")
    instead = {"tensorflow": "mirrored_strategy()", "torch": "train_torch_data_parallel()"}
    for make in (lambda: data_parallel(2), lambda: model_parallel(GPTConfig(**TINY), 1, 2)):
        with pytest.raises(ValueError) as error:
            make()
        assert f"this is KERAS_BACKEND={backend}" in str(error.value)
        assert instead[backend] in str(error.value)


def test_strategies_of_another_backend_are_refused_by_name():
    from llm_keras.distributed.tf_mirrored import mirrored_strategy
    from llm_keras.distributed.torch_data_parallel import start_torch_workers

    backend = keras.backend.backend()
    if backend != "tensorflow":
        with pytest.raises(
            ValueError, match=f"needs KERAS_BACKEND=tensorflow, and this is {backend}"
        ):
            mirrored_strategy(2)
    if backend != "torch":
        with pytest.raises(ValueError, match=f"needs KERAS_BACKEND=torch, and this is {backend}"):
            start_torch_workers("127.0.0.1:1,127.0.0.1:2", 0)
