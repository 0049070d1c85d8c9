"""`llm-course check`: every backend is tried in its own process and reported."""

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_course_check_reports_every_backend():
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run([BIN / "llm-course", "check"], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for backend in ("jax", "tensorflow", "torch"):
        assert f"{backend:<10} ok: Keras 3.15" in result.stdout
    assert "KERAS_BACKEND is 'jax'" in result.stdout


def test_course_check_names_a_broken_backend():
    # A backend whose import fails (here: an invalid KERAS_BACKEND value for one subprocess is not
    # possible, so hide torch behind an empty module path) is reported as a problem, exit 1.
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent / "fake_broken_torch"))
    result = subprocess.run([BIN / "llm-course", "check"], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 1
    assert "torch      problem:" in result.stdout
