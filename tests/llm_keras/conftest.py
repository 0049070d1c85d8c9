"""Library tests: they run once per Keras backend (KERAS_BACKEND=jax|tensorflow|torch).

On JAX the session keeps one compilation cache on disk, in a temporary folder removed at its
end: many tests (and the programs they start: a resumed run, ``llm-keras generate``) compile the
same functions of the same tiny models, and the cache compiles each once. What a cached function
computes is what a new compilation computes (JAX's key is the program, the devices and the
compiler's options); tracing, which the tests that count compilations count, still happens.
"""

import os
import shutil
import tempfile

import pytest

from tests.conftest import BACKENDS


def pytest_configure(config):
    backend = os.environ.get("KERAS_BACKEND")
    if backend not in BACKENDS:
        raise pytest.UsageError(
            f"KERAS_BACKEND={backend!r}: the library tests run once per backend; set "
            f"KERAS_BACKEND to one of {BACKENDS} (scripts/test runs all three)."
        )
    if backend == "jax" and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="llm-keras-jax-cache-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        # Read by JAX when it is imported (after this hook), here and in child processes; by
        # default JAX caches only what took a second or more to compile.
        os.environ.update(JAX_COMPILATION_CACHE_DIR=folder,
                          JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                          JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")  # fmt: skip


# `llm-keras train` options of a tiny GPT (one block of 32 features, 16 tokens of context) that
# trains in seconds on a CPU.
TINY_TRAIN_ARGS = ["--context-length", "16", "--n-layers", "1", "--d-model", "32", "--n-heads",
                   "2", "--batch-size", "8", "--eval-batches", "2", "--warmup-steps", "5",
                   "--quiet"]  # fmt: skip


@pytest.fixture(scope="session")
def data_file(tmp_path_factory, tiny_shakespeare):
    """The first 20,000 characters of TinyShakespeare in a file, for ``llm-keras train --data``."""
    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text(tiny_shakespeare[:20_000], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data_file):
    """``llm-keras train`` in this process, once for the training and generation tests: 40 steps
    of ``TINY_TRAIN_ARGS`` with an evaluation, a checkpoint and an 8-token sample every 10,
    keeping 2 checkpoints, printing to a file (a StringIO: not a terminal) as without --quiet.
    Returns ``(the run directory, what it printed)``."""
    import contextlib
    import io

    from llm_keras.training.command import main

    out = tmp_path_factory.mktemp("trained") / "run"
    args = ["--data", str(data_file), "--out", str(out), "--steps", "40", "--eval-interval", "10",
            "--sample-tokens", "8", "--keep-checkpoints", "2", *TINY_TRAIN_ARGS]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([a for a in args if a != "--quiet"]) == 0
    return out, printed.getvalue()
