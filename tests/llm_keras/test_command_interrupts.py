"""Ctrl-C and SIGTERM sent to real runs of the long commands besides `llm-keras train` (whose
own test is in training/test_command.py) and `data curate` (data/test_pipeline.py): `sft`,
`reward`, `dpo`, `grpo`, `classify` and `tokenize train` stop within seconds of the signal, with
one line on stderr and no traceback; a training command says which checkpoint its run keeps and
the command that resumes it, and that command goes on from there; tokenizer training and
classify say that they wrote nothing (issue 17, item 1). Run per backend."""

import signal
import sys
from pathlib import Path

import pytest

from llm_keras.finetuning.tasks import get_task
from llm_keras.training.checkpoint import latest_checkpoint, list_checkpoints
from tests.interrupting import Command, Stopped
from tests.llm_keras.finetuning.tiny_runs import save_base_run, save_chat_run
from tests.llm_keras.training.test_command import CHILD_ENV

LLM_KERAS = [str(Path(sys.executable).parent / "llm-keras")]  # as a user starts it
TASK = ["--task", "reverse", "--min-length", "2", "--max-length", "2"]
LONG = ["--steps", "100000", "--eval-interval", "2", "--quiet"]  # stopped long before its end
PAIRS = ["--pairs", "16", "--eval-pairs", "8", "--batch-size", "8"]
# command -> (its options after --base and --out, the signal sent to it)
COMMANDS = {
    "sft": (["--batch-size", "4", "--examples", "8", "--eval-n", "4"], signal.SIGINT),
    "reward": (PAIRS, signal.SIGTERM),
    "dpo": ([*PAIRS, "--eval-n", "4"], signal.SIGINT),
    "grpo": (["--group-size", "4", "--prompts-per-step", "2", "--eval-n", "2"], signal.SIGTERM),
}


def assert_stopped_cleanly(stopped: Stopped) -> None:
    assert stopped.code == 130, stopped.stdout + stopped.stderr[-3000:]
    assert "llm-keras: interrupted" in stopped.stderr, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    assert stopped.seconds < 60, f"{stopped.seconds:.1f} s from the signal to the end"


@pytest.fixture(scope="module")
def stopped_runs(tmp_path_factory):
    """The four commands started at once on a tiny fine-tuned run, each signalled after its
    first checkpoint: ``{command: (run directory, Stopped)}``."""
    root = tmp_path_factory.mktemp("stopped")
    base = save_base_run(root / "base")
    chat = save_chat_run(root / "chat", base, get_task("reverse", min_length=2).characters)
    started = {}
    for name, (options, _) in COMMANDS.items():
        out = root / name
        argv = [*LLM_KERAS, name, "--base", str(chat if name != "sft" else base), "--out",
                str(out), *TASK, *LONG, *options]  # fmt: skip
        started[name] = out, Command(argv, root, name, env=CHILD_ENV)
    return {
        name: (out, command.signal_when(lambda out=out: list_checkpoints(out), COMMANDS[name][1],
                                        f"no checkpoint in {out}"))
        for name, (out, command) in started.items()
    }


@pytest.mark.parametrize("name", COMMANDS)
def test_a_signal_stops_a_command_which_says_what_it_keeps(stopped_runs, name):
    out, stopped = stopped_runs[name]
    assert_stopped_cleanly(stopped)
    kept = latest_checkpoint(out)
    assert f"Stopped. {out} keeps " in stopped.stdout and kept.name in stopped.stdout
    assert f"`llm-keras {name} --out {out} --resume`" in stopped.stdout, stopped.stdout


def test_the_command_it_names_goes_on_from_the_checkpoint(stopped_runs):
    """grpo's (its own loop, not Keras's fit); the modules' tests check that resumed runs
    equal whole ones, for every command."""
    out = stopped_runs["grpo"][0]
    kept = latest_checkpoint(out)
    resumed = Command([*LLM_KERAS, "grpo", "--out", str(out), "--resume"], out.parent,
                      "grpo-resumed", env=CHILD_ENV)  # fmt: skip
    # It runs on (a newer checkpoint appears); stopped again, as the first run was.
    assert_stopped_cleanly(resumed.signal_when(
        lambda: latest_checkpoint(out).name > kept.name, signal.SIGINT,
        f"no checkpoint after {kept.name} in {out}"))  # fmt: skip


def test_tokenizer_training_stops_and_says_it_wrote_nothing(tmp_path, data_dir):
    out = tmp_path / "tokenizer"
    argv = [*LLM_KERAS, "tokenize", "train", "--corpus", str(data_dir /
            "shakespeare_gutenberg.txt"), "--vocab-size", "50000", "--out", str(out)]  # fmt: skip
    command = Command(argv, tmp_path, env=CHILD_ENV)
    # signalled while it merges (50,000 merges take about a minute here)
    stopped = command.signal_when(lambda: "BPE merges" in command.stderr, signal.SIGINT,
                                  "no merge began")  # fmt: skip
    assert_stopped_cleanly(stopped)
    assert f"Stopped before the tokenizer was trained: nothing was written to {out}" \
        in stopped.stdout
    assert not out.exists() or not any(out.iterdir())


def test_classify_stops_and_says_it_wrote_nothing(tmp_path):
    """classify keeps no checkpoints: stopped in its first epochs, it says so."""
    base = save_base_run(tmp_path / "base")
    out = tmp_path / "classifier"
    argv = [*LLM_KERAS, "classify", "--base", str(base), "--data", "letters", "--out", str(out),
            "--epochs", "1000", "--examples", "64", "--batch-size", "8", "--quiet"]  # fmt: skip
    command = Command(argv, tmp_path, env=CHILD_ENV)
    # signalled once its second epoch began (the first one's line is printed)
    stopped = command.signal_when(lambda: "Epoch 2/" in command.stdout, signal.SIGINT,
                                  "no epoch began")  # fmt: skip
    assert_stopped_cleanly(stopped)
    assert f"Stopped before the classifier was saved: nothing was written to {out}" \
        in stopped.stdout
    assert not out.exists()
