"""AdamW as nanoGPT configures it, against a NumPy AdamW with PyTorch's formulas."""

import keras
import numpy as np
import pytest

from llm_keras.training.optimizer import build_optimizer
from tests.llm_keras.keras_test_case import to_numpy


class TwoWeights(keras.Model):
    """A 2-D kernel (decays) and a 1-D bias (does not)."""

    def __init__(self):
        super().__init__()
        self.kernel = self.add_weight(shape=(2, 3), initializer="ones", name="kernel")
        self.bias = self.add_weight(shape=(3,), initializer="ones", name="bias")


def numpy_adamw(params, grads_per_step, lr, wd, b1, b2, clip, decays, eps=1e-8):
    """torch.optim.AdamW after torch.nn.utils.clip_grad_norm_, in float64."""
    params = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(grads_per_step, start=1):
        norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
        scale = min(1.0, clip / norm) if clip else 1.0
        for i, g in enumerate(grads):
            g = g * scale
            if decays[i]:
                params[i] = params[i] * (1 - lr * wd)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def grads(seed, scale):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=s) * scale).astype("float32") for s in ((2, 3), (3,))]


def apply(optimizer, gradients, model):
    tensors = [keras.ops.convert_to_tensor(g) for g in gradients]
    optimizer.apply_gradients(zip(tensors, model.trainable_variables, strict=True))


@pytest.mark.parametrize("fused", [False, True])
def test_matches_pytorch_adamw_with_clipping_and_decay_on_2d_weights_only(fused):
    """``fused=True``: ``FusedAdamW`` (its update one fused kernel on PyTorch, its clipping two
    multi-tensor operations), the same formulas."""
    model = TwoWeights()
    optimizer = build_optimizer(model, 0.1, weight_decay=0.5, beta_2=0.99, clipnorm=1.0,
                                fused=fused)  # fmt: skip
    steps = [grads(0, 10.0), grads(1, 0.01), grads(2, 3.0)]  # norms above and below 1
    for step_grads in steps:
        apply(optimizer, step_grads, model)
    expected = numpy_adamw(
        [np.ones((2, 3)), np.ones(3)], steps, 0.1, 0.5, 0.9, 0.99, 1.0, decays=[True, False]
    )
    for variable, value in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(to_numpy(variable), value, rtol=1e-5, atol=1e-6)


def test_zero_gradients_shrink_only_the_matrices():
    model = TwoWeights()
    optimizer = build_optimizer(model, 0.1, weight_decay=0.5)
    apply(optimizer, [np.zeros((2, 3), "float32"), np.zeros(3, "float32")], model)
    np.testing.assert_allclose(to_numpy(model.kernel), np.full((2, 3), 0.95), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(model.bias), np.ones(3), rtol=0)


@pytest.mark.parametrize("fused", [False, True])
def test_accumulating_two_micro_batches_equals_one_step_on_their_mean(fused):
    accumulated, plain = TwoWeights(), TwoWeights()
    opt_a = build_optimizer(accumulated, 0.1, gradient_accumulation_steps=2, fused=fused)
    opt_p = build_optimizer(plain, 0.1)
    first, second = grads(3, 1.0), grads(4, 1.0)
    apply(opt_a, first, accumulated)
    np.testing.assert_allclose(to_numpy(accumulated.kernel), np.ones((2, 3)))  # not yet
    apply(opt_a, second, accumulated)
    apply(opt_p, [(a + b) / 2 for a, b in zip(first, second, strict=True)], plain)
    for a, p in zip(accumulated.trainable_variables, plain.trainable_variables, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(p), rtol=1e-6)
    assert int(to_numpy(opt_a.iterations)) == 1


def test_bad_settings_name_the_values():
    with pytest.raises(ValueError, match="gradient_accumulation_steps=0"):
        build_optimizer(TwoWeights(), 0.1, gradient_accumulation_steps=0)
    with pytest.raises(ValueError, match="clipnorm=-1"):
        build_optimizer(TwoWeights(), 0.1, clipnorm=-1)


def test_fused_adamw_matches_keras_adamw_step_by_step():
    """``FusedAdamW`` and Keras's ``AdamW`` at every step, including steps whose gradients are
    so small that epsilon matters (Keras puts it outside the bias correction: the fused kernel
    is given Keras's epsilon)."""
    from llm_keras.training.fused_adamw import FusedAdamW

    fused, keras_model = TwoWeights(), TwoWeights()
    pair = [build_optimizer(m, 1e-3, weight_decay=0.1, beta_2=0.999, fused=f)
            for m, f in ((fused, True), (keras_model, False))]  # fmt: skip
    assert isinstance(pair[0], FusedAdamW)
    for step, scale in enumerate([1e-9, 1e-7, 1.0, 1e-8, 1e-3, 5.0, 1e-9, 0.1]):
        for m, optimizer in zip((fused, keras_model), pair, strict=True):
            apply(optimizer, grads(10 + step, scale), m)
        for a, b in zip(fused.trainable_variables, keras_model.trainable_variables, strict=True):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-7)
    # the same state: Keras's variables, so checkpoints and saved models are AdamW's
    def kinds(optimizer):  # the variables' kinds and shapes (their paths name the models)
        return [(v.name.rsplit("_", 1)[-1], tuple(v.shape)) for v in optimizer.variables]

    assert kinds(pair[0]) == kinds(pair[1]) and len(pair[0].variables) == 6
    for a, b in zip(pair[0].variables, pair[1].variables, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-12)
    restored = FusedAdamW.from_config(pair[0].get_config())
    assert isinstance(restored, FusedAdamW) and restored.weight_decay == 0.1

