"""TensorBoardLogs: a run's curves in TensorBoard's format, read back by TensorBoard's own reader,
written without importing TensorFlow."""

import subprocess
import sys

import keras
import pytest

from llm_keras.training.trainer import TrainingConfig, compile_for_training, train

from .conftest import tiny_gpt

pytest.importorskip("tensorboard")


def read_scalars(directory):
    """{tag: [(step, value)]} of the event files in ``directory``, by TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}  # fmt: skip


def test_the_curves_tensorboard_reads_are_the_runs(tmp_path, small_ids):
    config = TrainingConfig(steps=6, batch_size=4, eval_interval=3, eval_batches=1,
                            warmup_steps=1, sample_tokens=0)  # fmt: skip
    model = tiny_gpt()
    compile_for_training(model, config)
    half = len(small_ids) // 2
    history = train(model, small_ids[:half], small_ids[half:], config, directory=tmp_path,
                    verbose=0)  # fmt: skip
    train_logs, val_logs = read_scalars(tmp_path / "logs" / "train"), read_scalars(
        tmp_path / "logs" / "validation")
    assert [step for step, _ in val_logs["epoch_loss"]] == [3, 6]  # the optimizer's steps
    expected = [record["val_loss"] for record in history.evaluations]
    assert [value for _, value in val_logs["epoch_loss"]] == pytest.approx(expected, rel=1e-6)
    assert {"epoch_loss", "epoch_perplexity", "epoch_learning_rate"} <= set(train_logs)
    rates = [value for _, value in train_logs["epoch_learning_rate"]]
    schedule = model.optimizer.learning_rate  # the rate after steps 3 and 6, as logged
    assert rates[-1] == pytest.approx(float(keras.ops.convert_to_numpy(schedule)), rel=1e-6)
    assert rates[0] != rates[1]  # warm-up then cosine decay: the rate moved


def test_training_with_logs_does_not_import_tensorflow(tmp_path):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("on the TensorFlow backend, TensorFlow is the backend")
    code = f"""
import sys
import numpy as np
from llm_keras.models import GPT, GPTConfig
from llm_keras.training.trainer import TrainingConfig, compile_for_training, train
config = TrainingConfig(steps=2, batch_size=2, eval_interval=1, eval_batches=1, warmup_steps=1,
                        sample_tokens=0)
model = GPT(GPTConfig(vocab_size=11, context_length=8, d_model=16, n_layers=1, n_heads=2))
compile_for_training(model, config)
ids = np.arange(400, dtype=np.int32) % 11
train(model, ids[:300], ids[300:], config, directory={str(tmp_path)!r}, verbose=0)
print("tensorflow imported:", "tensorflow" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("tensorflow imported: False"), result.stdout
    assert read_scalars(tmp_path / "logs" / "validation")["epoch_loss"][-1][0] == 2
