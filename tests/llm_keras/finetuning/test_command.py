"""``llm-keras sft``, ``evaluate`` and ``classify`` (llm_keras.finetuning.command), run in-process
through ``llm_keras.cli.main`` on a tiny base run made with the Python API."""

import argparse
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from llm_keras.cli import main
from llm_keras.finetuning.chat_template import ChatTokenizer
from llm_keras.finetuning.lora import LoRADense
from llm_keras.training.run_directory import load_for_inference
from tests.llm_keras.finetuning.tiny_runs import save_base_run

# Words of 2 letters: 676 prompts ("reverse ab" -> "ba"), chats of 14 tokens: small and fast.
TASK = ["--task", "reverse", "--min-length", "2", "--max-length", "2"]
SFT = ["--steps", "4", "--eval-interval", "2", "--batch-size", "4", "--examples", "8",
       "--eval-n", "8", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A base run directory: an untrained GPT and a character tokenizer without digits."""
    return save_base_run(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def sft_run(base, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "run"
    assert main(["sft", "--base", str(base), "--out", str(out), *TASK, *SFT]) == 0
    model, tokenizer = load_for_inference(out)
    return out, model, tokenizer


def error_of(argv, capsys):
    capsys.readouterr()
    assert main(argv) == 2
    return capsys.readouterr().err


def test_sft_leaves_a_run_that_generate_and_evaluate_read(sft_run, base, capsys):
    out, model, tokenizer = sft_run
    base_model, _ = load_for_inference(base)
    assert isinstance(tokenizer, ChatTokenizer)
    assert model.config.vocab_size == tokenizer.vocab_size == base_model.config.vocab_size + 3
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["steps"] == 4 and record["settings"]["mask_prompt"] is True
    assert len(list((out / "checkpoints").glob("step-*.npz"))) == 2  # steps 2 and 4
    # Full fine-tuning trains every weight (a tied head: nothing left frozen).
    assert record["trainable_parameters"] == model.num_parameters()
    # evaluate scores the same held-out sample as sft's "after": the same number.
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out), *TASK, "--n", str(record["eval_n"])]) == 0
    printed = capsys.readouterr().out
    assert f"exact match  {record['exact_match_after']:.3f}" in printed
    assert "prompt" in printed and "'reverse " in printed


def test_a_stopped_sft_run_resumes_to_the_weights_of_the_whole_run(sft_run, tmp_path):
    out, model, _ = sft_run
    stopped = tmp_path / "stopped"
    shutil.copytree(out, stopped)
    max(stopped.glob("checkpoints/step-*.npz")).unlink()  # as if killed after step 2's checkpoint
    assert main(["sft", "--out", str(stopped), "--resume", "--quiet"]) == 0
    resumed, _ = load_for_inference(stopped)
    for a, b in zip(model.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a),
                                   keras.ops.convert_to_numpy(b), atol=1e-5)  # fmt: skip


def test_lora_sft_trains_the_adapters_only_and_saves_them_merged(base, tmp_path, capsys):
    out = tmp_path / "lora"
    assert main(["sft", "--base", str(base), "--out", str(out), *TASK, *SFT,
                 "--lora-rank", "2", "--learning-rate", "0.05"]) == 0  # fmt: skip
    model, _ = load_for_inference(out)
    base_model, _ = load_for_inference(base)
    record = json.loads((out / "run.json").read_text())
    d = model.config.d_model
    # query and value of the one block: A (d, 2) and B (2, d) each; and the token table.
    assert record["trainable_parameters"] == 2 * (d * 2 + 2 * d) + model.config.vocab_size * d
    assert not any(isinstance(layer, LoRADense) for layer in model._flatten_layers())
    attention, old = model.blocks[0].attention, base_model.blocks[0].attention

    def kernel(layer):
        return keras.ops.convert_to_numpy(layer.kernel)

    # The merged update changed the adapted kernels, and no other projection.
    assert np.abs(kernel(attention.query) - kernel(old.query)).max() > 1e-4
    assert np.abs(kernel(attention.value) - kernel(old.value)).max() > 1e-4
    np.testing.assert_array_equal(kernel(attention.key), kernel(old.key))
    np.testing.assert_array_equal(kernel(attention.output_projection),
                                  kernel(old.output_projection))  # fmt: skip


def test_evaluate_grows_a_base_run_and_says_so(base, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(base), "--task", "arithmetic", "--digits", "1",
                 "--n", "4", "--samples", "2", "--temperature", "1"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "is a base run" in printed and "llm-keras sft" in printed
    assert "(0 of 8)" in printed  # untrained: no answer right
    assert "pass@2       0.000" in printed


def test_bad_input_is_one_line_that_names_the_option(base, sft_run, tmp_path, capsys):
    out, _, _ = sft_run
    cases = {
        ("sft", "--base", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a"), *TASK):
            "--base",
        ("sft", "--base", str(base), "--out", str(tmp_path / "b"), "--task", "poetry"):
            "Unknown task 'poetry'",
        ("sft", "--base", str(base), "--out", str(tmp_path / "c"), "--task", "reverse",
         "--digits", "2"): "has no option 'digits'",
        ("sft", "--base", str(base), "--out", str(tmp_path / "d"), *TASK, "--lora-rank", "0"):
            "--lora-rank 0",
        ("sft", "--base", str(base), "--out", str(tmp_path / "e"), *TASK, "--lora-alpha", "4"):
            "--lora-alpha needs --lora-rank",
        ("sft", "--out", str(tmp_path / "f"), "--resume"): "no sft run to resume",
        ("evaluate", "--checkpoint", str(out), "--task", "arithmetic"): "cannot write",
        ("evaluate", "--checkpoint", str(tmp_path), *TASK): "holds no model.keras",
    }  # fmt: skip
    for argv, expected in cases.items():
        message = error_of(list(argv), capsys)
        assert expected in message and message.count("\n") == 1, (argv, message)
    for name in "abcdef":  # nothing was written for a refused run
        assert not (tmp_path / name).exists()


def test_a_finished_run_is_not_overwritten_without_resume(base, sft_run, capsys):
    out, _, _ = sft_run
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}
    message = error_of(["sft", "--base", str(base), "--out", str(out), *TASK, *SFT], capsys)
    assert "pass --resume" in message
    assert "--steps 8" in error_of(["sft", "--out", str(out), "--resume", "--steps", "8"], capsys)
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_command_settings_fill_in_defaults_check_them_and_keep_them_on_resume(tmp_path):
    """The settings helper of sft and of the alignment commands, without a backend."""
    from llm_keras.finetuning.command import RUN_FILE, TASK_OPTIONS, command_settings

    defaults = {"steps": 600, "eval_interval": 100, "reward_model": None, "seed": 0}
    checked = []

    def args(**given):
        values = {key: None for key in defaults}
        values.update({dest: None for dest, _, _ in TASK_OPTIONS.values()})
        values.update(base=None, task=None, resume=False)
        return argparse.Namespace(**{**values, **given})

    def settings(**given):
        return command_settings(args(**given), tmp_path, "sft", defaults, checked.append,
                                run_directories=("reward_model",))  # fmt: skip

    new, saved = settings(base="runs/b", task="reverse", steps=250, max_length=3)
    assert saved is None and checked == [new]
    assert new == {"steps": 250, "eval_interval": 250, "reward_model": None, "seed": 0,
                   "task_options": {"max_length": 3}, "base": str(Path.cwd() / "runs/b"),
                   "task": "reverse"}  # fmt: skip
    assert settings(base="b", task="t", steps=300)[0]["eval_interval"] == 100  # 100 divides 300
    assert settings(base="b", task="t", steps=250, eval_interval=50)[0]["eval_interval"] == 50
    with_reward = settings(base="b", task="t", reward_model="r")[0]  # a run directory
    assert with_reward["reward_model"] == str(Path.cwd() / "r")
    with pytest.raises(ValueError, match="--task is required"):
        settings(base="b")
    # --resume reads run.json; an option given again must be the run's.
    (tmp_path / RUN_FILE).write_text(json.dumps({"command": "sft", "settings": new}))
    assert settings(resume=True) == (new, {"command": "sft", "settings": new})
    assert settings(resume=True, steps=250, max_length=3)[0] == new
    with pytest.raises(ValueError, match=r"--resume: --steps 300 differs from the run's 250"):
        settings(resume=True, steps=300)
    with pytest.raises(ValueError, match="--resume: --task-options .* differs"):
        settings(resume=True, max_length=4)
    with pytest.raises(ValueError, match="is not an `llm-keras dpo` run directory"):
        command_settings(args(resume=True), tmp_path, "dpo", defaults, checked.append)
    assert len(checked) == 4  # the new runs only


def test_classify_saves_a_classifier_whose_accuracy_is_the_one_printed(base, tmp_path):
    from llm_keras.finetuning.classification import encode_texts, letters_in_order

    out = tmp_path / "classifier"
    assert main(["classify", "--base", str(base), "--data", "letters", "--examples", "64",
                 "--train-layers", "head", "--out", str(out), "--quiet"]) == 0  # fmt: skip
    record = json.loads((out / "run.json").read_text())
    assert record["majority_baseline"] == 0.5  # letters_in_order: half of each class
    classifier = keras.saving.load_model(out / "classifier.keras")
    _, tokenizer = load_for_inference(base)
    test = letters_in_order(64, 1000, max_length=16)["test"]
    logits = classifier.predict(encode_texts(test.texts, tokenizer, 24), verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == test.labels))
    assert accuracy == pytest.approx(record["accuracy"], abs=1e-6)
