"""save_model: a .keras file written on JAX or PyTorch without importing TensorFlow."""

import json
import os
import subprocess
import sys

import keras
import numpy as np

from llm_keras.keras_files import save_model, tensorflow_left_alone
from llm_keras.models import GPT, GPTConfig

CODE = """
import json, sys
import keras, numpy as np
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.run_directory import load_for_inference, save_for_inference
config = GPTConfig.preset("shakespeare-char-cpu", n_layers=1, d_model=32, n_heads=2,
                          vocab_size=11, context_length=8)
model = GPT(config)
model.build((None, 8))
save_for_inference(sys.argv[1], model, CharTokenizer.train("abcdefghij "))
loaded, _ = load_for_inference(sys.argv[1])
same = all(np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
           for a, b in zip(model.weights, loaded.weights, strict=True))
print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "same": same}))
"""


def test_a_run_directory_is_written_and_read_without_tensorflow(tmp_path):
    backend = keras.backend.backend()
    result = subprocess.run([sys.executable, "-c", CODE, str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600, check=False,
                            env={**os.environ, "KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["same"] is True
    # on TensorFlow, TensorFlow is the backend; elsewhere saving no longer imports it
    assert got["tensorflow"] is (backend == "tensorflow")


def test_the_saved_file_loads_with_the_same_weights_and_keras_is_left_as_it_was(tmp_path):
    from keras.src.utils import module_utils

    before = module_utils.tensorflow._available
    config = GPTConfig.preset("shakespeare-char-cpu", n_layers=1, d_model=16, n_heads=2,
                              vocab_size=7, context_length=4)
    model = GPT(config)
    model.build((None, 4))
    save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    ids = np.array([[1, 2, 3, 4]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(ids)),
                                  keras.ops.convert_to_numpy(loaded(ids)))
    if "tensorflow" in sys.modules:  # the TensorFlow backend: Keras looked, as usual
        assert module_utils.tensorflow._available is True
        return
    assert module_utils.tensorflow._available == before  # restored after the save
    with tensorflow_left_alone():
        assert module_utils.tensorflow.available is False
    assert module_utils.tensorflow._available == before
