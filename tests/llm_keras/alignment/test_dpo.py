"""dpo.py: the loss against NumPy from the paper's formula, what the log-probs count (the
answers only, summed or averaged), the direction of the first gradient, and train_dpo learning a
preference on a tiny model and resuming exactly."""

import itertools
import math
import shutil

import keras
import numpy as np
import pytest

from llm_keras.alignment.dpo import (
    REFERENCE_FILE,
    REWARD_STATISTICS,
    DPOConfig,
    DPOLoss,
    DPOModel,
    RewardStatistic,
    dpo_loss,
    encode_pairs,
    pair_log_probs,
    preference_accuracy,
    train_dpo,
)
from llm_keras.alignment.preferences import PreferencePair
from llm_keras.finetuning.chat_template import add_chat_tokens
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from llm_keras.training.gradients import value_and_gradients
from llm_keras.training.run_directory import load_for_inference
from tests.llm_keras.finetuning import tiny_runs
from tests.llm_keras.keras_test_case import assert_close, run_serialization_test, to_numpy
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)

LETTERS = "abcd"
USER, ASSISTANT, END = 4, 5, 6  # the chat tokens' ids after "abcd"
LOG_2 = math.log(2)
# TensorFlow's XLA compiles a training step in about 10 s on a CPU; the loss is under test here.
JIT = False if keras.backend.backend() == "tensorflow" else None


@pytest.fixture(scope="module")
def tokenizer():
    return add_chat_tokens(CharTokenizer(LETTERS))


def small_gpt(seed=0):
    return tiny_runs.small_gpt(vocab_size=7, seed=seed)  # "abcd" and the 3 chat tokens


# --- the loss against NumPy ------------------------------------------------------------------


def numpy_dpo(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    """Rafailov et al. (2023), eq. 7, as TRL's "sigmoid" loss, in float64:
    -log sigmoid(beta * ((pc - rc) - (pr - rr))); rewards beta * (policy - reference)."""
    pc, pr, rc, rr = (np.asarray(x, dtype=np.float64) for x in (
        policy_chosen, policy_rejected, ref_chosen, ref_rejected))  # fmt: skip
    logits = beta * ((pc - rc) - (pr - rr))
    losses = -np.log(1.0 / (1.0 + np.exp(-logits)))
    return losses, beta * (pc - rc), beta * (pr - rr)


def random_log_probs(rng, batch):
    """Four (batch,) arrays of plausible summed log-probs (negative, a few nats apart)."""
    return [-rng.gamma(4.0, 2.0, batch).astype("float32") for _ in range(4)]


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_dpo_loss_is_the_papers_formula(beta):
    logps = random_log_probs(np.random.default_rng(0), 64)
    expected = numpy_dpo(*logps, beta)
    got = dpo_loss(*logps, beta=beta)
    for actual, wanted in zip(got, expected, strict=True):
        assert tuple(actual.shape) == (64,)
        assert_close(actual, wanted, atol=1e-5, rtol=1e-5)
    # Not a degenerate draw: losses on both sides of log 2 (pairs ranked right and wrong).
    assert expected[0].min() < 0.5 * LOG_2 and expected[0].max() > 1.5 * LOG_2


def test_the_loss_sees_beta_times_the_log_ratios():
    pc, pr, rc, rr = random_log_probs(np.random.default_rng(1), 16)
    losses, chosen, rejected = (to_numpy(x) for x in dpo_loss(pc, pr, rc, rr, beta=0.1))
    # Doubling beta doubles the rewards.
    _, chosen_2, rejected_2 = (to_numpy(x) for x in dpo_loss(pc, pr, rc, rr, beta=0.2))
    assert_close(chosen_2, 2 * chosen, atol=1e-6)
    assert_close(rejected_2, 2 * rejected, atol=1e-6)
    # Half the beta on log-ratios twice as large: the same loss.
    halved = to_numpy(dpo_loss(2 * pc, 2 * pr, 2 * rc, 2 * rr, beta=0.05)[0])
    assert_close(halved, losses, atol=1e-6)
    # The reference shifts every answer: adding a constant to both answers' log-probs under
    # the policy and the reference changes nothing.
    shifted = to_numpy(dpo_loss(pc - 3, pr - 3, rc - 3, rr - 3, beta=0.1)[0])
    assert_close(shifted, losses, atol=1e-6)


def test_policy_equal_to_reference_gives_log_2_and_zero_rewards():
    pc, pr, _, _ = random_log_probs(np.random.default_rng(2), 8)
    losses, chosen, rejected = dpo_loss(pc, pr, pc, pr, beta=0.1)
    assert_close(losses, np.full(8, LOG_2), atol=1e-7)
    assert not to_numpy(chosen).any() and not to_numpy(rejected).any()
    # Each reward statistic as fit reports it: all 0, and a tie is not a win (TRL's accuracy).
    policy = np.stack([pc, pr], axis=1)
    for statistic in REWARD_STATISTICS:
        metric = RewardStatistic(statistic, beta=0.1)
        metric.update_state(policy, policy)
        assert float(to_numpy(metric.result())) == 0.0
    assert_close(DPOLoss(0.1)(policy, policy), LOG_2, atol=1e-7)


def test_large_margins_give_finite_losses_and_gradients():
    # Margins of 1e4 nats: sigmoid underflows to 0 in float32, its log would be -inf.
    pc = keras.Variable(np.array([0.0, -1e4, -30.0], "float32"))
    pr = keras.Variable(np.array([-1e4, 0.0, -30.0], "float32"))
    rc, rr = np.zeros(3, "float32"), np.zeros(3, "float32")
    losses = to_numpy(dpo_loss(pc, pr, rc, rr, beta=1.0)[0])
    np.testing.assert_allclose(losses, [0.0, 1e4, LOG_2], rtol=1e-6)

    def mean_loss():
        return keras.ops.mean(dpo_loss(pc, pr, rc, rr, beta=1.0)[0])

    _, (grad_chosen, grad_rejected) = value_and_gradients(mean_loss, [pc, pr])
    # d loss_i / d pc_i = -beta * sigmoid(-z_i) / batch: 0 for a pair won, -1/3 for one lost.
    assert_close(grad_chosen, np.array([0.0, -1.0, -0.5]) / 3, atol=1e-6)
    assert_close(grad_rejected, np.array([0.0, 1.0, 0.5]) / 3, atol=1e-6)


def test_dpo_loss_checks_its_arguments():
    with pytest.raises(ValueError, match=r"beta must be a number > 0 .* got beta=0"):
        dpo_loss([1.0], [1.0], [1.0], [1.0], beta=0)
    with pytest.raises(ValueError, match=r"each be \(batch,\), one per pair, got shapes"):
        dpo_loss([1.0, 2.0], [1.0], [1.0], [1.0])
    with pytest.raises(ValueError, match=r"Unknown statistic='margin'"):
        RewardStatistic("margin")


# --- what the log-probs of a pair count --------------------------------------------------------


def numpy_log_probs(logits, targets, mask):
    """Per row: the sum of log softmax(logits)[target] over the masked positions, and their
    number (float64)."""
    logits = logits.astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    log_softmax = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
    token = np.take_along_axis(log_softmax, targets[..., None], axis=-1)[..., 0]
    return (token * mask).sum(axis=-1), mask.sum(axis=-1)


PAIRS = [  # answers of different lengths on each side
    PreferencePair("abc", "cba", "cbaa", "wrong_format"),
    PreferencePair("dab", "bad", "b", "truncated"),
]


def test_a_pair_s_log_probs_are_its_answers_tokens_summed_or_averaged(tokenizer):
    # (Every eager model call of these tests has one shape, (4, 10): JAX compiles its ops once.)
    model = small_gpt()
    encoded = encode_pairs(tokenizer, PAIRS, seq_len=10)
    assert set(encoded) == {f"{side}_{part}" for side in ("chosen", "rejected")
                            for part in ("inputs", "targets", "mask")}  # fmt: skip
    # The masks count each answer's letters and its end token.
    np.testing.assert_array_equal(encoded["chosen_mask"].sum(axis=1), [4, 4])
    np.testing.assert_array_equal(encoded["rejected_mask"].sum(axis=1), [5, 2])
    rows = {part: np.concatenate([encoded[f"chosen_{part}"], encoded[f"rejected_{part}"]])
            for part in ("inputs", "targets", "mask")}  # fmt: skip
    sums, lengths = numpy_log_probs(to_numpy(model(rows["inputs"])), rows["targets"],
                                    rows["mask"])  # fmt: skip
    summed = sums.reshape(2, 2).T  # (pairs, 2): chosen, rejected
    lengths = lengths.reshape(2, 2).T
    assert_close(DPOModel(model)(encoded), summed, atol=1e-5, rtol=1e-5)
    averaged = to_numpy(DPOModel(model, average_log_probs=True)(encoded))
    assert_close(averaged, summed / lengths, atol=1e-5, rtol=1e-5)
    # (Lengths 4 vs 5 and 4 vs 2: the mean is not the sum scaled by one factor per pair.)
    # The same numbers without a gradient, in batches (the reference's path).
    assert_close(pair_log_probs(model, encoded), summed, atol=1e-5, rtol=1e-5)


def test_prompt_tokens_and_padding_do_not_change_the_loss(tokenizer):
    model = DPOModel(small_gpt())
    encoded = encode_pairs(tokenizer, PAIRS, seq_len=10)
    reference = np.array([[-9.0, -8.0], [-7.5, -6.0]], "float32")
    loss = to_numpy(DPOLoss(0.1)(reference, model(encoded)))
    changed = dict(encoded)
    for side in ("chosen", "rejected"):
        targets, mask = encoded[f"{side}_targets"], encoded[f"{side}_mask"]
        # Any other target where the mask is 0: prompt positions and padding.
        changed[f"{side}_targets"] = np.where(mask > 0, targets, (targets + 1) % 7)
        # Other ids after each chat (padding): causal attention hides them from the chat.
        length = (mask > 0).argmax(axis=1) + mask.sum(axis=1).astype(int)  # past the end token
        after = np.arange(10)[None, :] >= length[:, None]
        changed[f"{side}_inputs"] = np.where(after, 0, encoded[f"{side}_inputs"])
    assert any((changed[k] != encoded[k]).any() for k in encoded)
    assert_close(DPOLoss(0.1)(reference, model(changed)), loss, atol=1e-6, rtol=1e-6)
    # Changing a masked target does change it.
    moved = dict(encoded, chosen_targets=np.where(encoded["chosen_mask"] > 0,
                                                  (encoded["chosen_targets"] + 1) % 7,
                                                  encoded["chosen_targets"]))  # fmt: skip
    assert abs(float(to_numpy(DPOLoss(0.1)(reference, model(moved)))) - float(loss)) > 1e-3


def test_the_first_gradient_raises_the_chosen_and_lowers_the_rejected(tokenizer):
    pairs = [PreferencePair("abc", "cba", "abc", "not_reversed"),
             PreferencePair("dab", "bad", "dab", "not_reversed")]  # fmt: skip
    encoded = encode_pairs(tokenizer, pairs, seq_len=10)
    model = DPOModel(small_gpt())
    before = to_numpy(model(encoded))  # (2, 2): the reference, as at the start of train_dpo
    # One step of plain gradient descent through Keras's train step (compiled on JAX; eager on
    # TensorFlow, where tracing would cost more than the step).
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=DPOLoss(0.1),
                  run_eagerly=keras.backend.backend() == "tensorflow")  # fmt: skip
    loss = model.train_on_batch(encoded, before)
    assert loss == pytest.approx(LOG_2, abs=1e-6)  # the loss before the step
    after = to_numpy(model(encoded))
    change = after - before  # (2, 2)
    # Measured: every chosen answer's log-prob up, every rejected one's down.
    assert (change[:, 0] > 1e-3).all() and (change[:, 1] < -1e-3).all(), change
    assert float(to_numpy(DPOLoss(0.1)(before, after))) < LOG_2 - 1e-4


def test_dpo_model_and_losses_round_trip_their_configs(tokenizer):
    encoded = encode_pairs(tokenizer, PAIRS, seq_len=10)
    run_serialization_test(DPOModel(small_gpt(), average_log_probs=True), encoded)
    for item in (DPOLoss(0.3), RewardStatistic("reward_margin", beta=0.3)):
        config = item.get_config()
        assert config["beta"] == 0.3
        assert type(item).from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"DPOModel expects a dict of chosen_inputs"):
        DPOModel(small_gpt())(encoded["chosen_inputs"])


# --- DPOConfig and train_dpo -------------------------------------------------------------------


def test_dpo_config_checks_its_fields_and_round_trips():
    config = DPOConfig(beta=0.5, average_log_probs=True, steps=40, eval_interval=20, seq_len=12)
    assert DPOConfig.from_dict(config.to_dict()) == config
    assert config.training_config().learning_rate == config.learning_rate
    for fields, message in (
        (dict(beta=0.0), r"beta must be a number > 0"),
        (dict(average_log_probs=1), r"average_log_probs must be True or False"),
        (dict(steps=30, eval_interval=20), r"steps=30 is not a multiple of eval_interval=20"),
        (dict(seq_len=0), r"seq_len must be a positive integer or None"),
        (dict(learning_rate=-1.0), r"learning_rate must be a number >= 0"),
    ):
        with pytest.raises(ValueError, match=message):
            DPOConfig(**fields)


def near_miss(word, i):
    """A wrong answer close to the reversed word: a letter moved to the next, or no stop."""
    answer = word[::-1]
    if i % 2:
        return answer + answer[-1]
    j = i % 3
    return answer[:j] + LETTERS[(LETTERS.index(answer[j]) + 1) % 4] + answer[j + 1 :]


def reverse_pairs():
    """All 64 words of 3 letters from "abcd": 48 training pairs, 16 held out."""
    words = ["".join(w) for w in itertools.product(LETTERS, repeat=3)]
    np.random.default_rng(0).shuffle(words)
    pairs = [PreferencePair(w, w[::-1], near_miss(w, i), "near_miss") for i, w in enumerate(words)]
    return pairs[:48], pairs[48:]


CONFIG = DPOConfig(steps=40, batch_size=16, learning_rate=1e-2, warmup_steps=2,
                   eval_interval=20)  # fmt: skip


@pytest.fixture(scope="module")
def dpo_run(tokenizer, tmp_path_factory):
    """A tiny untrained GPT taught to prefer reversed words to near misses, with its run dir."""
    train, val = reverse_pairs()
    model = small_gpt()
    encoded_val = encode_pairs(tokenizer, val)
    reference_val = pair_log_probs(model, encoded_val)
    out = tmp_path_factory.mktemp("dpo") / "whole"
    history = train_dpo(model, tokenizer, train, CONFIG, val_pairs=val, out=out, verbose=0,
                        jit_compile=JIT)  # fmt: skip
    return dict(model=model, out=out, history=history, val=val, reference_val=reference_val)


def test_train_dpo_raises_the_reward_margin_and_accuracy(tokenizer, dpo_run):
    records = dpo_run["history"].evaluations
    assert [r["step"] for r in records] == [20, 40]
    first, last = records
    # Measured (JAX, TensorFlow, PyTorch): the train loss 0.55-0.58 then 0.39-0.46 (from
    # log 2 = 0.693); held-out loss 0.40-0.42, margin 0.89-1.02, accuracy 0.69-0.81 (from 0: the
    # start is a tie, and chance is 0.5); train accuracy 0.79-0.88. Both rewards fall, the
    # rejected one faster: the loss asks for the margin only.
    assert first["train_loss"] < LOG_2 and last["train_loss"] < first["train_loss"]
    assert last["train_loss"] < 0.5 and last["val_loss"] < 0.5
    assert last["train_reward_margin"] > 0.5 and last["val_reward_margin"] > 0.5
    assert last["val_chosen_reward"] > last["val_rejected_reward"]
    assert last["val_reward_margin"] == pytest.approx(
        last["val_chosen_reward"] - last["val_rejected_reward"], abs=1e-5)  # fmt: skip
    assert last["val_reward_accuracy"] >= 0.6 and last["train_reward_accuracy"] >= 0.75
    # preference_accuracy, against the reference's log-probs kept from before training, counts
    # what the validation counted.
    model, val = dpo_run["model"], dpo_run["val"]
    accuracy = preference_accuracy(model, tokenizer, val, dpo_run["reference_val"])
    assert accuracy == pytest.approx(last["val_reward_accuracy"], abs=1 / 16 + 1e-6)
    # reference=None is the policy's starting weights: the file holds their log-probs.
    with np.load(dpo_run["out"] / REFERENCE_FILE) as saved:
        assert saved["train"].shape == (48, 2)
        assert_close(saved["val"], dpo_run["reference_val"], atol=1e-6)
    # A model against itself as the reference: every pair a tie, none won.
    assert preference_accuracy(model, tokenizer, val, model) == 0.0
    # The run directory holds the trained policy for generation, like an SFT run.
    loaded, loaded_tokenizer = load_for_inference(dpo_run["out"])
    ids = encode_pairs(tokenizer, val[:2])["chosen_inputs"]
    assert_close(loaded(ids), model(ids), atol=1e-5, rtol=1e-5)
    assert loaded_tokenizer.vocab_size == tokenizer.vocab_size


def test_an_interrupted_dpo_run_resumes_from_its_checkpoint_step(tokenizer, dpo_run, tmp_path,
                                                                 capsys):  # fmt: skip
    whole = dpo_run["out"]
    assert [p.name for p in list_checkpoints(whole)] == ["step-00000020.npz", "step-00000040.npz"]
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut)
    for later in list_checkpoints(cut)[1:]:
        later.unlink()
    train, val = reverse_pairs()
    capsys.readouterr()
    # Another starting model and another reference: the reference's log-probs come from the
    # run directory, the weights from the checkpoint.
    history = train_dpo(small_gpt(seed=9), tokenizer, train, CONFIG,
                        reference=small_gpt(seed=5), val_pairs=val, out=cut, resume=True,
                        verbose=0, jit_compile=JIT)  # fmt: skip
    assert "Resuming from step 20 (step-00000020.npz)." in capsys.readouterr().out
    uninterrupted = dpo_run["history"].evaluations
    assert [r["step"] for r in history.evaluations] == [20, 40]
    for name in ("train_loss", "val_loss", "train_reward_margin", "val_reward_accuracy"):
        assert [r[name] for r in history.evaluations] == [r[name] for r in uninterrupted]
    a, b = np.load(latest_checkpoint(whole)), np.load(latest_checkpoint(cut))
    for name in a.files:
        if name != "state":
            np.testing.assert_array_equal(a[name], b[name])
    # Other pairs do not resume the run.
    with pytest.raises(ValueError, match="other settings"):
        train_dpo(small_gpt(), tokenizer, train[::-1], CONFIG, val_pairs=val, out=cut,
                  resume=True, verbose=0, jit_compile=JIT)  # fmt: skip


def test_train_dpo_refuses_what_it_cannot_train(tokenizer, tmp_path):
    train, _ = reverse_pairs()
    model = small_gpt()  # (each error comes before any training)
    small_vocabulary = GPT(GPTConfig.preset("shakespeare-char-cpu", vocab_size=4,
                                            context_length=16, d_model=32, n_layers=1,
                                            n_heads=2))  # fmt: skip
    for kwargs, message in (
        (dict(config=CONFIG.to_dict()), r"config must be a DPOConfig, got dict"),
        (dict(train_pairs=train[:8]), r"8 training pairs for batch_size=16"),
        (dict(train_pairs=[("abc", "cba", "abc")] * 16), r"train_pairs\[0\] is a tuple"),
        (dict(resume=True), r"resume=True needs the run directory"),
        (dict(reference=small_vocabulary), r"The reference has 4 token ids but the tokenizer 7"),
        (dict(out=tmp_path / "none", resume=True), r"reference_log_probs.npz is missing"),
    ):
        arguments = {**dict(model=model, tokenizer=tokenizer, train_pairs=train,
                            config=CONFIG, verbose=0), **kwargs}  # fmt: skip
        with pytest.raises(ValueError, match=message):
            train_dpo(**arguments)
