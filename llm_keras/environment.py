"""What this set-up runs on: Python, Keras, the backend and its devices (course introduction).

``describe_backend()`` is the first thing every course notebook prints; ``check_setup()`` is
``llm-course check``, which tries each of the three backends in its own process (Keras picks
its backend once per process, from ``KERAS_BACKEND``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

BACKENDS = ("jax", "tensorflow", "torch")


def backend_info() -> dict:
    """The current process's Keras backend: names, versions and devices (imports Keras)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        version, devices = jax.__version__, [f"{d.platform}:{d.id}" for d in jax.devices()]
    elif backend == "tensorflow":
        import tensorflow as tf

        version = tf.__version__
        devices = [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
    elif backend == "torch":
        import torch

        version = torch.__version__
        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    else:
        version, devices = "unknown", []
    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": version,
        "devices": devices,
    }


def describe_backend() -> str:
    """One line, e.g. "Keras 3.15.1 on jax 0.10.2 (Python 3.11.7), devices: cpu:0"."""
    info = backend_info()
    return (f"Keras {info['keras']} on {info['backend']} {info['backend_version']} "
            f"(Python {info['python']}), devices: {', '.join(info['devices']) or 'none found'}")


def check_setup(timeout: float = 180.0) -> tuple[str, bool]:
    """Try every backend in a fresh process; returns a readable report and whether all work."""
    lines = [f"Python {platform.python_version()} ({sys.executable})"]
    ok = sys.version_info >= (3, 11)
    if not ok:
        lines.append("  problem: the course needs Python 3.11 or newer")
    for backend in BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=backend)
        code = "import json; from llm_keras.environment import backend_info; print(json.dumps(backend_info()))"
        try:
            result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                    text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            lines.append(f"{backend:<10} problem: did not start within {timeout:.0f} s")
            ok = False
            continue
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no error message"])[-1]
            lines.append(f"{backend:<10} problem: {last}  (run scripts/install to install it)")
            ok = False
            continue
        info = json.loads(result.stdout.strip().splitlines()[-1])
        lines.append(f"{backend:<10} ok: Keras {info['keras']}, {backend} {info['backend_version']}, "
                     f"devices {', '.join(info['devices'])}")
    default = os.environ.get("KERAS_BACKEND")
    lines.append(f"KERAS_BACKEND is {default!r}" if default else
                 "KERAS_BACKEND is not set: Keras will use its default (tensorflow); "
                 "set it, e.g. export KERAS_BACKEND=jax")
    return "\n".join(lines), ok
