"""set_seed: the draws of keras.utils.set_random_seed, without importing TensorFlow."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from llm_keras.models import GPT, GPTConfig
from llm_keras.seeding import set_seed


def _draws():
    config = GPTConfig.preset("shakespeare-char-cpu", n_layers=1, d_model=32, n_heads=2,
                              vocab_size=11, context_length=8)
    model = GPT(config)
    model.build((None, 8))
    return ([keras.ops.convert_to_numpy(w) for w in model.weights]
            + [keras.ops.convert_to_numpy(keras.random.normal((3,))), np.random.rand(2),
               np.array(__import__("random").random())])


def test_the_same_draws_as_keras_set_random_seed():
    keras.utils.set_random_seed(1234)
    expected = _draws()
    set_seed(1234)
    got = _draws()
    assert len(got) == len(expected)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
    set_seed(4321)
    assert not np.array_equal(_draws()[0], expected[0])


def test_tensorflow_is_not_imported_on_other_backends():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        pytest.skip("on the TensorFlow backend, TensorFlow is the backend")
    code = ("import sys; from llm_keras.seeding import set_seed; set_seed(3); "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**__import__("os").environ, "KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_a_seed_that_is_not_an_integer_is_named():
    with pytest.raises(ValueError, match="seed must be an integer, got seed='7'"):
        set_seed("7")


def test_the_library_seeds_through_set_seed_outside_tensorflow_only_code():
    """``keras.utils.set_random_seed`` imports TensorFlow on every backend: only set_seed itself
    and the TensorFlow-only modules (tf.distribute) may call it."""
    import ast
    from pathlib import Path

    import llm_keras

    package = Path(llm_keras.__file__).parent
    allowed = {"seeding.py", "distributed/tf_multi_worker.py", "distributed/tf_mirrored.py"}
    callers = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "set_random_seed"
                    and relative not in allowed):
                callers.append(f"{relative}:{node.lineno}")
    assert callers == [], f"use llm_keras.seeding.set_seed instead in {callers}"
