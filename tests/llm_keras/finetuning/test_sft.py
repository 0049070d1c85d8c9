"""sft.py: the loss mask on worked examples, the masked loss against NumPy, what the gradient
ignores, and fine_tune learning a tiny task and resuming exactly."""

import itertools
import shutil

import keras
import numpy as np
import pytest

from llm_keras.finetuning.chat_template import add_chat_tokens, format_example
from llm_keras.finetuning.evaluate import complete, evaluate_task, exact_match
from llm_keras.finetuning.sft import (
    FineTuningConfig,
    MaskedCausalLMLoss,
    SeededBatches,
    SFTConfig,
    compile_for_fine_tuning,
    fine_tune,
    pad_chats,
    sft_loss_mask,
)
from llm_keras.finetuning.tasks import Example
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from llm_keras.training.gradients import value_and_gradients
from llm_keras.training.losses import CausalLMLoss
from tests.llm_keras.finetuning.tiny_runs import small_gpt
from tests.llm_keras.keras_test_case import assert_close, to_numpy
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)

LETTERS = "abcd"
USER, ASSISTANT, END = 4, 5, 6  # the chat tokens' ids after "abcd"
# TensorFlow's XLA compiles a training step in about 10 s on a CPU; the loss is under test here.
JIT = False if keras.backend.backend() == "tensorflow" else None


@pytest.fixture(scope="module")
def tokenizer():
    return add_chat_tokens(CharTokenizer(LETTERS))


# --- the mask ----------------------------------------------------------------------------------


def test_the_mask_of_the_worked_example_weighs_the_answer_and_its_end(tokenizer):
    ids, roles = format_example(tokenizer, "abc", "cba")
    assert ids == [USER, 0, 1, 2, END, ASSISTANT, 2, 1, 0, END]
    assert roles == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    weights = sft_loss_mask(ids, roles)
    # targets = ids[1:] = a b c END ASSISTANT | c b a END: the answer's 3 letters and its END.
    np.testing.assert_array_equal(weights, [0, 0, 0, 0, 0, 1, 1, 1, 1])
    assert weights.dtype == np.float32
    weighted_targets = [t for t, w in zip(ids[1:], weights, strict=True) if w]
    assert weighted_targets == [2, 1, 0, END]


def test_the_mask_of_a_batch_is_the_mask_of_each_chat(tokenizer):
    chats = [format_example(tokenizer, p, a) for p, a in (("dd", "a"), ("a", "bc"))]
    ids = np.array([c[0] for c in chats])  # both 7 tokens long
    roles = np.array([c[1] for c in chats])
    np.testing.assert_array_equal(
        sft_loss_mask(ids, roles), [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]]
    )
    # A generation prompt (no answer) has nothing to learn from.
    prompt_only = format_example(tokenizer, "abc")
    assert not sft_loss_mask(*prompt_only).any()


def test_the_mask_checks_its_input():
    with pytest.raises(ValueError, match=r"token_ids \(3,\) and roles \(2,\) must have"):
        sft_loss_mask([1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match=r"at least 2 tokens .* got shape \(1,\)"):
        sft_loss_mask([1], [0])
    with pytest.raises(ValueError, match=r"different lengths: .* \(pad_chats\)"):
        sft_loss_mask([[1, 2, 3], [1, 2]], [[0, 0, 1], [0, 1]])


def test_pad_chats_pads_on_the_right_with_weight_zero(tokenizer):
    chats = [format_example(tokenizer, "abc", "cba"), format_example(tokenizer, "d", "d")]
    inputs, targets, weights = pad_chats(chats, seq_len=12, pad_id=END)
    assert inputs.shape == targets.shape == weights.shape == (2, 12)
    assert inputs.dtype == targets.dtype == np.int32 and weights.dtype == np.float32
    np.testing.assert_array_equal(inputs[1], [USER, 3, END, ASSISTANT, 3] + [END] * 7)
    np.testing.assert_array_equal(targets[1], [3, END, ASSISTANT, 3, END] + [END] * 7)
    np.testing.assert_array_equal(weights[0], [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(weights[1], [0, 0, 0, 1, 1] + [0] * 7)
    # The ablation: every real target counts, prompt included; padding still does not.
    _, _, unmasked = pad_chats(chats, seq_len=12, pad_id=END, mask_prompt=False)
    np.testing.assert_array_equal(unmasked.sum(axis=1), [9, 5])
    np.testing.assert_array_equal(unmasked[:, :5], 1)
    assert not unmasked[1, 5:].any()
    with pytest.raises(ValueError, match=r"Chat 0 has 10 tokens, more than seq_len \+ 1 = 9"):
        pad_chats(chats, seq_len=8, pad_id=END)


# --- the masked loss ---------------------------------------------------------------------------


def numpy_masked_loss(targets, logits, weights):
    """sum(w * nll) / sum(w), in float64, written from the formula."""
    logits = logits.astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return (weights * nll).sum() / weights.sum(), nll


def test_the_masked_loss_is_the_mean_over_weighted_targets_only():
    rng = np.random.default_rng(0)
    batch, seq, vocab = 3, 8, 11
    logits = rng.normal(0, 3, (batch, seq, vocab)).astype("float32")
    targets = rng.integers(0, vocab, (batch, seq)).astype("int32")
    weights = np.zeros((batch, seq), "float32")
    weights[0, 2:7] = 1  # answers of different lengths, then padding
    weights[1, 5:6] = 1
    weights[2, 1:8] = 1
    expected, nll = numpy_masked_loss(targets, logits, weights)
    loss = MaskedCausalLMLoss()(targets, logits, sample_weight=weights)
    assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    # Keras's default reduction divides by every position (24), not by the 13 weighted targets:
    # the loss of the same answers would shrink as the padding grows.
    diluted = CausalLMLoss()(targets, logits, sample_weight=weights)
    assert_close(diluted, (weights * nll).sum() / (batch * seq), atol=1e-5, rtol=1e-5)
    assert abs(float(to_numpy(diluted)) - expected) > 0.3 * expected
    # No weight at all: loss 0, not nan.
    assert float(to_numpy(MaskedCausalLMLoss()(targets, logits, np.zeros_like(weights)))) == 0.0
    # Without weights: the plain mean of CausalLMLoss.
    assert_close(MaskedCausalLMLoss()(targets, logits), nll.mean(), atol=1e-5, rtol=1e-5)


def test_the_compiled_model_computes_the_masked_loss_of_its_logits(tokenizer):
    # The path of fit and evaluate: compile, then compute_loss with the sample weights.
    model = compile_for_fine_tuning(small_gpt(tokenizer.vocab_size), SFTConfig(),
                                    MaskedCausalLMLoss(), jit_compile=JIT)  # fmt: skip
    # (Every model call of these tests has one shape, (2, 10): JAX compiles its eager ops once.)
    chats = [format_example(tokenizer, p, p[::-1]) for p in ("abc", "d")]  # 10 and 6 tokens
    inputs, targets, weights = pad_chats(chats, seq_len=10, pad_id=END)
    logits = model(inputs)
    expected, _ = numpy_masked_loss(targets, to_numpy(logits), weights)
    loss = model.compute_loss(x=inputs, y=targets, y_pred=logits, sample_weight=weights)
    assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    # Other padding after a chat does not change its logits (causal attention).
    other_padding = pad_chats(chats, seq_len=10, pad_id=0)[0]
    assert (other_padding != inputs).sum() == 1 + 5
    moved = to_numpy(model(other_padding))
    assert_close(moved[0, :9], logits[0, :9], atol=1e-5, rtol=1e-5)
    assert_close(moved[1, :5], logits[1, :5], atol=1e-5, rtol=1e-5)
    config = MaskedCausalLMLoss().get_config()
    assert MaskedCausalLMLoss.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="reduction='sum'"):
        MaskedCausalLMLoss(reduction="sum")


def test_the_prompt_tokens_are_not_what_the_masked_loss_optimises(tokenizer):
    model = small_gpt(tokenizer.vocab_size)
    chats = [format_example(tokenizer, p, p[::-1]) for p in ("abc", "dab")]
    inputs, targets, weights = pad_chats(chats, seq_len=10, pad_id=END)

    def gradients(targets, weights, inputs=inputs):
        def loss():
            return MaskedCausalLMLoss()(targets, model(inputs), sample_weight=weights)

        return [to_numpy(g) for g in value_and_gradients(loss, model.trainable_variables)[1]]

    # Chats that are all prompt (no answer yet): no weight, and a gradient of exactly zero.
    prompts = pad_chats([format_example(tokenizer, p) for p in ("abc", "dab")], 10, END)
    assert not prompts[2].any()
    assert all(not g.any() for g in gradients(prompts[1], prompts[2], inputs=prompts[0]))
    masked = gradients(targets, weights)
    assert sum(np.abs(g).sum() for g in masked) > 1e-3
    # Any other prompt or padding targets: the same gradient, to the last bit.
    other_targets = np.where(weights > 0, targets, (targets + 1) % tokenizer.vocab_size)
    for a, b in zip(masked, gradients(other_targets, weights), strict=True):
        np.testing.assert_array_equal(a, b)
    # The ablation's gradient is another one.
    _, _, unmasked = pad_chats(chats, 10, END, mask_prompt=False)
    difference = sum(np.abs(a - b).sum() for a, b in zip(masked, gradients(targets, unmasked),
                                                           strict=True))  # fmt: skip
    assert difference > 1e-3


# --- SFTConfig and fine_tune -------------------------------------------------------------------


def test_sft_config_checks_its_fields_and_round_trips():
    config = SFTConfig(steps=200, eval_interval=50, mask_prompt=False, seq_len=12)
    assert SFTConfig.from_dict(config.to_dict()) == config
    assert config.training_config().schedule()(0) is not None
    for fields, message in (
        (dict(steps=250, eval_interval=100), r"steps=250 is not a multiple of eval_interval=100"),
        (dict(mask_prompt="yes"), r"mask_prompt must be True or False, got mask_prompt='yes'"),
        (dict(learning_rate=-1.0), r"learning_rate must be a number >= 0"),
        (dict(seq_len=0), r"seq_len must be a positive integer or None"),
        (dict(batch_size=0), r"batch_size must be an integer >= 1"),
    ):
        with pytest.raises(ValueError, match=message):
            SFTConfig(**fields)


def test_seeded_batches_draw_the_rows_of_each_step_from_its_seed_alone():
    """A run resumed at step 3 sees the batches of steps 3.. the uninterrupted run saw; every
    array of a batch, nested in a dict or not, holds the same rows, each row once."""
    rows = np.arange(20)
    data = ({"ids": np.stack([rows, -rows], axis=1), "lengths": rows * 10}, rows.astype("float32"))
    whole = SeededBatches(data, 8, seed=7, num_steps=6)
    resumed = SeededBatches(data, 8, seed=7, start_step=3, num_steps=3)
    assert len(whole) == 6 and len(resumed) == 3
    for step in range(6):
        inputs, targets = whole[step]
        drawn = targets.astype(int)
        assert sorted(set(drawn)) == sorted(drawn) and len(drawn) == 8  # no row twice
        np.testing.assert_array_equal(inputs["ids"], np.stack([drawn, -drawn], axis=1))
        np.testing.assert_array_equal(inputs["lengths"], drawn * 10)
        if step >= 3:
            np.testing.assert_array_equal(resumed[step - 3][1], targets)
    assert not np.array_equal(whole[0][1], whole[1][1])  # each step its own rows
    other_seed = SeededBatches(data, 8, seed=8, num_steps=1)
    assert not np.array_equal(other_seed[0][1], whole[0][1])
    with pytest.raises(IndexError):
        whole[6]
    with pytest.raises(ValueError, match="batch_size=21 is larger than the 20 training examples"):
        SeededBatches(data, 21, seed=0)
    with pytest.raises(ValueError, match=r"different numbers of rows, \[19, 20\]"):
        SeededBatches((rows, rows[:-1]), 4, seed=0)


def test_compile_for_fine_tuning_uses_the_optimizer_its_settings_describe(tokenizer):
    """AdamW with these settings' decay rates, weight decay and clipping, at the learning rate of
    nanoGPT's schedule (written out here): linear warm-up to the peak, cosine decay to the floor
    at ``steps``. The reward model's and DPO's settings extend these (their own tests)."""
    config = SFTConfig(steps=100, eval_interval=50, learning_rate=2e-3, min_learning_rate=2e-4,
                       warmup_steps=10, weight_decay=0.05, beta_1=0.8, beta_2=0.95,
                       grad_clip=0.5, steps_per_execution=5)  # fmt: skip
    assert isinstance(config, FineTuningConfig)
    model = compile_for_fine_tuning(small_gpt(tokenizer.vocab_size), config, MaskedCausalLMLoss(),
                                    jit_compile=JIT)  # fmt: skip
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert isinstance(model.loss, MaskedCausalLMLoss)
    assert (optimizer.weight_decay, optimizer.beta_1, optimizer.beta_2, optimizer.global_clipnorm
            ) == (0.05, 0.8, 0.95, 0.5)  # fmt: skip
    backend = keras.backend.backend()
    assert model.steps_per_execution == (1 if backend == "torch" else 5)

    def expected(step):
        if step < 10:
            return 2e-3 * (step + 1) / 11
        progress = min((step - 10) / (100 - 10), 1.0)
        return 2e-4 + 0.5 * (1 + np.cos(np.pi * progress)) * (2e-3 - 2e-4)

    for step in (0, 9, 10, 55, 100, 150):
        optimizer.iterations.assign(step)
        assert float(to_numpy(optimizer.learning_rate)) == pytest.approx(expected(step), rel=1e-5)


def reverse_examples():
    """All 64 words of 3 letters from "abcd" and their reverses: 48 to train, 16 held out."""
    words = ["".join(w) for w in itertools.product(LETTERS, repeat=3)]
    np.random.default_rng(0).shuffle(words)
    examples = [Example(w, w[::-1]) for w in words]
    return examples[:48], examples[48:]


CONFIG = SFTConfig(steps=300, batch_size=16, learning_rate=3e-3, warmup_steps=10,
                   eval_interval=150)  # fmt: skip


class HeldOut:
    """A task of fixed examples (``evaluate_task`` reads ``name`` and ``examples``)."""

    name = "reverse-abcd"

    def __init__(self, examples):
        self._examples = examples

    def examples(self, n, split="test", seed=0):
        return self._examples[:n]


@pytest.fixture(scope="module")
def reverse_run(tokenizer, tmp_path_factory):
    """A tiny GPT fine-tuned from scratch to reverse 3 letters, with its run directory."""
    train, test = reverse_examples()
    model = small_gpt(tokenizer.vocab_size)
    before = complete(model, tokenizer, [e.prompt for e in test], 4)
    out = tmp_path_factory.mktemp("sft") / "whole"
    history = fine_tune(model, tokenizer, train, CONFIG, out=out, verbose=0, jit_compile=JIT)
    return dict(model=model, out=out, history=history, before=before, test=test)


def test_fine_tune_learns_to_reverse_held_out_words(tokenizer, reverse_run):
    test = reverse_run["test"]
    references = [e.answer for e in test]
    assert exact_match(reverse_run["before"], references) == 0.0
    result = evaluate_task(reverse_run["model"], tokenizer, HeldOut(test), n=16)
    # Measured: 16/16 on every backend (the answers end with the end token: exact).
    assert result["n"] == 16 and result["exact_match"] >= 0.9
    assert all(r[1] == r[2] for r in result["rows"] if r[3])
    losses = [r["train_loss"] for r in reverse_run["history"].evaluations]
    assert losses[0] > 5 * losses[-1] and losses[-1] < 0.05


def test_an_interrupted_run_resumes_from_its_checkpoint_step(tokenizer, reverse_run, tmp_path,
                                                             capsys):  # fmt: skip
    whole = reverse_run["out"]
    assert [p.name for p in list_checkpoints(whole)] == ["step-00000150.npz", "step-00000300.npz"]
    # The run as it would be had it stopped after step 150.
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut)
    for later in list_checkpoints(cut)[1:]:
        later.unlink()
    train, _ = reverse_examples()
    capsys.readouterr()
    history = fine_tune(small_gpt(tokenizer.vocab_size, seed=9), tokenizer, train, CONFIG,
                        out=cut, resume=True, verbose=0, jit_compile=JIT)  # fmt: skip
    assert "Resuming from step 150 (step-00000150.npz)." in capsys.readouterr().out
    uninterrupted = reverse_run["history"].evaluations
    assert [r["step"] for r in history.evaluations] == [150, 300]
    assert [r["train_loss"] for r in history.evaluations] == [
        r["train_loss"] for r in uninterrupted]  # fmt: skip
    a, b = np.load(latest_checkpoint(whole)), np.load(latest_checkpoint(cut))
    for name in a.files:
        if name != "state":
            np.testing.assert_array_equal(a[name], b[name])
    # Other settings do not resume the run.
    with pytest.raises(ValueError, match="other settings"):
        fine_tune(small_gpt(tokenizer.vocab_size), tokenizer, train,
                  SFTConfig(**{**CONFIG.to_dict(), "mask_prompt": False}), out=cut, resume=True,
                  verbose=0, jit_compile=JIT)  # fmt: skip


def test_fine_tune_refuses_a_model_without_the_chat_tokens(tokenizer):
    train, _ = reverse_examples()
    with pytest.raises(ValueError, match=r"grow the model's vocabulary first \(grow_vocabulary"):
        fine_tune(small_gpt(4), tokenizer, train, CONFIG, verbose=0)
    long = [Example("abcd" * 3, "dcba" * 3)]  # 28 tokens, context 16
    with pytest.raises(ValueError, match=r"seq_len=27 .* context_length=16"):
        fine_tune(small_gpt(tokenizer.vocab_size), tokenizer, long, CONFIG, verbose=0)
