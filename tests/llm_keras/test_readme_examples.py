"""The README's Python examples run as written, in order, on every backend (issue 17).

Each ```python block of README.md runs in one namespace (a reader runs them in one session), in a
fresh folder that holds what the README assumes a reader has: GPT-2's two files in ``gpt2/``
(the course data's copy) and, for the sharing example, a run directory ``runs/shakespeare``
(made here from the README's own untrained model, instead of a training run of minutes).
"""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_readme_has_python_examples():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4 and any("GPT(config)" in b for b in blocks)


def test_every_python_example_of_the_readme_runs(tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink(data_dir / "gpt2", tmp_path / "gpt2")
    namespace = {"__name__": "readme"}
    for number, block in enumerate(python_blocks(README.read_text(encoding="utf-8")), 1):
        if "runs/shakespeare" in block:
            from llm_keras.training.run_directory import save_for_inference

            save_for_inference("runs/shakespeare", namespace["model"], namespace["chars"])
        try:
            exec(compile(block, f"README.md, python example {number}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - name the example that failed
            pytest.fail(f"README.md's python example {number} fails: {type(error).__name__}: "
                        f"{error}\n{block}")
    # what the examples' comments promise
    assert len(namespace["text"]) == 1_115_394
    assert (len(namespace["train"]), len(namespace["val"])) == (1_003_854, 111_540)
    assert namespace["same"].encode("To be, or not") == namespace["bpe"].encode("To be, or not")
    assert namespace["gpt2"].vocab_size == 50_257
    assert tuple(namespace["logits"].shape) == (1, 19, 65)
