"""Library tests: they run once per Keras backend (KERAS_BACKEND=jax|tensorflow|torch)."""

import os

import pytest

from tests.conftest import BACKENDS


def pytest_configure(config):
    backend = os.environ.get("KERAS_BACKEND")
    if backend not in BACKENDS:
        raise pytest.UsageError(
            f"KERAS_BACKEND={backend!r}: the library tests run once per backend; set "
            f"KERAS_BACKEND to one of {BACKENDS} (scripts/test runs all three)."
        )
