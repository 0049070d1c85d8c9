"""``GPT.record_forward``: on PyTorch, training's forward pass replayed from a ``torch.jit.trace``
record with the weights as inputs that require gradients. The record must give the eager call's
loss and gradients, train to the same weights through ``model.fit``, draw a new dropout mask at
every call (from PyTorch's generator, as the eager call does), follow new weights, and record
once per shape and ``training`` flag."""

import keras
import numpy as np
import pytest
from keras import ops

from llm_keras.training.losses import CausalLMLoss
from llm_keras.training.trainer import TrainingConfig, compile_for_training
from tests.llm_keras.models.numpy_gpt import gpt_params, set_gpt
from tests.llm_keras.training.conftest import tiny_gpt

on_torch_only = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="only PyTorch records the forward pass: JAX and TensorFlow compile the whole "
    "training step (jax.jit, tf.function), so record_forward leaves them as they are",
)
VARIANTS = {
    "learned": {},
    "rotary": {
        "positional": "rotary", "norm": "rmsnorm", "activation": "swiglu", "use_bias": False,
        "tie_weights": False, "fused_attention": False,
    },
    "fused normalisations": {"fused_norm": True},
}  # fmt: skip


def batch(model, seed=0, batch_size=3):
    rng = np.random.default_rng(seed)
    c = model.config
    ids = rng.integers(0, c.vocab_size, (batch_size, c.context_length + 1)).astype("int32")
    return ids[:, :-1], ids[:, 1:]


def loss_and_gradients(model, inputs, targets):
    """The loss of one training forward and the gradients ``backward`` leaves on the weights."""
    model.zero_grad()
    loss = CausalLMLoss()(ops.convert_to_tensor(targets), model(inputs, training=True))
    loss.backward()
    gradients = [ops.convert_to_numpy(v.value.grad) for v in model.trainable_variables]
    return float(ops.convert_to_numpy(loss)), gradients


@on_torch_only
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_recorded_forward_gives_the_eager_loss_and_gradients(variant):
    model = tiny_gpt(0, **VARIANTS[variant])
    inputs, targets = batch(model)
    loss, gradients = loss_and_gradients(model, inputs, targets)
    model.record_forward()
    for _ in range(2):  # the call that records, then a replay
        got_loss, got_gradients = loss_and_gradients(model, inputs, targets)
        assert got_loss == pytest.approx(loss, rel=1e-6)
        assert np.log(model.config.vocab_size) * 0.9 < loss < 10  # a real loss, not zeros
        for got, expected in zip(got_gradients, gradients, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert max(np.abs(g).max() for g in gradients) > 1e-3
    assert len(model._recorded_logits.records) == 1


@on_torch_only
def test_a_few_fit_steps_give_the_eager_weights():
    config = TrainingConfig(steps=4, batch_size=3, eval_interval=4, warmup_steps=1,
                            learning_rate=1e-2, sample_tokens=0)  # fmt: skip
    trained = []
    for record in (False, True):
        model = compile_for_training(tiny_gpt(0), config, record_forward=record)
        assert (model._recorded_logits is not None) == record
        inputs, targets = batch(model, batch_size=12)
        model.fit(inputs, targets, batch_size=3, epochs=1, shuffle=False, verbose=0)
        trained.append([ops.convert_to_numpy(v) for v in model.trainable_variables])
    initial = [ops.convert_to_numpy(v) for v in tiny_gpt(0).trainable_variables]
    moved = max(np.abs(a - b).max() for a, b in zip(trained[0], initial, strict=True))
    assert moved > 1e-3  # the steps changed the weights
    for got, expected in zip(trained[1], trained[0], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@on_torch_only
def test_dropout_draws_a_new_mask_at_every_call_from_torchs_generator():
    import torch

    model = tiny_gpt(0, dropout=0.5)
    inputs, _ = batch(model)
    eager = {}
    for seed in (1, 2):
        torch.manual_seed(seed)
        eager[seed] = ops.convert_to_numpy(model(inputs, training=True))
    assert np.abs(eager[1] - eager[2]).max() > 0.1  # the masks differ with the seed
    model.record_forward()
    model(inputs, training=True)  # records (drawing masks of its own)
    for seed in (1, 2, 1):  # replays: the eager call's mask for the same generator state
        torch.manual_seed(seed)
        got = ops.convert_to_numpy(model(inputs, training=True))
        np.testing.assert_allclose(got, eager[seed], rtol=1e-5, atol=1e-6)
    # Without training, no dropout: the eager numbers, from a record of its own.
    np.testing.assert_allclose(ops.convert_to_numpy(model(inputs)),
                               ops.convert_to_numpy(model._logits(inputs, False)),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    assert len(model._recorded_logits.records) == 2


@on_torch_only
def test_new_weights_and_new_shapes_without_recording_again_per_shape():
    model = tiny_gpt(0)
    model.record_forward()
    inputs, _ = batch(model)
    before = ops.convert_to_numpy(model(inputs, training=True))
    set_gpt(model, gpt_params(np.random.default_rng(9), model.config))  # as loading does
    got = ops.convert_to_numpy(model(inputs, training=True))
    np.testing.assert_allclose(got, ops.convert_to_numpy(model._logits(inputs, True)),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    assert np.abs(got - before).max() > 0.1
    shorter = inputs[:2, :5]  # another shape: a record of its own, the eager numbers
    np.testing.assert_allclose(ops.convert_to_numpy(model(shorter, training=True)),
                               ops.convert_to_numpy(model._logits(shorter, True)),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    assert len(model._recorded_logits.records) == 2
    with pytest.raises(ValueError, match="outside"):  # the ids are still checked
        model(np.full((1, 4), model.config.vocab_size, dtype="int32"), training=True)
    model.record_forward(False)
    assert model._recorded_logits is None


def test_compile_for_training_records_on_pytorch_only_and_not_with_torch_compile():
    config = TrainingConfig(steps=4, batch_size=3, eval_interval=4, warmup_steps=1, sample_tokens=0)
    model = compile_for_training(tiny_gpt(0), config)
    assert (model._recorded_logits is not None) == (keras.backend.backend() == "torch")
    model = compile_for_training(tiny_gpt(0), config, jit_compile=True)
    assert model._recorded_logits is None
