"""train(): the loss goes down, checkpoints resume exactly, NaN stops, precision policies train."""

import shutil

import keras
import numpy as np
import pytest

from llm_keras.training.checkpoint import (
    DamagedCheckpoint,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    restore_checkpoint,
)
from llm_keras.training.nan_guard import TrainingDiverged
from llm_keras.training.sample_text import SampleText
from llm_keras.training.trainer import TrainingConfig, compile_for_training, train
from tests.llm_keras.keras_test_case import to_numpy
from tests.llm_keras.training.conftest import tiny_gpt

SMALL = {"batch_size": 8, "eval_interval": 20, "eval_batches": 2, "warmup_steps": 5,
         "sample_tokens": 0}  # fmt: skip


def tiny_run(config, seed=0, **model_overrides):
    model = tiny_gpt(seed, **model_overrides)
    return compile_for_training(model, config)


def test_loss_falls_below_a_bound_on_a_repetitive_corpus(tmp_path):
    # "abcdefgh" again and again, with gradient accumulation and a sample at each evaluation.
    ids = np.tile(np.arange(8, dtype=np.int32), 300)
    config = TrainingConfig(steps=60, learning_rate=1e-2, min_learning_rate=1e-3,
                            gradient_accumulation_steps=2, **SMALL)  # fmt: skip
    model = tiny_run(config)
    calls = []

    def fake_generate(model, prompt_ids, max_new_tokens, **options):
        calls.append((prompt_ids, max_new_tokens, options))
        return [0] * max_new_tokens

    from llm_keras.tokenizers import CharTokenizer

    sampler = SampleText(CharTokenizer("\nab"), "ab", 3, path=tmp_path / "s.txt",
                         generate=fake_generate, print_fn=None)  # fmt: skip
    history = train(model, ids[:2000], ids[2000:], config, verbose=0, callbacks=[sampler])

    val_losses = [r["val_loss"] for r in history.evaluations]
    assert [r["step"] for r in history.evaluations] == [40, 80, 120]  # micro-batches
    assert int(to_numpy(model.optimizer.iterations)) == 60  # optimizer steps
    assert val_losses[-1] < 0.05 < np.log(65)  # untrained: about log(65) = 4.17
    assert history.train[0][1] > 3.0 and history.train[-1][1] < 0.1
    assert calls == [([1, 2], 3, {"temperature": 0.8, "top_k": 200, "seed": 0})] * 3
    assert sampler.samples == ["ab\n\n\n"] * 3
    assert (tmp_path / "s.txt").read_text().count("--- sample after step") == 3


class StopAfterEpochs(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


# The resume tests share two runs of the same 60 steps: the uninterrupted one, and one stopped
# after its second interval (step 40), which each test copies before resuming or damaging it.
RESUMABLE = TrainingConfig(steps=60, keep_checkpoints=5, **SMALL)


@pytest.fixture(scope="module")
def split_ids(small_ids):
    return small_ids[:18_000], small_ids[18_000:]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, split_ids):
    """The history and run directory of the 60 steps run at once."""
    directory = tmp_path_factory.mktemp("whole")
    return train(tiny_run(RESUMABLE), *split_ids, RESUMABLE, directory, verbose=0), directory


@pytest.fixture(scope="module")
def stopped_at_40(tmp_path_factory, split_ids):
    """The run directory of the same run stopped after step 40."""
    directory = tmp_path_factory.mktemp("cut")
    train(tiny_run(RESUMABLE), *split_ids, RESUMABLE, directory, verbose=0,
          callbacks=[StopAfterEpochs(2)])  # fmt: skip
    return directory


def test_resuming_from_a_checkpoint_repeats_the_uninterrupted_run(
    tmp_path, split_ids, uninterrupted, stopped_at_40
):
    whole, whole_directory = uninterrupted
    # The run that stopped after its second interval, resumed by a new model.
    cut = shutil.copytree(stopped_at_40, tmp_path / "cut")
    assert [p.name for p in list_checkpoints(cut)] == ["step-00000020.npz", "step-00000040.npz"]
    resumed = train(tiny_run(RESUMABLE, seed=99), *split_ids, RESUMABLE, cut, resume=True,
                    verbose=0)  # fmt: skip

    assert resumed.evaluations == [
        {**r, "train_seconds": s["train_seconds"], "tokens_per_second": s["tokens_per_second"]}
        for r, s in zip(whole.evaluations, resumed.evaluations, strict=True)
    ]  # the same losses at every evaluation: bit for bit
    a = np.load(latest_checkpoint(whole_directory))
    b = np.load(latest_checkpoint(cut))
    assert a.files == b.files and latest_checkpoint(cut).name == "step-00000060.npz"
    for name in a.files:
        if name != "state":
            np.testing.assert_array_equal(a[name], b[name])
    # A checkpoint does not load into a model of another configuration.
    with pytest.raises(ValueError, match="another model configuration"):
        restore_checkpoint(latest_checkpoint(whole_directory), tiny_run(RESUMABLE, d_model=16))


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    else:  # one byte of the first weight array flipped, the zip left readable but its CRC wrong
        index = data.index(b"model_00000.npy") + 200
        path.write_bytes(data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :])


@pytest.mark.parametrize("how", ["truncated", "emptied", "flipped"])
def test_resume_sets_a_damaged_checkpoint_aside_and_goes_on_from_the_newest_intact(
    tmp_path, split_ids, uninterrupted, stopped_at_40, how, capsys
):
    whole, _ = uninterrupted
    cut = shutil.copytree(stopped_at_40, tmp_path / "cut")
    newest = latest_checkpoint(cut)
    assert newest.name == "step-00000040.npz"
    _damage(newest, how)
    with pytest.raises(DamagedCheckpoint, match="step-00000040.npz is damaged"):
        read_checkpoint(newest)

    capsys.readouterr()
    resumed = train(
        tiny_run(RESUMABLE, seed=99), *split_ids, RESUMABLE, cut, resume=True, verbose=0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"Checkpoint {newest} is damaged (")
    assert lines[1] == "Resuming from step 20 (step-00000020.npz)."
    assert (cut / "checkpoints" / "step-00000040.npz.damaged").is_file()
    # from step 20 the resumed run repeats the uninterrupted one exactly
    assert [r["val_loss"] for r in resumed.evaluations] == [
        r["val_loss"] for r in whole.evaluations
    ]


def test_a_checkpoint_whose_arrays_changed_fails_its_checksum(tmp_path, stopped_at_40):
    path = latest_checkpoint(shutil.copytree(stopped_at_40, tmp_path / "cut"))
    arrays, state = read_checkpoint(path)
    arrays["model_00000"] = arrays["model_00000"] + 1.0  # rewritten whole: zip and CRCs valid
    np.savez(path, state=np.array(__import__("json").dumps(state)), **arrays)
    with pytest.raises(DamagedCheckpoint, match="differ from the SHA-256"):
        read_checkpoint(path)


def test_nan_guard_stops_at_the_first_non_finite_step(tmp_path, small_ids):
    config = TrainingConfig(steps=20, learning_rate=1e30, min_learning_rate=0, grad_clip=0,
                            **SMALL)  # fmt: skip
    record = StepLosses()
    with pytest.raises(TrainingDiverged) as error:
        train(tiny_run(config), small_ids[:18_000], small_ids[18_000:], config, tmp_path,
              verbose=0, callbacks=[record])  # fmt: skip
    # The guard runs before later callbacks: they saw only the finite steps before it.
    first_bad = len(record.losses) + 1
    assert 2 <= first_bad <= 4 and np.isfinite(record.losses).all()
    assert f"at step {first_bad} " in str(error.value)
    assert "lower the learning rate" in str(error.value) and "clip the gradients" in str(
        error.value
    )
    assert list_checkpoints(tmp_path) == []  # nothing broken was saved


class StepLosses(keras.callbacks.Callback):
    """The running mean of the loss that Keras reports after each step."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_weights(policy, small_ids):
    if keras.backend.backend() == "torch":
        # keras-hub's rule: "Never test mixed precision on torch CPU" (a 20-step bfloat16 run
        # takes minutes there; float16 matrix products are not implemented).
        pytest.skip("mixed precision on PyTorch's CPU is too slow to test")
    config = TrainingConfig(steps=20, dtype_policy=policy, learning_rate=1e-2, **SMALL)
    keras.utils.set_random_seed(0)
    from llm_keras.models import GPT

    model = GPT(tiny_gpt().config, dtype=policy)
    # TensorFlow's XLA takes about a minute to compile a mixed-precision step on a CPU; the
    # policy, not XLA, is under test here.
    compile_for_training(model, config, jit_compile=keras.backend.backend() != "tensorflow")
    history = train(model, small_ids[:18_000], small_ids[18_000:], config, verbose=0)
    assert history.evaluations[-1]["val_loss"] < 3.6 < np.log(65)
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")  # float16 needs loss scaling, bfloat16 not


def test_the_loss_curve_is_drawn_without_switching_the_plotting_backend(tmp_path):
    # A notebook's inline plots stopped after train() switched the process to Agg.
    import matplotlib

    from llm_keras.training.history import plot_loss_curve

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        state = {"train": [(1, 4.0), (2, 3.0)], "evaluations": [{"step": 2, "val_loss": 3.2}]}
        plot_loss_curve(state, tmp_path / "curve.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_fused_loss_metrics_and_optimizer_train_to_the_same_weights():
    """``compile_for_training(fused=True)`` (``CausalLMLoss(fused=True)``, fused metrics,
    ``FusedAdamW``; the default on PyTorch) trains to the weights of the written-out loss and
    Keras's ``AdamW``, on every backend, and reports the same loss."""
    from llm_keras.training.fused_adamw import FusedAdamW

    config = TrainingConfig(steps=4, batch_size=3, eval_interval=4, warmup_steps=1,
                            learning_rate=1e-2, sample_tokens=0)  # fmt: skip
    rng = np.random.default_rng(0)
    context = tiny_gpt(0).config.context_length
    ids = rng.integers(0, 65, (12, context + 1)).astype("int32")
    trained, losses = [], []
    for fused in (False, True):
        model = compile_for_training(tiny_gpt(0), config, fused=fused)
        assert isinstance(model.optimizer, FusedAdamW) == fused
        history = model.fit(ids[:, :-1], ids[:, 1:], batch_size=3, epochs=1, shuffle=False,
                            verbose=0)  # fmt: skip
        losses.append(history.history["loss"][-1])
        trained.append([keras.ops.convert_to_numpy(v) for v in model.trainable_variables])
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    initial = [keras.ops.convert_to_numpy(v) for v in tiny_gpt(0).trainable_variables]
    assert max(np.abs(a - b).max() for a, b in zip(trained[0], initial, strict=True)) > 1e-3
    # (atol: a weight whose gradient is float32 rounding noise, about 1e-9, moves by a few
    # 1e-6 either way: Adam divides the noise by its own size; lr is 1e-2)
    for got, expected in zip(trained[1], trained[0], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    default = compile_for_training(tiny_gpt(0), config)
    assert isinstance(default.optimizer, FusedAdamW) == (keras.backend.backend() == "torch")
