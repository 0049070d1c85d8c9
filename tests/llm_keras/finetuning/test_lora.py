"""LoRA (llm_keras.finetuning.lora): the formula, parity with Keras's Dense.enable_lora, apply,
train, merge, save and reload, on every backend."""

import keras
import numpy as np
import pytest

from llm_keras.finetuning.lora import (
    PROJECTIONS,
    LoRADense,
    apply_lora,
    load_lora_weights,
    merge_lora,
    save_lora_weights,
)
from llm_keras.generation.decode import generate
from llm_keras.models import GPT, GPTConfig
from llm_keras.training.losses import CausalLMLoss
from tests.llm_keras.keras_test_case import (
    assert_close,
    decode_with_cache,
    run_serialization_test,
    to_numpy,
)

CONFIG = {"vocab_size": 11, "context_length": 16, "d_model": 32, "n_layers": 2, "n_heads": 2}
IDS = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [3, 1, 4, 1, 5, 9, 2, 6]], dtype="int32")


def numpy_lora(x, w, b, a, b_matrix, alpha, rank):
    """The formula, written with NumPy: x W + (alpha / rank) (x A) B + b."""
    return x @ w + (alpha / rank) * (x @ a) @ b_matrix + b


def arrays(seed, n_in=6, n_out=5, rank=2):
    rng = np.random.default_rng(seed)
    w, a, b_matrix = (rng.normal(size=s) for s in ((n_in, n_out), (n_in, rank), (rank, n_out)))
    return w, rng.normal(size=n_out), a, b_matrix, rng.normal(size=(2, 3, n_in))


def lora_layer(w, b, a, b_matrix, alpha):
    layer = LoRADense(w.shape[1], a.shape[1], alpha=alpha)
    layer.build((None, w.shape[0]))
    for variable, value in zip((layer.kernel, layer.bias, layer.lora_a, layer.lora_b),
                               (w, b, a, b_matrix), strict=True):  # fmt: skip
        variable.assign(value)
    return layer


def gpt(seed=0, **changes):
    keras.utils.set_random_seed(seed)
    return GPT(GPTConfig(**{**CONFIG, **changes}))


def tuned(model, seed=1):
    """Give every adapter weight random values (B no longer zero), as training would."""
    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(0.0, 0.5, tuple(weight.shape)))
    return model


def lora_weights(model):
    return [w for w in model.weights if w.name in ("lora_a", "lora_b")]


@pytest.mark.parametrize("alpha", [None, 8.0])
def test_lora_dense_is_the_formula(alpha):
    w, b, a, b_matrix, x = arrays(0)
    layer = lora_layer(w, b, a, b_matrix, alpha)
    expected = numpy_lora(x, w, b, a, b_matrix, 2 if alpha is None else alpha, 2)
    assert_close(layer(x.astype("float32")), expected, atol=1e-5)
    assert_close(layer.merged_kernel(), w + (layer.alpha / 2) * a @ b_matrix, atol=1e-5)
    assert layer.scale == (1.0 if alpha is None else 4.0)


@pytest.mark.parametrize("alpha", [None, 8.0])
def test_lora_dense_equals_keras_enable_lora(alpha):
    w, b, a, b_matrix, x = arrays(1)
    ours = lora_layer(w, b, a, b_matrix, alpha)
    dense = keras.layers.Dense(5)
    dense.build((None, 6))
    dense.kernel.assign(w)
    dense.bias.assign(b)
    dense.enable_lora(2, lora_alpha=alpha)
    dense.lora_kernel_a.assign(a)
    dense.lora_kernel_b.assign(b_matrix)
    x = x.astype("float32")
    assert np.abs(to_numpy(dense(x)) - to_numpy(dense.bias)).max() > 1.0  # not a trivial case
    assert_close(ours(x), dense(x), atol=1e-5)
    assert_close(ours.merged_kernel(), dense.kernel, atol=1e-5)
    # The one difference, on purpose: Keras leaves the bias trainable, LoRADense freezes it.
    assert [v.name for v in dense.trainable_weights] == ["bias", "lora_kernel_a", "lora_kernel_b"]
    assert [v.name for v in ours.trainable_weights] == ["lora_a", "lora_b"]


def test_from_dense_copies_the_dense_and_starts_with_the_same_outputs():
    model = gpt()
    query = model.blocks[1].attention.query
    layer = LoRADense.from_dense(query, rank=4, seed=3)
    x = np.random.default_rng(0).normal(size=(2, 5, 32)).astype("float32")
    assert_close(layer(x), query(x), atol=1e-6)
    assert_close(layer.kernel, query.kernel, atol=0)
    assert np.all(to_numpy(layer.lora_b) == 0) and np.abs(to_numpy(layer.lora_a)).max() > 0.1
    assert sorted(v.path for v in layer.weights) == [
        f"{model.name}/block_1/attention/query/{name}"
        for name in ("bias", "kernel", "lora_a", "lora_b")
    ]
    assert [tuple(v.shape) for v in layer.trainable_weights] == [(32, 4), (4, 32)]


def test_serialization_round_trip():
    _, _, _, _, x = arrays(2)
    run_serialization_test(LoRADense(5, 2, alpha=3.0, seed=7), x.astype("float32"))


def test_bad_layers_and_options_are_refused():
    with pytest.raises(ValueError, match="build it first"):
        LoRADense.from_dense(keras.layers.Dense(4), rank=2)
    relu = keras.layers.Dense(4, activation="relu")
    relu.build((None, 4))
    with pytest.raises(ValueError, match="activation relu"):
        LoRADense.from_dense(relu, rank=2)
    keras_lora = keras.layers.Dense(4)
    keras_lora.build((None, 4))
    keras_lora.enable_lora(2)
    with pytest.raises(ValueError, match="enable_lora"):
        LoRADense.from_dense(keras_lora, rank=2)
    with pytest.raises(ValueError, match=r"rank=0 must be a positive integer"):
        LoRADense(4, 0)
    with pytest.raises(ValueError, match=r"alpha=-1"):
        LoRADense(4, 2, alpha=-1)
    with pytest.raises(ValueError, match=r"rank=5 is larger than min\(in, out\) = min\(6, 4\)"):
        LoRADense(4, 5).build((None, 6))


@pytest.mark.parametrize("targets", [("query", "value"), PROJECTIONS])
def test_apply_lora_counts_and_freezes(targets):
    model = gpt()
    before = to_numpy(model(IDS))
    n_base = len(model.weights)
    count = apply_lora(model, rank=4, targets=targets)
    assert count == 2 * len(targets) * 4 * (32 + 32)
    assert [w.path for w in model.trainable_weights] == [
        f"{model.name}/block_{i}/attention/{name}/{w}" for i in range(2) for name in targets
        for w in ("lora_a", "lora_b")
    ]  # fmt: skip
    assert len(model.weights) == n_base + 2 * 2 * len(targets)  # the old Dense weights are gone
    assert_close(model(IDS), before, atol=1e-5)  # B = 0: the pretrained model exactly


def test_apply_lora_refuses_bad_input():
    model = gpt()
    with pytest.raises(ValueError, match="query, key, value, output_projection"):
        apply_lora(model, 4, targets=("query", "mlp"))
    with pytest.raises(TypeError, match=r"\(.value.,\), not a string"):
        apply_lora(model, 4, targets="value")
    with pytest.raises(ValueError, match="empty or repeated"):
        apply_lora(model, 4, targets=("query", "query"))
    with pytest.raises(ValueError, match="expects a llm_keras GPT"):
        apply_lora(keras.Sequential([keras.layers.Dense(2)]), 4)
    with pytest.raises(ValueError, match="rank=64 is larger than"):
        apply_lora(model, 64)
    assert len(model.trainable_weights) == len(model.weights)  # a refused call changes nothing
    apply_lora(model, 4)
    with pytest.raises(ValueError, match="apply_lora once"):
        apply_lora(model, 4)


def test_training_moves_only_the_adapters_b_first():
    model = gpt()
    apply_lora(model, rank=4)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=CausalLMLoss())
    inputs, targets = IDS[:, :-1], IDS[:, 1:]
    adapters = {id(w) for w in lora_weights(model)}
    start = {w.path: to_numpy(w).copy() for w in model.weights}

    def changed():
        return {w.path for w in model.weights if not np.array_equal(to_numpy(w), start[w.path])}

    model.train_on_batch(inputs, targets)
    # dL/dA = (alpha / r) x^T g B^T is zero while B = 0: the first step moves B only.
    assert changed() == {w.path for w in model.weights if w.name == "lora_b"}
    model.train_on_batch(inputs, targets)
    assert changed() == {w.path for w in model.weights if id(w) in adapters}


def test_every_attention_path_uses_the_adapters():
    model = tuned(gpt())  # no trainable weights yet: nothing changes
    base = to_numpy(model(IDS))
    apply_lora(model, rank=4, targets=PROJECTIONS)
    full = to_numpy(tuned(model)(IDS))
    assert np.abs(full - base).max() > 0.1
    cached, _ = decode_with_cache(model.call_with_cache, IDS, model.init_cache(2, 16), 5)
    assert_close(cached, full, atol=1e-4)  # the KV-cache path
    fused = gpt(fused_attention=True)
    apply_lora(fused, rank=4, targets=PROJECTIONS)
    fused.set_weights(model.get_weights())
    assert_close(fused(IDS), full, atol=1e-4)  # keras.ops.dot_product_attention


def greedy_ids(model, prompts, n):
    """``n`` greedy ids after each prompt, one full forward pass per token (no cache, no
    compiled loop): a reference for ``generate``. The buffer keeps one shape; the causal mask
    makes the padding after position ``t`` irrelevant to the logits at ``t``."""
    buffer = np.zeros((len(prompts), CONFIG["context_length"]), "int32")
    start = prompts.shape[1]
    buffer[:, :start] = prompts
    for t in range(start, start + n):
        buffer[:, t] = np.argmax(to_numpy(model(buffer))[:, t - 1], axis=-1)
    return buffer[:, start : start + n].tolist()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="only a tf.function keeps reading the variables it was traced with (JAX passes the "
    "weights in and retraces, PyTorch runs eagerly); the KV-cache path is tested above",
)
def test_generation_compiled_before_apply_lora_sees_the_adapters():
    model = gpt()
    before = generate(model, IDS[:, :4], 6, temperature=0)  # compiles the decoding loop
    apply_lora(model, rank=4, targets=PROJECTIONS)
    expected = greedy_ids(tuned(model, seed=2), IDS[:, :4], 6)
    assert expected != before  # the adapters change the greedy ids
    assert generate(model, IDS[:, :4], 6, temperature=0) == expected


def test_merge_lora_gives_a_plain_gpt_with_the_same_outputs(tmp_path):
    model = gpt()
    n_base = len(model.weights)
    apply_lora(model, rank=4, alpha=8)
    expected = to_numpy(tuned(model)(IDS))
    assert merge_lora(model) is model
    assert not any(isinstance(getattr(b.attention, n), LoRADense)
                   for b in model.blocks for n in PROJECTIONS)  # fmt: skip
    assert len(model.weights) == n_base and model.trainable_weights == []
    assert_close(model(IDS), expected, atol=1e-5)
    model.save(tmp_path / "merged.keras")
    loaded = keras.saving.load_model(tmp_path / "merged.keras")
    assert type(loaded) is GPT
    assert_close(loaded(IDS), expected, atol=1e-5)
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_lora(model)


def test_an_unmerged_lora_gpt_saves_a_file_that_does_not_load(tmp_path):
    model = gpt()
    apply_lora(model, rank=4)
    model.save(tmp_path / "unmerged.keras")
    with pytest.raises(ValueError, match="query"):
        keras.saving.load_model(tmp_path / "unmerged.keras")


def test_adapters_saved_and_loaded_on_the_base_model(tmp_path):
    base_weights = gpt().get_weights()
    model = gpt()
    apply_lora(model, rank=4, alpha=16, targets=("query", "key", "value"))
    expected = to_numpy(tuned(model)(IDS))
    path = tmp_path / "adapter.npz"
    save_lora_weights(model, path)
    assert path.stat().st_size < 30_000  # 2 layers x 3 targets x 4 x 64 numbers, and settings

    base = gpt(seed=5)
    base.set_weights(base_weights)
    assert np.abs(to_numpy(base(IDS)) - expected).max() > 0.1
    assert load_lora_weights(base, path) is base
    assert_close(base(IDS), expected, atol=1e-5)
    assert base.blocks[0].attention.key.alpha == 16
    load_lora_weights(base, path)  # into a model with the same LoRA layers: the same
    assert_close(base(IDS), expected, atol=1e-5)


def test_loading_adapters_checks_the_file_and_the_model(tmp_path):
    model = gpt()
    apply_lora(model, rank=4)
    path = tmp_path / "adapter.npz"
    save_lora_weights(model, path)
    with pytest.raises(ValueError, match="other base weights"):
        load_lora_weights(gpt(seed=9), path)
    with pytest.raises(ValueError, match="n_layers=2, d_model=32; this model has n_layers=3"):
        load_lora_weights(gpt(n_layers=3), path)
    other_rank = gpt()
    apply_lora(other_rank, rank=2)
    with pytest.raises(ValueError, match="rank=4.*this model's LoRA layers have rank=2"):
        load_lora_weights(other_rank, path)
    with pytest.raises(FileNotFoundError, match="No adapter file"):
        load_lora_weights(gpt(), tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="must end in .npz"):
        save_lora_weights(model, tmp_path / "adapter.h5")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a LoRA adapter file"):
        load_lora_weights(gpt(), tmp_path / "other.npz")
    with pytest.raises(ValueError, match="no LoRA layers"):
        save_lora_weights(gpt(), path)


def test_keras_enable_lora_reloads_merged_with_a_and_b_zero(tmp_path):
    w, b, a, b_matrix, x = arrays(3)
    dense = keras.layers.Dense(5)
    model = keras.Sequential([keras.Input((6,)), dense])
    dense.kernel.assign(w)
    dense.bias.assign(b)
    dense.enable_lora(2, lora_alpha=8)
    dense.lora_kernel_a.assign(a)
    dense.lora_kernel_b.assign(b_matrix)
    x = x[0].astype("float32")
    expected = to_numpy(model(x))
    model.save(tmp_path / "keras_lora.keras")

    loaded = keras.saving.load_model(tmp_path / "keras_lora.keras")
    reloaded = loaded.layers[0]
    assert reloaded.lora_enabled and reloaded.lora_rank == 2
    assert reloaded.lora_alpha == 2  # alpha 8 was not kept: it came back equal to the rank
    assert np.all(to_numpy(reloaded.lora_kernel_a) == 0)
    assert np.all(to_numpy(reloaded.lora_kernel_b) == 0)
    assert_close(reloaded._kernel, w + 4.0 * a @ b_matrix, atol=1e-5)  # the merged kernel
    assert_close(loaded(x), expected, atol=1e-5)
    # With A = B = 0 neither gets a gradient: further LoRA training changes nothing but the bias.
    loaded.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    for _ in range(2):
        loaded.train_on_batch(x, np.ones((3, 5), "float32"))
    assert np.all(to_numpy(reloaded.lora_kernel_a) == 0)
    assert np.all(to_numpy(reloaded.lora_kernel_b) == 0)


def test_keras_enable_lora_in_a_gpt_reloads_as_a_plain_gpt(tmp_path):
    model = gpt()
    for block in model.blocks:
        block.attention.query.enable_lora(4)
        block.attention.query.lora_kernel_b.assign(np.full((4, 32), 0.3, "float32"))
    expected = to_numpy(model(IDS))
    model.save(tmp_path / "gpt.keras")
    loaded = keras.saving.load_model(tmp_path / "gpt.keras")
    assert not loaded.blocks[0].attention.query.lora_enabled
    assert_close(loaded(IDS), expected, atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch.nn.Module parameters")
def test_torch_parameters_follow_the_new_layers():
    model = gpt()
    apply_lora(model, rank=4)
    parameters = {id(p) for p in model.parameters()}
    assert parameters == {id(w.value) for w in model.weights}
    assert sum(p.requires_grad for p in model.parameters()) == len(model.trainable_weights) == 8
