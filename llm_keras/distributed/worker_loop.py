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
a backend's ``train_step`` (``train_multi_worker_tf``, ``train_torch_data_parallel``);
``WorkerCheckpoints`` gives it checkpoints and resume (worker 0 writes, every worker restores
worker 0's values).
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


class WorkerCheckpoints:
    """Checkpoints of a multi-worker run, in the single-process format (``training.checkpoint``).

    Worker 0 writes one at the end of every evaluation interval (``save_checkpoint``: atomic,
    with its SHA-256; the last ``keep_checkpoints`` are kept). To resume, worker 0 restores the
    newest intact one (``resume_run``: damaged ones set aside, "Resuming from step N") and sends
    the step and every variable of the model and the optimizer to the others (``broadcast``),
    so every worker goes on from the same step with the same weights, optimizer state and
    dropout seed, whether or not the workers share a folder. The data position needs nothing
    more: the batch of step ``s`` depends only on the seed and ``s`` (``worker_batch``).

    Args:
        directory: the run directory (worker 0's; the others write nothing there).
        model: the ``GPT``, compiled with the run's optimizer (``model.optimizer``).
        config: the ``TrainingConfig``.
        index: this worker.
        broadcast: ``[array, ...] -> [array, ...]``: worker 0's arrays (of the same shapes and
            dtypes), on every worker; a collective: every worker calls it at the same point.
        state: more JSON-ready entries for each checkpoint (e.g. the model configuration).
    """

    def __init__(self, directory, model, config, index, broadcast, state=None):
        from llm_keras.training.history import LossHistory

        self.directory, self.model, self.config = directory, model, config
        self.index, self.broadcast = index, broadcast
        self.state = {"training_config": config.to_dict(), **(state or {})}
        self.history = LossHistory(config.batch_size * model.config.context_length)

    def restore(self, report=print):
        """Every worker: restore worker 0's newest intact checkpoint; returns the micro-batches
        it had done."""
        import numpy as np

        from llm_keras.training.checkpoint import host_array, placed_like
        from llm_keras.training.trainer import resume_run

        optimizer = self.model.optimizer
        if not optimizer.built:  # its variables exist on every worker before they are sent
            optimizer.build(self.model.trainable_variables)
        failure, done = None, 0
        if self.index == 0:
            try:
                done, self.history = resume_run(self.model, self.directory, self.state,
                                                self.history, report)  # fmt: skip
            except (ValueError, OSError) as error:  # the others must hear of it, or they wait
                failure, done = error, -1
        [done] = self.broadcast([np.array(done, dtype=np.int32)])
        done = int(done)
        if failure is not None:
            raise failure
        if done < 0:
            raise ValueError("Worker 0 could not resume the run: see its message.")
        variables = [*self.model.variables, *optimizer.variables]
        if self.index == 0:
            values = [host_array(variable) for variable in variables]
        else:  # placeholders of the same shapes and dtypes
            values = [np.zeros(tuple(v.shape), _numpy_dtype(v.dtype)) for v in variables]
        values = self.broadcast(values)
        if self.index != 0:
            for variable, value in zip(variables, values, strict=True):
                value = np.asarray(value, _numpy_dtype(variable.dtype))
                variable.assign(placed_like(variable, value))
            step = done // self.config.gradient_accumulation_steps
            report(f"Resuming from step {step} (worker 0's checkpoint).")
        return done

    def interval_done(self, done, losses):
        """Every worker, after micro-batch ``done`` that ends an interval of ``losses``: record
        it; worker 0 writes the checkpoint."""
        from llm_keras.training.checkpoint import (
            checkpoint_path,
            prune_checkpoints,
            save_checkpoint,
        )

        mean = sum(losses) / len(losses)
        self.history.train.append([done, mean])
        self.history.evaluations.append({"step": done, "train_loss": mean})
        if self.index != 0:
            return
        micro_per_interval = self.config.eval_interval * self.config.gradient_accumulation_steps
        state = {**self.state, "step": done, "epoch": done // micro_per_interval,
                 "history": self.history.state()}  # fmt: skip
        save_checkpoint(checkpoint_path(self.directory, done), self.model, state)
        prune_checkpoints(self.directory, self.config.keep_checkpoints)


def _numpy_dtype(name):
    import numpy as np

    try:
        return np.dtype(name)
    except TypeError:  # bfloat16 and the like
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))


def broadcast_as_float64(send):
    """A ``WorkerCheckpoints`` broadcast from ``send`` (a float64 array -> worker 0's), one
    array at a time, in float64: exact for float32, bfloat16 and integers below 2**53, and one
    dtype that every collective library carries."""
    import numpy as np

    def broadcast(arrays):
        return [send(np.asarray(a, np.float64)).astype(np.asarray(a).dtype) for a in arrays]

    return broadcast


def run_worker_steps(train_step, train_ids, context_length, config, index, count, log=None,
                     checkpoints=None, resume=False):  # fmt: skip
    """Run ``config.steps`` optimizer steps of ``train_step`` on this worker's rows.

    Args:
        train_step: ``(inputs, targets) -> loss``: one micro-batch of this worker's rows; it
            returns the mean loss of the *global* batch (reduced over the workers).
        train_ids: the training token ids (the same on every worker).
        context_length: tokens per window.
        config: the ``TrainingConfig`` (``batch_size`` is the global batch).
        index, count: this worker and the number of workers.
        log: called with a line of text every ``eval_interval`` steps (``None``: silent).
        checkpoints: a ``WorkerCheckpoints``: a checkpoint every ``eval_interval`` steps
            (``None``: none).
        resume: go on from worker 0's newest checkpoint (needs ``checkpoints``).

    Returns:
        The loss of every micro-batch run, in order (a list of floats; after a resume, those
        of the steps after the checkpoint).
    """
    check_worker_index(index, count)
    check_batch_divides(config.batch_size, count, what="the workers")
    if config.dtype_policy == "mixed_float16":
        raise ValueError(
            "dtype_policy='mixed_float16' needs loss scaling, which model.fit adds and this loop "
            "does not: use 'mixed_bfloat16' or 'float32' with several workers."
        )
    if resume and checkpoints is None:
        raise ValueError("resume=True needs the run's checkpoints (a WorkerCheckpoints).")
    micro_per_interval = config.eval_interval * config.gradient_accumulation_steps
    start = checkpoints.restore(report=log or print) if resume else 0
    losses = []
    for micro_step in range(start, config.steps * config.gradient_accumulation_steps):
        inputs, targets = worker_batch(train_ids, config.batch_size, context_length,
                                       config.seed, micro_step, index, count)  # fmt: skip
        losses.append(float(train_step(inputs, targets)))
        if (micro_step + 1) % micro_per_interval == 0:
            recent = losses[-micro_per_interval:]
            if log is not None:
                step = (micro_step + 1) // config.gradient_accumulation_steps
                log(f"step {step}: training loss {sum(recent) / len(recent):.4f}")
            if checkpoints is not None:
                checkpoints.interval_done(micro_step + 1, recent)
    return losses
