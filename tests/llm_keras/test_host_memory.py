"""keep_freed_host_memory: freed memory is reused instead of being faulted in afresh."""

import platform
import subprocess
import sys

import pytest

from llm_keras.host_memory import keep_freed_host_memory

# Allocates and frees 20 buffers of 0.4-12 MB (as a training step's temporaries), 20 times, and
# prints the page faults per round and the pages the round writes.
ROUNDS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from llm_keras.host_memory import keep_freed_host_memory
    assert keep_freed_host_memory()
sizes = np.random.default_rng(0).integers(100_000, 3_000_000, 20)
def one_round():
    buffers = [np.ones(size, np.float32) for size in sizes]
    del buffers
for _ in range(3):
    one_round()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    one_round()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
print(faults, sizes.sum() * 4 / 4096)
"""


def page_faults_per_round(mode):
    result = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True
    )
    faults, pages = map(float, result.stdout.split())
    return faults, pages


GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
glibc_only = pytest.mark.skipif(
    not GLIBC, reason="the settings are glibc's mallopt; other C libraries are left as they are"
)


@glibc_only
def test_freed_buffers_are_reused_without_page_faults():
    faults, pages = page_faults_per_round("keep")
    assert faults < 0.01 * pages, (faults, pages)


@glibc_only
def test_glibc_by_default_faults_the_buffers_in_again():
    # The problem the settings solve: without them, about a third of the pages are new each round.
    faults, pages = page_faults_per_round("default")
    assert faults > 0.1 * pages, (faults, pages)


@pytest.mark.skipif(GLIBC, reason="glibc applies them")
def test_other_c_libraries_are_left_alone():
    assert keep_freed_host_memory() is False
