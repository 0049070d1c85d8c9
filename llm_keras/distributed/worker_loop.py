"""Several processes, one training run: each worker's share of the batch, and the loop they all
run (week 5, "What each backend offers").

With several workers (processes, often on several machines), each worker trains on its own rows
of every batch. The batch of step ``s`` is the one a single device would see
(``llm_keras.data.windows.random_batch`` of the global ``batch_size``); worker ``i`` of ``n``
takes rows ``i * batch_size / n .. (i + 1) * batch_size / n - 1``::

    global batch of step s    [r0 r1 r2 r3 r4 r5 r6 r7]     batch_size 8, 2 workers
    worker 0                  [r0 r1 r2 r3]
    worker 1                              [r4 r5 r6 r7]

Each worker computes the gradient of its rows; averaging the workers' gradients gives the
gradient of the whole batch (every share has the same number of rows), so every worker applies
the same update and the copies of the model stay equal. ``run_worker_steps`` is the loop around
a backend's ``train_step`` (``train_multi_worker_tf``, ``train_torch_data_parallel``).
"""

from __future__ import annotations

from llm_keras.data.windows import random_batch
from llm_keras.distributed.mesh import check_batch_divides


def parse_workers(workers):
    """``"host:port,host:port"`` (or a list of them) -> a list of ``"host:port"``, worker 0 first.

    Worker 0 is the coordinator (JAX, PyTorch) or the chief (TensorFlow).
    """
    entries = workers.split(",") if isinstance(workers, str) else list(workers)
    entries = [entry.strip() for entry in entries if entry.strip()]
    for entry in entries:
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"Worker address {entry!r} is not host:port: give every worker as host:port, "
                "separated by commas (e.g. 127.0.0.1:12345,127.0.0.1:12346)."
            )
    if not entries:
        raise ValueError("No workers given: pass host:port,host:port,... (worker 0 first).")
    return entries


def local_workers(count):
    """``"127.0.0.1:P0,..."``: ``count`` workers on this machine, on ports free right now."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ",".join(f"127.0.0.1:{port}" for port in ports)


def check_worker_index(index, count):
    """Raise a ValueError unless ``0 <= index < count``."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(
            f"worker index {index!r} is not one of the {count} workers: use 0 .. {count - 1} "
            "(0 on the first machine of the list)."
        )


def worker_batch(ids, batch_size, context_length, seed, step, index, count):
    """Worker ``index`` of ``count``'s rows of training batch ``step``.

    Returns:
        ``(inputs, targets)``, each ``(batch_size / count, context_length)`` int32: rows
        ``index * batch_size / count ..`` of ``random_batch(ids, batch_size, ...)``.
    """
    check_batch_divides(batch_size, count, what="the workers")
    inputs, targets = random_batch(ids, batch_size, context_length, seed, step)
    rows = batch_size // count
    share = slice(index * rows, (index + 1) * rows)
    return inputs[share], targets[share]


def run_worker_steps(train_step, train_ids, context_length, config, index, count, log=None):
    """Run ``config.steps`` optimizer steps of ``train_step`` on this worker's rows.

    Args:
        train_step: ``(inputs, targets) -> loss``: one micro-batch of this worker's rows; it
            returns the mean loss of the *global* batch (reduced over the workers).
        train_ids: the training token ids (the same on every worker).
        context_length: tokens per window.
        config: the ``TrainingConfig`` (``batch_size`` is the global batch).
        index, count: this worker and the number of workers.
        log: called with a line of text every ``eval_interval`` steps (``None``: silent).

    Returns:
        The loss of every micro-batch, in order (a list of floats).
    """
    check_worker_index(index, count)
    check_batch_divides(config.batch_size, count, what="the workers")
    if config.dtype_policy == "mixed_float16":
        raise ValueError(
            "dtype_policy='mixed_float16' needs loss scaling, which model.fit adds and this loop "
            "does not: use 'mixed_bfloat16' or 'float32' with several workers."
        )
    micro_per_interval = config.eval_interval * config.gradient_accumulation_steps
    losses = []
    for micro_step in range(config.steps * config.gradient_accumulation_steps):
        inputs, targets = worker_batch(train_ids, config.batch_size, context_length,
                                       config.seed, micro_step, index, count)  # fmt: skip
        losses.append(float(train_step(inputs, targets)))
        if log is not None and (micro_step + 1) % micro_per_interval == 0:
            recent = losses[-micro_per_interval:]
            step = (micro_step + 1) // config.gradient_accumulation_steps
            log(f"step {step}: training loss {sum(recent) / len(recent):.4f}")
    return losses
