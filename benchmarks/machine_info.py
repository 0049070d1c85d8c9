"""What the benchmarks ran on, and how they limit the libraries' threads (shared by the scripts).

The scripts run as ``python benchmarks/NAME.py``, so this folder is on their import path.
"""

from __future__ import annotations

import os
import platform


def cpu_name() -> str:
    """The processor's model name from ``/proc/cpuinfo`` (else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine() -> str:
    """``"<cpu>, <n> cores, Python <version>"``: the line each table is headed with."""
    return f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def thread_environment(threads: int) -> dict:
    """Environment variables that limit OpenMP/MKL (torch), TensorFlow and XLA to ``threads``."""
    return {
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}",
    }
