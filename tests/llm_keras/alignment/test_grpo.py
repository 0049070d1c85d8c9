"""grpo.py: the advantages, the k3 KL and the clipped policy loss against NumPy written from the
formulas (the clip on the right side of each advantage, padding, per-completion means, the KL
term), the batch a step samples, and train_grpo on a tiny model: finite records, the reward of
a letter rising, and a resumed run equal to the uninterrupted one."""

import itertools
import math
import shutil

import keras
import numpy as np
import pytest

from llm_keras.alignment.grpo import (
    GRPOConfig,
    GRPOModel,
    clipped_policy_loss,
    group_advantages,
    k3_kl,
    sample_batch,
    sequence_policy_losses,
    train_grpo,
)
from llm_keras.alignment.rewards import parse_completion
from llm_keras.finetuning.chat_template import add_chat_tokens
from llm_keras.finetuning.sft import compile_for_fine_tuning
from llm_keras.finetuning.tasks import Example
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from llm_keras.training.gradients import value_and_gradients
from tests.llm_keras.finetuning import tiny_runs
from tests.llm_keras.keras_test_case import assert_close, to_numpy
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)

# --- NumPy, written from the formulas ----------------------------------------------------------


def numpy_advantages(rewards, group_size, scale=True, epsilon=1e-4):
    """(r - mean) / (std + epsilon) per group, std with Bessel's correction (n - 1)."""
    result = []
    for start in range(0, len(rewards), group_size):
        group = [float(r) for r in rewards[start : start + group_size]]
        mean = sum(group) / len(group)
        std = math.sqrt(sum((r - mean) ** 2 for r in group) / (len(group) - 1))
        result += [(r - mean) / (std + epsilon) if scale else r - mean for r in group]
    return np.array(result)


def numpy_k3(log_probs, ref_log_probs):
    d = np.asarray(ref_log_probs, np.float64) - np.asarray(log_probs, np.float64)
    return np.exp(d) - d - 1


def numpy_policy_loss(log_probs, old, advantages, mask, epsilon=0.2, ref=None, beta=0.0):
    """Per completion: the mean over its masked tokens of -min(r A, clip(r) A) + beta k3; then
    the mean over completions. Only masked positions are read."""
    losses = []
    for row in range(len(mask)):
        kept = np.asarray(mask[row]) > 0
        ratio = np.exp(np.float64(log_probs[row][kept]) - old[row][kept])
        a = float(advantages[row])
        per_token = -np.minimum(ratio * a, np.clip(ratio, 1 - epsilon, 1 + epsilon) * a)
        if beta:
            per_token = per_token + beta * numpy_k3(log_probs[row][kept], ref[row][kept])
        losses.append(per_token.mean() if kept.any() else 0.0)
    return np.mean(losses), np.array(losses)


# --- group_advantages --------------------------------------------------------------------------


def test_group_advantages_match_numpy_with_bessels_correction():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=15)
    for scale in (True, False):
        np.testing.assert_allclose(
            group_advantages(rewards, 5, scale=scale), numpy_advantages(rewards, 5, scale),
            rtol=1e-6, atol=1e-6,
        )  # fmt: skip
    # Two completions, one right: mean 0.5, std sqrt(0.5) with n - 1 (0.5 with n: +-0.9998).
    np.testing.assert_allclose(group_advantages([1, 0], 2), [0.70700, -0.70700], atol=1e-5)
    np.testing.assert_allclose(group_advantages([1, 0], 2, epsilon=0.5), [0.4142, -0.4142],
                               atol=1e-4)  # fmt: skip
    assert group_advantages(rewards, 5).dtype == np.float32


def test_a_group_of_equal_rewards_has_no_advantage():
    rewards = [0.1] * 8 + [1, 0, 0, 0, 1, 1, 0, 1]
    advantages = group_advantages(rewards, 8)
    assert (advantages[:8] == 0).all()  # exactly: mean(0.1 * 8) is not exactly 0.1
    np.testing.assert_allclose(advantages[8:], numpy_advantages(rewards[8:], 8), atol=1e-6)
    assert (group_advantages([3.0] * 4, 4, scale=False) == 0).all()


def test_group_advantages_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"group_size=1 must be an integer >= 2"):
        group_advantages([1.0, 0.0], 1)
    with pytest.raises(ValueError, match=r"shape \(5,\) are not groups of 2"):
        group_advantages(np.zeros(5), 2)


# --- k3_kl -------------------------------------------------------------------------------------


def test_k3_kl_matches_numpy_is_zero_when_equal_and_never_negative():
    rng = np.random.default_rng(1)
    log_probs = rng.uniform(-8, 0, (4, 9)).astype("float32")
    ref = rng.uniform(-8, 0, (4, 9)).astype("float32")
    assert_close(k3_kl(log_probs, ref), numpy_k3(log_probs, ref), rtol=1e-5, atol=1e-5)
    assert (to_numpy(k3_kl(log_probs, log_probs)) == 0).all()
    # Differences from 1e-7 to 20 nats, both signs, and log-probs far from 0: >= 0 and finite.
    d = np.concatenate([[1e-7, 1e-4, 1e-2, 1.0, 5.0, 20.0]] * 2) * np.repeat([1, -1], 6)
    log_probs = np.full_like(d, -300.0).astype("float32")
    ref = (log_probs + d).astype("float32")  # (1e-7 is lost next to 300 in float32: d = 0)
    kl = to_numpy(k3_kl(log_probs, ref))
    assert np.isfinite(kl).all() and (kl >= 0).all()
    np.testing.assert_allclose(kl, numpy_k3(log_probs, ref), rtol=1e-4, atol=1e-12)


# --- the clipped policy loss -------------------------------------------------------------------


def test_the_ratio_is_clipped_on_the_side_the_advantage_pushes():
    epsilon = 0.2
    # One token per completion: (ratio, advantage) -> -min(r A, clip(r) A).
    cases = [
        (1.5, 1.0, -1.2),  # A > 0, ratio above 1 + eps: clipped to 1.2
        (0.5, 1.0, -0.5),  # A > 0, ratio below 1 - eps: not clipped (clipping: -0.8)
        (0.5, -1.0, 0.8),  # A < 0, ratio below 1 - eps: clipped to 0.8
        (1.5, -1.0, 1.5),
    ]  # A < 0, ratio above 1 + eps: not clipped (clipping: 1.2)
    ratio, advantages, expected = (np.array(c, "float32") for c in zip(*cases, strict=True))
    old = np.full((4, 1), -2.0, "float32")
    log_probs = old + np.log(ratio)[:, None]
    mask = np.ones((4, 1), "float32")
    per_completion = sequence_policy_losses(log_probs, old, advantages, mask, epsilon)
    assert_close(per_completion, expected, atol=1e-5, rtol=1e-5)
    assert_close(clipped_policy_loss(log_probs, old, advantages, mask, epsilon), 0.15,
                 atol=1e-5, rtol=1e-5)  # fmt: skip

    # The gradient: 0 where clipped, -A * ratio / batch where not (d ratio / d logp = ratio).
    variable = keras.Variable(log_probs)
    _, (gradient,) = value_and_gradients(
        lambda: clipped_policy_loss(variable, old, advantages, mask, epsilon), [variable]
    )
    np.testing.assert_allclose(to_numpy(gradient)[:, 0], [0.0, -0.5 / 4, 0.0, 1.5 / 4],
                               atol=1e-6)  # fmt: skip


def test_the_policy_loss_matches_numpy_on_random_batches():
    rng = np.random.default_rng(2)
    batch, seq = 6, 11
    old = rng.uniform(-6, 0, (batch, seq)).astype("float32")
    log_probs = (old + rng.normal(0, 0.3, (batch, seq))).astype("float32")  # ratios ~ 0.5..2
    ref = (old + rng.normal(0, 0.3, (batch, seq))).astype("float32")
    advantages = rng.normal(size=batch).astype("float32")
    mask = np.zeros((batch, seq), "float32")
    for row, (start, stop) in enumerate([(2, 5), (4, 11), (1, 2), (3, 9), (0, 11), (5, 6)]):
        mask[row, start:stop] = 1
    for epsilon, beta in ((0.2, 0.0), (0.1, 0.04), (0.3, 1.0)):
        expected, _ = numpy_policy_loss(log_probs, old, advantages, mask, epsilon, ref, beta)
        loss = clipped_policy_loss(log_probs, old, advantages, mask, epsilon, ref, beta)
        assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    # Log-probs far from 0 (a long, unlikely response): only their differences matter.
    shifted = clipped_policy_loss(log_probs - 400, old - 400, advantages, mask, 0.2, ref - 400,
                                  0.04)  # fmt: skip
    assert_close(shifted, numpy_policy_loss(log_probs, old, advantages, mask, 0.2, ref, 0.04)[0],
                 atol=1e-3, rtol=1e-3)  # fmt: skip


def test_padding_is_ignored_and_each_completion_weighs_the_same():
    # Completion 0: 1 token; completion 1: 7 tokens; then padding. Ratio 1 everywhere.
    mask = np.zeros((2, 9), "float32")
    mask[0, 1], mask[1, 1:8] = 1, 1
    log_probs = np.full((2, 9), -1.0, "float32")
    advantages = np.array([2.0, -1.0], "float32")
    loss = clipped_policy_loss(log_probs, log_probs, advantages, mask)
    # The mean of the completions' means, (-2 + 1) / 2, not the mean over tokens (-2 + 7) / 8.
    assert_close(loss, -0.5, atol=1e-6, rtol=1e-6)
    # Any values at the masked positions (prompt, padding), large ones included: the same loss.
    noise = np.where(mask > 0, 0.0, 30.0).astype("float32")
    moved = clipped_policy_loss(log_probs + noise, log_probs - noise, advantages, mask,
                                ref_log_probs=log_probs - 2 * noise, beta=0.5)  # fmt: skip
    assert_close(moved, -0.5, atol=1e-6, rtol=1e-6)
    # A completion with no token at all counts as 0 (no nan).
    assert_close(sequence_policy_losses(log_probs, log_probs, advantages, 0 * mask), [0.0, 0.0])


def test_the_kl_term_adds_beta_times_the_mean_k3_per_completion():
    rng = np.random.default_rng(3)
    log_probs = rng.uniform(-3, 0, (3, 5)).astype("float32")
    ref = rng.uniform(-3, 0, (3, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0]], "float32")
    advantages = np.array([1.0, -0.5, 0.25], "float32")
    without = clipped_policy_loss(log_probs, log_probs, advantages, mask)
    with_kl = clipped_policy_loss(log_probs, log_probs, advantages, mask, ref_log_probs=ref,
                                  beta=0.04)  # fmt: skip
    k3 = numpy_k3(log_probs, ref)
    kl = np.mean([k3[r][mask[r] > 0].mean() for r in range(3)])
    assert_close(with_kl - without, 0.04 * kl, atol=1e-6, rtol=1e-5)
    assert 0.04 * kl > 1e-3
    with pytest.raises(ValueError, match=r"beta=0.04 needs the reference's log-probs"):
        clipped_policy_loss(log_probs, log_probs, advantages, mask, beta=0.04)


# --- GRPOModel and GRPOConfig ------------------------------------------------------------------

LETTERS = "abcd"


@pytest.fixture(scope="module")
def tokenizer():
    return add_chat_tokens(CharTokenizer(LETTERS))


def small_gpt(vocab_size, seed=0):
    return tiny_runs.small_gpt(vocab_size, seed, dropout=0.1)  # (the policy runs without it)


def numpy_log_probs(logits, targets):
    logits = logits.astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_softmax = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
    return np.take_along_axis(log_softmax, targets[..., None], axis=-1)[..., 0]


def test_the_grpo_model_computes_the_loss_of_its_temperature_log_probs(tokenizer):
    policy = small_gpt(tokenizer.vocab_size)
    model = GRPOModel(policy, epsilon=0.2, beta=0.1, temperature=0.7)
    rng = np.random.default_rng(4)
    inputs = rng.integers(0, tokenizer.vocab_size, (3, 8)).astype("int32")
    targets = rng.integers(0, tokenizer.vocab_size, (3, 8)).astype("int32")
    log_probs = model({"inputs": inputs, "targets": targets})
    # Dropout is off (the policy has dropout 0.1): the log-probs of logits / temperature.
    expected = numpy_log_probs(to_numpy(policy(inputs, training=False)) / 0.7, targets)
    assert_close(log_probs, expected, atol=1e-5, rtol=1e-5)
    assert_close(model({"inputs": inputs, "targets": targets}, training=True), expected,
                 atol=1e-5, rtol=1e-5)  # fmt: skip
    y = {"mask": (rng.uniform(size=(3, 8)) > 0.3).astype("float32"),
         "advantages": np.array([1.0, -1.0, 0.5], "float32"),
         "old_log_probs": (expected + rng.normal(0, 0.2, (3, 8))).astype("float32"),
         "ref_log_probs": (expected + rng.normal(0, 0.2, (3, 8))).astype("float32")}  # fmt: skip
    loss = model.compute_loss(y=y, y_pred=log_probs)
    reference, _ = numpy_policy_loss(expected, y["old_log_probs"], y["advantages"], y["mask"],
                                     0.2, y["ref_log_probs"], 0.1)  # fmt: skip
    assert_close(loss, reference, atol=1e-5, rtol=1e-5)
    config = model.get_config()
    revived = GRPOModel.from_config(config)
    assert revived.get_config() == config
    assert (revived.epsilon, revived.beta, revived.temperature) == (0.2, 0.1, 0.7)


def test_without_old_log_probs_the_loss_is_reinforce_of_the_policy_itself(tokenizer):
    """One update per batch: no "old_log_probs" in y, the ratio is 1 (TRL's detach), and the
    gradient REINFORCE's, -A_r * mask / (tokens of r) / batch at each position; no
    "ref_log_probs" with beta = 0."""
    model = GRPOModel(small_gpt(tokenizer.vocab_size), epsilon=0.2, beta=0.0)
    rng = np.random.default_rng(5)
    log_probs = rng.uniform(-4, 0, (3, 6)).astype("float32")
    mask = np.array([[0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1]], "float32")
    advantages = np.array([1.5, -0.5, 0.25], "float32")
    variable = keras.Variable(log_probs)
    loss, (gradient,) = value_and_gradients(
        lambda: model.compute_loss(y={"mask": mask, "advantages": advantages},
                                   y_pred=variable), [variable]
    )  # fmt: skip
    expected, _ = numpy_policy_loss(log_probs, log_probs, advantages, mask)
    assert_close(loss, expected, atol=1e-6)
    np.testing.assert_allclose(to_numpy(gradient),
                               -advantages[:, None] * mask / mask.sum(axis=1, keepdims=True) / 3,
                               atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match=r"beta=0.04 needs the reference's log-probs"):
        GRPOModel(model.policy, beta=0.04).compute_loss(
            y={"mask": mask, "advantages": advantages}, y_pred=variable)


def test_grpo_config_checks_its_fields_and_round_trips():
    config = GRPOConfig(group_size=4, steps=20, eval_interval=10, beta=0.04, max_new_tokens=5)
    assert GRPOConfig.from_dict(config.to_dict()) == config
    for fields, message in (
        (dict(group_size=1), r"group_size must be an integer >= 2, got group_size=1"),
        (dict(steps=30, eval_interval=20), r"steps=30 is not a multiple of eval_interval=20"),
        (dict(epsilon=1.5), r"epsilon=1.5 must be below 1"),
        (dict(epsilon=0.0), r"epsilon must be a number > 0"),
        (dict(beta=-0.1), r"beta must be a number >= 0"),
        (dict(temperature=0), r"temperature must be a number > 0"),
        (dict(max_new_tokens=0), r"max_new_tokens must be an integer >= 1"),
        (dict(scale_rewards="no"), r"scale_rewards must be True or False"),
    ):
        with pytest.raises(ValueError, match=message):
            GRPOConfig(**fields)


def test_grpo_compiles_with_adamw_at_a_constant_learning_rate(tokenizer):
    """compile_for_fine_tuning, the compile of every stage, with GRPO's optimizer: no warm-up,
    no decay, Adam's default decay rates; the loss is GRPOModel's own compute_loss."""
    config = GRPOConfig(learning_rate=3e-3, weight_decay=0.01, grad_clip=0.5)
    model = compile_for_fine_tuning(GRPOModel(small_gpt(tokenizer.vocab_size)), config)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW) and model.loss is None
    assert (optimizer.weight_decay, optimizer.beta_1, optimizer.beta_2, optimizer.global_clipnorm
            ) == (0.01, 0.9, 0.99, 0.5)  # fmt: skip
    for step in (0, 50, 10_000):
        optimizer.iterations.assign(step)
        assert float(to_numpy(optimizer.learning_rate)) == pytest.approx(3e-3, rel=1e-6)
    assert "steps_per_execution" not in config.to_dict()  # not a setting of a GRPO run


# --- sampling and training ---------------------------------------------------------------------


class ReverseABCD:
    """Reversing 3 letters of "abcd": 64 prompts, every fourth held out (16 test, 48 train)."""

    name = "reverse-abcd"
    words = ["".join(w) for w in itertools.product(LETTERS, repeat=3)]

    def examples(self, n, split="train", seed=0):
        pool = [w for i, w in enumerate(self.words) if (i % 4 == 0) == (split == "test")]
        rows = np.random.default_rng(seed).choice(len(pool), n, replace=False)
        return [Example(pool[i], pool[i][::-1]) for i in rows]

    def check(self, prompt, answer):
        return answer == prompt[::-1]


def first_letter_a(prompts, completions):
    """1 when the answer starts with "a": a habit a tiny model picks up in a few steps."""
    return np.array([parse_completion(c)[0].startswith("a") for c in completions], "float32")


CONFIG = GRPOConfig(group_size=4, prompts_per_step=4, steps=8, eval_interval=4, eval_n=16,
                    learning_rate=3e-2, iterations=2, beta=0.04)  # fmt: skip
# TensorFlow's XLA compiles a training step in about 10 s on a CPU; the loss is under test here.
JIT = False if keras.backend.backend() == "tensorflow" else None


@pytest.fixture(scope="module")
def grpo_run(tokenizer, tmp_path_factory):
    """8 steps of GRPO on a tiny untrained GPT, rewarded for starting its answers with "a"."""
    model = small_gpt(tokenizer.vocab_size)
    start_weights = model.get_weights()
    out = tmp_path_factory.mktemp("grpo") / "whole"
    history = train_grpo(model, tokenizer, ReverseABCD(), CONFIG, reward=first_letter_a,
                         out=out, verbose=0, jit_compile=JIT)  # fmt: skip
    return dict(model=model, start_weights=start_weights, out=out, history=history)


def test_a_sampled_batch_holds_each_completion_under_its_mask(tokenizer, grpo_run):
    model = grpo_run["model"]  # (the shapes of its training: the decoder compiled for them)
    prompts = ["abc", "dd", "cab", "b"]
    prompts, completions, arrays = sample_batch(model, tokenizer, prompts, CONFIG, 4, 7)
    assert prompts == ["abc"] * 4 + ["dd"] * 4 + ["cab"] * 4 + ["b"] * 4
    assert arrays["inputs"].shape == arrays["targets"].shape == arrays["mask"].shape == (16, 16)
    for row, completion in enumerate(completions):
        length = np.flatnonzero(arrays["mask"][row])[-1] + 1  # the chat's targets
        # The chat, shifted by one: the inputs, then the targets one step ahead.
        np.testing.assert_array_equal(arrays["inputs"][row, 1:length],
                                      arrays["targets"][row, : length - 1])  # fmt: skip
        masked = arrays["targets"][row][arrays["mask"][row] > 0]
        # The masked targets are the completion, its end token included when it ended.
        assert tokenizer.decode(masked.tolist()) == completion
        answer, ended = parse_completion(completion)
        assert ended == (masked[-1] == tokenizer.end_id)
        # An ended completion: its answer and the end token, at most 4; a cut one: 4 tokens.
        assert len(masked) == (len(tokenizer.encode(answer)) + 1 if ended else 4)
    with pytest.raises(ValueError, match=r"more than the model's context_length=16"):
        sample_batch(model, tokenizer, ["abcd"], CONFIG, 12, 0)


def test_train_grpo_records_every_step(grpo_run):
    records = grpo_run["history"].evaluations
    assert [r["step"] for r in records] == list(range(1, 9))
    assert [r["step"] for r in records if "pass_at_1" in r] == [4, 8]
    for record in records:
        for key in ("loss", "mean_reward", "fraction_right", "kl", "seconds"):
            assert np.isfinite(record[key]), (key, record)
        assert 0 <= record["fraction_right"] <= 1 and 0 <= record["mean_reward"] <= 1
        assert record["kl"] >= 0
    # Step 1 samples with the starting weights, which are the reference: no KL yet.
    assert records[0]["kl"] < 1e-6 and records[-1]["kl"] > 1e-3
    assert grpo_run["history"].train == [[r["step"], r["loss"]] for r in records]
    assert [p.name for p in list_checkpoints(grpo_run["out"])] == ["step-00000004.npz",
                                                                   "step-00000008.npz"]  # fmt: skip
    assert (grpo_run["out"] / "model.keras").is_file()


def test_grpo_raises_the_reward_it_is_given(grpo_run):
    rewards = [r["mean_reward"] for r in grpo_run["history"].evaluations]
    # Measured (first two steps -> last two): 0.13 -> 0.81 on PyTorch, 0.06 -> 0.97 on JAX,
    # 0.28 -> 0.97 on TensorFlow; about 1 token in 7 is "a" before training.
    first, last = np.mean(rewards[:2]), np.mean(rewards[-2:])
    assert first < 0.4 and last > 0.7 and last - first > 0.4, rewards


def test_an_interrupted_run_resumes_exactly(tokenizer, grpo_run, tmp_path, capsys):
    whole, model = grpo_run["out"], grpo_run["model"]
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut)
    list_checkpoints(cut)[-1].unlink()  # as if stopped after step 4
    # The model the run started from: its weights are the reference again (reference=None).
    model.set_weights(grpo_run["start_weights"])
    capsys.readouterr()
    history = train_grpo(model, tokenizer, ReverseABCD(), CONFIG, reward=first_letter_a, out=cut,
                         resume=True, verbose=0, jit_compile=JIT)  # fmt: skip
    assert "Resuming from step 4 (step-00000004.npz)." in capsys.readouterr().out

    def without_time(records):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in records]

    assert without_time(history.evaluations) == without_time(grpo_run["history"].evaluations)
    a, b = np.load(latest_checkpoint(whole)), np.load(latest_checkpoint(cut))
    for name in a.files:
        if name != "state":
            np.testing.assert_array_equal(a[name], b[name])
    # Another starting model (so another reference), or other settings: refused.
    with pytest.raises(ValueError, match=r"other settings \(reference_sha256"):
        train_grpo(small_gpt(tokenizer.vocab_size, seed=5), tokenizer, ReverseABCD(), CONFIG,
                   reward=first_letter_a, out=cut, resume=True, verbose=0)  # fmt: skip
    model.set_weights(grpo_run["start_weights"])
    other = GRPOConfig(**{**CONFIG.to_dict(), "beta": 0.0})
    with pytest.raises(ValueError, match=r"other settings \(grpo_config"):
        train_grpo(model, tokenizer, ReverseABCD(), other, reward=first_letter_a, out=cut,
                   resume=True, verbose=0)  # fmt: skip


@pytest.mark.parametrize("iterations, beta, passes", [(1, 0.0, [2, 2, 0, 2]),
                                                      (1, 0.04, [2, 2, 1, 2]),
                                                      (2, 0.0, [2, 2, 1, 2])])  # fmt: skip
def test_a_step_computes_only_the_log_probs_its_loss_or_its_kl_needs(tokenizer, monkeypatch,
                                                                     iterations, beta, passes):
    """The policy's and the reference's log-probs (a forward pass each): every step when the
    loss needs them (old with iterations > 1, the reference's with beta > 0), else only on the
    steps that measure the KL (the first, and each evaluation's: steps 1, 2 and 4 of 4)."""
    from llm_keras.alignment import grpo

    compiled, step_of, steps_started = grpo.compiled_for_model, grpo.grpo_step, []
    calls = []  # the step (from 1) of each forward pass of _sampled_log_probs

    def counted(model, function, **options):
        if function is grpo._sampled_log_probs:
            calls.append(len(steps_started))
        return compiled(model, function, **options)

    monkeypatch.setattr(grpo, "compiled_for_model", counted)
    monkeypatch.setattr(grpo, "grpo_step",
                        lambda *a, **k: steps_started.append(1) or step_of(*a, **k))
    config = GRPOConfig(**{**CONFIG.to_dict(), "steps": 4, "eval_interval": 2,
                           "iterations": iterations, "beta": beta})  # fmt: skip
    history = train_grpo(small_gpt(tokenizer.vocab_size), tokenizer, ReverseABCD(), config,
                         reward=first_letter_a, verbose=0, jit_compile=JIT)  # fmt: skip
    assert [calls.count(step) for step in (1, 2, 3, 4)] == passes
    assert [r["step"] for r in history.evaluations if "kl" in r] == [1, 2, 4]
    assert history.evaluations[0]["kl"] < 1e-6 < history.evaluations[-1]["kl"]


def test_train_grpo_says_what_is_wrong(tokenizer):
    task = ReverseABCD()
    with pytest.raises(ValueError, match=r"grow_vocabulary, then fine_tune"):
        train_grpo(small_gpt(4), tokenizer, task, CONFIG, verbose=0)
    with pytest.raises(ValueError, match=r"config must be a GRPOConfig"):
        train_grpo(small_gpt(tokenizer.vocab_size), tokenizer, task, {"steps": 8}, verbose=0)
    with pytest.raises(ValueError, match=r"resume=True needs the run directory"):
        train_grpo(small_gpt(tokenizer.vocab_size), tokenizer, task, CONFIG, resume=True)
