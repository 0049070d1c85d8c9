"""The Python examples of docs/*.md run as written, on every backend (issue 17, item 6).

A reference page shows a fragment, not a program: it uses a ``model`` or ``train_ids`` that the
page's prose has made. Each example therefore runs after a small set-up that makes what it
assumes (``SETUPS``: a tiny model and tokenizer, a run directory, the course data), with the
example's own text otherwise unchanged; where an example asks for hours of work (1,200 steps, a
fixed port), ``SHORTER`` names the exact text replaced, and that text must still be in the
example. An example that cannot run here says so in the page itself, in an HTML comment just
above it: ``<!-- not run by the tests: why -->``. A new example without a set-up fails the test
that lists them, so no example goes untested by accident.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOT_RUN = re.compile(r"<!-- not run by the tests: (.+?) -->\s*\n```python\n\Z", re.S)


def examples() -> dict[str, tuple[str, str | None]]:
    """``{"docs/x.md #n": (code, why it is not run or None)}`` for every ```python block."""
    found = {}
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for number, match in enumerate(re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M),
                                       1):  # fmt: skip
            before = text[max(0, match.start() - 300): match.start() + len("```python\n")]
            reason = NOT_RUN.search(before)
            found[f"docs/{page.name} #{number}"] = (match.group(1),
                                                     reason.group(1) if reason else None)
    return found


EXAMPLES = examples()

DATA_ONLY = """
import keras, numpy as np
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.trainer import TrainingConfig, compile_for_training, train
text = open(DATA / "tinyshakespeare.txt", encoding="utf-8").read()[:20_000]
tokenizer = CharTokenizer.train(text)
config = GPTConfig.preset("shakespeare-char-cpu", n_layers=1, d_model=32, n_heads=2,
                          vocab_size=tokenizer.vocab_size, context_length=16)
ids = np.asarray(tokenizer.encode(text), dtype="int32")
train_ids, val_ids = ids[:18_000], ids[18_000:]
training_config = TrainingConfig(steps=4, batch_size=4, eval_interval=2, eval_batches=1,
                                 warmup_steps=1, sample_tokens=0)
"""  # no computation yet: the distributed examples set devices up first

TINY = DATA_ONLY + """
model = GPT(config)
model.build((None, 16))
"""

TRAINING = TINY + "model_config = config\n"

RUN_DIRECTORY = TINY + """
from llm_keras.training.run_directory import save_for_inference
save_for_inference(RUN, model, tokenizer)
"""

SETUPS = {  # example -> code run before it in the same namespace ("" : it needs nothing)
    "docs/data.md #1": "",
    "docs/data.md #2": "from llm_keras.data import clean_file",
    "docs/distributed.md #1": DATA_ONLY,
    "docs/distributed.md #3": DATA_ONLY,
    "docs/finetuning.md #1": RUN_DIRECTORY.replace("text)", "text + '0123456789+-=')"),
    "docs/generation.md #1": RUN_DIRECTORY,
    "docs/interop.md #1": """
import numpy as np
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import ByteLevelBPETokenizer
tokenizer = ByteLevelBPETokenizer.from_gpt2_files(DATA / "gpt2" / "vocab.json",
                                                  DATA / "gpt2" / "merges.txt")
model = GPT(GPTConfig.preset("gpt2-small", n_layers=1, d_model=32, n_heads=2, context_length=16))
model.build((None, 16))
""",
    "docs/model.md #1": "import numpy as np\nids = np.array([[20, 47, 57, 1, 47, 57]])",
    "docs/model.md #3": TINY + "batch_size, max_length, P = 1, 16, 3\n"
                               "prompt, token = np.array([[20, 47, 57]]), np.array([[1]])\n",
    "docs/serving.md #1": TINY,
    "docs/serving.md #2": TINY + """
from llm_keras.finetuning.chat_template import add_chat_tokens, grow_vocabulary
chat_tokenizer = add_chat_tokens(tokenizer)
model = grow_vocabulary(model, chat_tokenizer.vocab_size)
""",
    "docs/training.md #1": TRAINING,
    "docs/training.md #2": "",
}

SHORTER = {  # example -> [(text in the example, what runs instead)]
    "docs/finetuning.md #1": [("runs/base", "{RUN}"), ("examples(8000)", "examples(16)"),
                              ("steps=1200", "steps=2, eval_interval=2, batch_size=4, warmup_steps=1"), ("n=200", "n=2")],
    "docs/generation.md #1": [("runs/cpu", "{RUN}"), ("), 200, temperature", "), 8, temperature"),
                              ('"ROMEO:", 200,', '"ROMEO:", 8,')],
    "docs/serving.md #1": [("port=7860", "port={PORT}")],
    "docs/serving.md #2": [("port=7860", "port={PORT}")],
    "docs/training.md #1": [('TrainingConfig.preset("shakespeare-char-cpu")', "training_config"),
                            ('GPTConfig.preset("shakespeare-char-cpu", fused_attention=True)',
                             "GPTConfig.from_dict({**model_config.to_dict(), 'fused_attention': True})")],
}

ALONE = {  # examples that must start before the backend computes anything: a process each
    "docs/distributed.md #1": "jax",  # JAX's CPU devices are fixed at its first operation
    "docs/distributed.md #3": "tensorflow",  # TensorFlow's logical devices, likewise
}


def test_every_example_is_run_or_says_why_not():
    assert len(EXAMPLES) >= 15
    unknown = [name for name, (_, reason) in EXAMPLES.items()
               if reason is None and name not in SETUPS]
    assert unknown == [], (f"give {unknown} a set-up in SETUPS, or mark it in its page with "
                           "<!-- not run by the tests: why -->")
    assert not [name for name in SETUPS if name not in EXAMPLES]  # a set-up for a gone example


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program(name: str, run: Path) -> str:
    code, _ = EXAMPLES[name]
    for old, new in SHORTER.get(name, []):
        assert old in code, f"{name} no longer holds {old!r}: update SHORTER"
        new = new.replace("{RUN}", str(run)).replace("{PORT}", str(_free_port()))
        code = code.replace(old, new)
    return code


@pytest.mark.parametrize("name", sorted(n for n, (_, why) in EXAMPLES.items() if why is None))
def test_the_example_runs(name, tmp_path, data_dir, monkeypatch):
    backend = keras.backend.backend()
    if name in ALONE and ALONE[name] != backend:
        pytest.skip(f"{name} is for the {ALONE[name]} backend (its page says so)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # "~/data" of the data page
    (tmp_path / "data").mkdir()
    for corpus in ("tinyshakespeare.txt", "shakespeare_gutenberg.txt"):
        os.symlink(data_dir / corpus, tmp_path / "data" / corpus)
        os.symlink(data_dir / corpus, tmp_path / corpus)
    run = tmp_path / "run"
    setup = f"from pathlib import Path\nDATA = Path({str(data_dir)!r})\nRUN = {str(run)!r}\n"
    setup += textwrap.dedent(SETUPS[name])
    code = _program(name, run)
    if name in ALONE:
        got = _run_alone(setup, code, backend)
    elif code.lstrip().startswith(">>>"):
        got = _run_doctest(setup, code, name)
    else:
        namespace = {"__name__": "docs_example"}
        exec(compile(setup, f"{name} (set-up)", "exec"), namespace)  # noqa: S102 - ours
        try:
            exec(compile(code, name, "exec"), namespace)  # noqa: S102 - the docs' own code
        except Exception as error:  # noqa: BLE001 - name the example that failed
            pytest.fail(f"{name} fails: {type(error).__name__}: {error}\n{code}")
        got = namespace
    _check(name, got)


def _run_alone(setup: str, code: str, backend: str) -> dict:
    program = (setup + "\n" + code + "\nimport json\n"
               "print(json.dumps({'devices': len(keras.distribution.list_devices()),"
               " 'finite': all(bool(np.isfinite(keras.ops.convert_to_numpy(w)).all())"
               " for w in model.weights)}))\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=900, check=False,
                            env={**os.environ, "KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run_doctest(setup: str, code: str, name: str) -> dict:
    namespace = {"__name__": "docs_example"}
    exec(compile(setup, f"{name} (set-up)", "exec"), namespace)  # noqa: S102 - ours
    test = doctest.DocTestParser().get_doctest(code, namespace, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    failures = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
    return namespace


def _check(name: str, got) -> None:
    """What each example's comments promise, checked."""
    if name == "docs/data.md #1":
        assert len(got["path"].read_text(encoding="utf-8")) == 1_115_394
        assert len(got["text"]) > 5_000_000  # the complete works
    elif name == "docs/model.md #1":
        assert tuple(got["logits"].shape) == (1, 6, 65)
        assert Path("shakespeare.keras").stat().st_size > 1_000_000  # 0.8M float32 weights
    elif name == "docs/model.md #3":
        assert tuple(got["logits"].shape) == (1, 1, got["tokenizer"].vocab_size)
        assert tuple(got["cache"].shape) == (1, 1, 2, 16, 2, 16)
    elif name == "docs/training.md #1":
        assert got["history"].evaluations[-1]["step"] == 4
        assert np.isfinite(got["history"].evaluations[-1]["val_loss"])
    elif name == "docs/training.md #2":
        assert got["training_flops"](124e6, 10e9) == pytest.approx(7.44e18)
        assert got["adamw_memory_bytes"](7.5e9, "mixed", zero_stage=1,
                                         data_parallel=64) == pytest.approx(31.4e9, rel=0.01)
    elif name == "docs/generation.md #1":
        assert len(got["ids"]) == 8
    elif name == "docs/interop.md #1":
        assert type(got["model"]).__name__ == "GPT"
        assert (Path("my-gpt") / "config.json").exists()
    elif name.startswith("docs/serving.md"):
        got["demo"].close()
    elif name == "docs/finetuning.md #1":
        assert got["model"].config.vocab_size == got["tokenizer"].vocab_size
    elif name == "docs/distributed.md #1":
        assert got["devices"] == 4 and got["finite"]  # trained on the 2 x 2 mesh
    elif name == "docs/distributed.md #3":
        assert got["devices"] >= 1 and got["finite"]
