"""Shared pytest set-up: the Keras backend in the report header, and where the course data is.

The library tests run once per backend, each in its own process (``scripts/test``):
``KERAS_BACKEND`` must be set before Keras is imported, so it is read from the environment.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("jax", "tensorflow", "torch")


def pytest_report_header(config):
    backend = os.environ.get("KERAS_BACKEND", "(unset: Keras's default)")
    return [f"KERAS_BACKEND={backend}", f"LLM_KERAS_DATA={os.environ.get('LLM_KERAS_DATA')}"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with the course's corpora (``../shared/data`` beside the checkout in CI)."""
    folder = Path(os.environ.get("LLM_KERAS_DATA") or REPO.parent / "shared" / "data")
    if not (folder / "tinyshakespeare.txt").is_file():
        pytest.fail(
            f"The course data is not at {folder}: set LLM_KERAS_DATA to the folder that holds "
            "tinyshakespeare.txt and gpt2/ (scripts/test uses ../shared/data)."
        )
    return folder


@pytest.fixture(scope="session")
def tiny_shakespeare(data_dir) -> str:
    return (data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")
