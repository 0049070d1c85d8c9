"""Keep the memory a training step frees inside the process, so the next step need not fault it in.

XLA on a CPU (the JAX backend) allocates each step's temporary buffers with ``malloc`` and frees
them when the step ends. glibc's allocator gives freed memory at the top of its heaps back to
the kernel, so the next step writes to fresh pages, and the kernel zeroes and maps each of them
on first touch (a page fault). With nanoGPT's CPU configuration that was 10-12 s of system time
in 400 steps, and a step took 60-63 ms; with the settings below, 44-48 ms, and 1-2 s of system
time (2 vCPUs; ``docs/benchmarks.md``). TensorFlow and PyTorch keep their own pools of freed
memory and gain nothing.

The settings are glibc's ``mallopt`` parameters (``man 3 mallopt``), the same as the environment
variables ``MALLOC_TOP_PAD_``, ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_``: grow a
heap by 256 MiB more than asked, give memory back only when more than 1 GiB lies free at its top,
and serve blocks up to 32 MiB from the heaps rather than from fresh mappings. The price: the
process keeps up to about a gigabyte it no longer uses instead of returning it to the system.

    >>> from llm_keras.host_memory import keep_freed_host_memory
    >>> keep_freed_host_memory()      # True on Linux with glibc; elsewhere nothing changes
    True
"""

from __future__ import annotations

import ctypes
import platform

# glibc's <malloc.h> parameter numbers.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

SETTINGS = {
    M_TOP_PAD: 256 * 2**20,
    M_TRIM_THRESHOLD: 2**30,
    M_MMAP_THRESHOLD: 32 * 2**20,  # the largest glibc accepts on a 64-bit machine
}


def keep_freed_host_memory() -> bool:
    """Apply ``SETTINGS`` to this process's allocator (once is enough; calling again is harmless).

    Returns:
        ``True`` where applied (Linux with glibc), ``False`` where the C library is another
        (macOS, Windows, musl), which leaves the allocator as it was.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return all(mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
