"""``llm-keras reward``, ``dpo`` and ``grpo`` (llm_keras.alignment.command), run in-process
through ``llm_keras.cli.main`` on a tiny fine-tuned run made with the Python API (as
``llm-keras sft`` leaves it: chat tokens added, the vocabulary grown)."""

import json
import shutil

import keras
import numpy as np
import pytest

from llm_keras.alignment.preferences import preference_pairs
from llm_keras.cli import main
from llm_keras.finetuning.tasks import get_task
from llm_keras.training.run_directory import load_for_inference
from tests.llm_keras.finetuning.tiny_runs import save_base_run, save_chat_run
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)

# Words of 2 letters: 676 prompts ("reverse ab" -> "ba"), chats of 14 tokens: small and fast.
TASK = ["--task", "reverse", "--min-length", "2", "--max-length", "2"]
REVERSE = get_task("reverse", min_length=2, max_length=2)
PAIRS = ["--pairs", "16", "--eval-pairs", "8", "--batch-size", "8"]
SHORT = ["--steps", "4", "--eval-interval", "2", "--quiet"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A base run directory: an untrained GPT and a character tokenizer without chat tokens."""
    return save_base_run(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def sft(base, tmp_path_factory):
    """A fine-tuned run directory as `llm-keras sft` leaves it (chat tokens, grown vocabulary),
    with no training: the commands' numbers are checked, not the learning (the modules' tests)."""
    return save_chat_run(tmp_path_factory.mktemp("sft"), base, REVERSE.characters)


def weights_of(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


def error_of(argv, capsys):
    capsys.readouterr()
    assert main(argv) == 2
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def reward_run(sft, tmp_path_factory):
    out = tmp_path_factory.mktemp("reward") / "run"
    assert main(["reward", "--base", str(sft), "--out", str(out), *TASK, *PAIRS, *SHORT,
                 "--learning-rate", "0.01"]) == 0  # fmt: skip
    return out


@pytest.fixture(scope="module")
def dpo_run(sft, tmp_path_factory):
    out = tmp_path_factory.mktemp("dpo") / "run"
    assert main(["dpo", "--base", str(sft), "--out", str(out), *TASK, *PAIRS, *SHORT,
                 "--eval-n", "8", "--learning-rate", "0.01"]) == 0  # fmt: skip
    return out


def test_reward_saves_a_reward_model_whose_accuracy_is_the_one_recorded(reward_run):
    from llm_keras.alignment.command import _load_reward_model  # as grpo --reward-model reads it
    from llm_keras.alignment.reward_model import RewardModel, pairwise_accuracy

    record = json.loads((reward_run / "run.json").read_text())
    assert record["command"] == "reward" and record["settings"]["steps"] == 4
    assert record["pairs"] == 16 and record["eval_pairs"] == 8
    assert len(list((reward_run / "checkpoints").glob("step-*.npz"))) == 2  # steps 2 and 4
    reward_model, tokenizer = _load_reward_model(reward_run)  # reward.keras and tokenizer/
    assert isinstance(reward_model, RewardModel) and reward_model.train_layers == "all"
    held_out = preference_pairs(REVERSE, 8, "test", seed=0)  # the command's held-out pairs
    accuracy = pairwise_accuracy(reward_model, tokenizer, held_out)
    assert accuracy == pytest.approx(record["pairwise_accuracy_after"], abs=1e-6)
    # 4 steps at a high learning rate on 16 pairs: the Bradley-Terry loss fell below log 2.
    assert record["train_loss"] < np.log(2)


def test_reward_with_the_log_prob_weight_saves_the_learned_weight(sft, tmp_path, capsys):
    from llm_keras.alignment.command import _load_reward_model
    from llm_keras.alignment.log_probs import encode_responses, response_log_probs
    from llm_keras.alignment.reward_model import pairwise_accuracy

    out = tmp_path / "run"
    assert main(["reward", "--base", str(sft), "--out", str(out), *TASK, *PAIRS, *SHORT,
                 "--log-prob-weight", "2", "--learning-rate", "0.01"]) == 0  # fmt: skip
    assert "plus 2 x log p(answer)" in capsys.readouterr().out
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["log_prob_weight"] == 2.0
    reward_model, tokenizer = _load_reward_model(out)
    assert reward_model.log_prob_weight == 2.0
    learned = float(keras.ops.convert_to_numpy(reward_model.learned_log_prob_weight))
    assert learned != 2.0  # trained
    # Before training the head is zero: the accuracy recorded is the SFT model's own ranking.
    held_out = preference_pairs(REVERSE, 8, "test", seed=0)
    model, _ = load_for_inference(sft)
    prompts = [p.prompt for p in held_out] * 2
    answers = [p.chosen for p in held_out] + [p.rejected for p in held_out]
    log_probs = response_log_probs(model, *encode_responses(tokenizer, prompts, answers))
    assert record["pairwise_accuracy_before"] == pytest.approx(
        np.mean(log_probs[:8] > log_probs[8:]))
    assert pairwise_accuracy(reward_model, tokenizer, held_out) == pytest.approx(
        record["pairwise_accuracy_after"], abs=1e-6)


def test_dpo_leaves_a_run_that_evaluate_reads_with_the_numbers_recorded(dpo_run, sft, capsys):
    from llm_keras.alignment.dpo import preference_accuracy

    record = json.loads((dpo_run / "run.json").read_text())
    assert record["command"] == "dpo" and record["settings"]["beta"] == 0.1
    assert (dpo_run / "reference_log_probs.npz").is_file()
    assert len(list((dpo_run / "checkpoints").glob("step-*.npz"))) == 2
    model, tokenizer = load_for_inference(dpo_run)
    reference, _ = load_for_inference(sft)
    assert model.config == reference.config  # the same GPT, its weights trained
    assert max(np.abs(a - b).max() for a, b in zip(weights_of(model), weights_of(reference),
                                                    strict=True)) > 1e-3  # fmt: skip
    # The reward accuracy recorded is that of the saved model against the SFT model.
    held_out = preference_pairs(REVERSE, 8, "test", seed=0)
    accuracy = preference_accuracy(model, tokenizer, held_out, reference)
    assert accuracy == pytest.approx(record["reward_accuracy_after"], abs=1e-6)
    assert record["reward_accuracy_after"] > 0.5 and record["reward_margin"] > 0  # it learned
    # evaluate scores the same held-out prompts as dpo's "after": the same number.
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(dpo_run), *TASK, "--n", "8"]) == 0
    assert f"exact match  {record['exact_match_after']:.3f}" in capsys.readouterr().out


def test_a_stopped_reward_run_resumes_to_the_weights_of_the_whole_run(reward_run, tmp_path):
    stopped = tmp_path / "stopped"
    shutil.copytree(reward_run, stopped)
    max(stopped.glob("checkpoints/step-*.npz")).unlink()  # as if killed after step 2's checkpoint
    (stopped / "reward.keras").unlink()  # written at the end only
    assert main(["reward", "--out", str(stopped), "--resume", "--quiet"]) == 0
    whole = keras.saving.load_model(reward_run / "reward.keras", compile=False)
    resumed = keras.saving.load_model(stopped / "reward.keras", compile=False)
    for a, b in zip(weights_of(whole), weights_of(resumed), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    first, again = (json.loads((run / "run.json").read_text()) for run in (reward_run, stopped))
    assert again["pairwise_accuracy_before"] == first["pairwise_accuracy_before"]  # kept
    assert again["pairwise_accuracy_after"] == pytest.approx(first["pairwise_accuracy_after"])


def test_grpo_rewards_with_the_checker_and_leaves_a_run_that_evaluate_reads(sft, tmp_path,
                                                                             capsys):  # fmt: skip
    out = tmp_path / "grpo"
    assert main(["grpo", "--base", str(sft), "--out", str(out), *TASK, *SHORT,
                 "--group-size", "4", "--prompts-per-step", "2", "--eval-n", "2"]) == 0  # fmt: skip
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["reward_model"] is None and record["settings"]["group_size"] == 4
    # The default reward is the checker's verdict: the mean reward is the fraction right.
    assert record["mean_reward"] == record["fraction_right"]
    assert 0 <= record["pass_at_1_before"] <= record["pass_at_4_before"] <= 1
    assert 0 <= record["pass_at_1_after"] <= record["pass_at_4_after"] <= 1
    assert len(list((out / "checkpoints").glob("step-*.npz"))) == 2
    # evaluate samples the same held-out prompts as grpo's "after": the same numbers.
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out), *TASK, "--n", "2", "--samples", "4",
                 "--temperature", "1"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"exact match  {record['pass_at_1_after']:.3f}" in printed
    assert f"pass@4       {record['pass_at_4_after']:.3f}" in printed


def test_grpo_reads_its_reference_from_the_base_run_instead_of_copying_the_model(
        sft, tmp_path, monkeypatch):  # fmt: skip
    """A Keras copy of the model (``grpo._frozen_copy``: ``from_config(get_config())``) makes
    Keras import TensorFlow on JAX and PyTorch, which prints its start-up lines ("Could not find
    cuda drivers on your machine...") into the command's output: the command reads the base run
    a second time as the reference instead, with the same weights (its digest is the one the
    checkpoints keep)."""
    import llm_keras.alignment.grpo as grpo

    def no_copy(model):
        raise AssertionError("llm-keras grpo copied the model instead of reading the base run")

    monkeypatch.setattr(grpo, "_frozen_copy", no_copy)
    seen = {}
    train = grpo.train_grpo

    def spy(model, *args, reference=None, **kwargs):
        seen["reference"] = grpo._weights_digest(reference)
        seen["trainable"] = reference.trainable
        return train(model, *args, reference=reference, **kwargs)

    monkeypatch.setattr(grpo, "train_grpo", spy)
    out = tmp_path / "grpo"
    assert main(["grpo", "--base", str(sft), "--out", str(out), *TASK, "--steps", "2",
                 "--eval-interval", "2", "--quiet", "--group-size", "2", "--prompts-per-step",
                 "2", "--eval-n", "2"]) == 0  # fmt: skip
    base_model, _ = load_for_inference(sft)
    assert seen == {"reference": grpo._weights_digest(base_model), "trainable": False}


def test_bad_input_is_one_line_that_names_the_option(base, sft, reward_run, tmp_path, capsys):
    def new(command, name, *options):
        return (command, "--base", str(sft), "--out", str(tmp_path / name), *TASK, *options)

    cases = {
        ("reward", "--base", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a"), *TASK):
            "--base",
        ("dpo", "--base", str(base), "--out", str(tmp_path / "b"), *TASK):
            "is not a fine-tuned run",
        ("grpo", "--base", str(sft), "--out", str(tmp_path / "c"), "--task", "poetry"):
            "Unknown task 'poetry'",
        ("dpo", "--base", str(sft), "--out", str(tmp_path / "d"), "--task", "arithmetic"):
            "cannot write",  # the fine-tuned tokenizer has no digits
        new("dpo", "e", "--beta", "0"): "--beta 0: give a number > 0",
        new("grpo", "f", "--beta", "-0.1"): "--beta -0.1: give a number >= 0",
        new("grpo", "g", "--epsilon", "1.5"): "--epsilon 1.5: give a number in (0, 1)",
        new("grpo", "h", "--epsilon", "0"): "--epsilon 0: give a number in (0, 1)",
        new("grpo", "i", "--group-size", "1"): "--group-size 1: give an integer >= 2",
        new("grpo", "j", "--reward-model", str(sft)): "holds no reward.keras",
        new("reward", "k", "--train-layers", "middle"): "--train-layers middle",
        new("reward", "o", "--log-prob-weight", "-1"): "--log-prob-weight -1: give a finite",
        new("reward", "p", "--log-prob-weight", "inf"): "--log-prob-weight inf: give a finite",
        new("dpo", "l", "--pairs", "4", "--batch-size", "8"): "--pairs 4 is fewer than",
        new("grpo", "m", "--steps", "5", "--eval-interval", "2"): "--steps 5",
        ("dpo", "--out", str(tmp_path / "n"), "--resume"): "no dpo run to resume",
        ("dpo", "--out", str(reward_run), "--resume"): "not an `llm-keras dpo` run",
    }  # fmt: skip
    for argv, expected in cases.items():
        message = error_of(list(argv), capsys)
        assert expected in message and message.count("\n") == 1, (argv, message)
    for name in "abcdefghijklmnop":  # nothing was written for a refused run
        assert not (tmp_path / name).exists()


def test_a_finished_run_is_not_overwritten_without_resume(sft, dpo_run, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in dpo_run.rglob("*")}
    message = error_of(["dpo", "--base", str(sft), "--out", str(dpo_run), *TASK], capsys)
    assert "pass --resume" in message
    message = error_of(["dpo", "--out", str(dpo_run), "--resume", "--beta", "0.5"], capsys)
    assert "--beta 0.5 differs from the run's 0.1" in message
    assert {p.name: p.stat().st_mtime_ns for p in dpo_run.rglob("*")} == before
