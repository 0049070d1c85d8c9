"""Data parallelism on PyTorch: one process per device, gradients averaged with
``torch.distributed`` (week 5, "What each backend offers").

``keras.distribution`` has no PyTorch implementation in Keras 3.15 (it arrives in 3.16), and
``model.fit`` offers no place to average gradients across processes. But on this backend a Keras
model *is* a ``torch.nn.Module`` whose weights are ``torch.nn.Parameter`` objects, so the loop
``DistributedDataParallel`` runs can be written out around it, in five steps per batch:

1. forward and loss on this worker's rows (``worker_batch``),
2. ``loss.backward()``: each weight's ``.grad`` holds this worker's gradient,
3. ``all_reduce`` every gradient and divide by the number of workers: the gradient of the whole
   batch, the same on every worker,
4. ``optimizer.apply``: the Keras AdamW of ``build_optimizer`` (clipping of the averaged
   gradient, weight decay, schedule) takes the same step on every worker,
5. ``all_reduce`` the loss too, to report the loss of the whole batch.

The workers start from the same weights (worker 0's, broadcast) and so stay equal. The process
group uses ``gloo``, which runs on CPUs (``nccl`` is the choice between GPUs).

>>> start_torch_workers(["10.0.0.1:29500", "10.0.0.2:29500"], index=0)    # on each machine
>>> model, losses = train_torch_data_parallel(model_config, training_config, train_ids)
>>> stop_torch_workers()                                                   # on each machine
"""

from __future__ import annotations

import datetime

import keras

from llm_keras.distributed.backends import require_backend
from llm_keras.distributed.worker_loop import (
    WorkerCheckpoints,
    broadcast_as_float64,
    check_worker_index,
    parse_workers,
    run_worker_steps,
)
from llm_keras.seeding import set_seed


def start_torch_workers(workers, index, timeout_seconds=300):
    """Join this process to the ``gloo`` process group of ``workers`` as worker ``index``.

    ``workers`` is ``"host:port,..."`` or a list: worker 0's address is where the group meets
    (the other addresses only count the workers). Every worker must call this; each waits up
    to ``timeout_seconds`` for the others.
    """
    require_backend("torch", "start_torch_workers")
    import torch.distributed as dist

    workers = parse_workers(workers)
    check_worker_index(index, len(workers))
    if dist.is_initialized():
        raise ValueError("This process has joined a process group already: start it once.")
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{workers[0]}",
        rank=index,
        world_size=len(workers),
        timeout=datetime.timedelta(seconds=timeout_seconds),
    )


def stop_torch_workers():
    """Leave the process group, every worker together (call it on each one after training).

    A process that exits with the group still open can abort in gloo's threads ("terminate
    called without an active exception") while the others still run: wait for all, then close.
    """
    require_backend("torch", "stop_torch_workers")
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def train_torch_data_parallel(model_config, training_config, train_ids, log=None,
                              directory=None, resume=False, state=None):  # fmt: skip
    """Train a ``GPT`` with every worker of the process group (``start_torch_workers``).

    Args:
        model_config: the ``GPTConfig``.
        training_config: the ``TrainingConfig``; ``batch_size`` is the global batch, divisible
            by the number of workers.
        train_ids: the training token ids (the same on every worker).
        log: called with a line of progress every ``eval_interval`` steps.
        directory: the run directory: worker 0 writes a checkpoint there every
            ``eval_interval`` steps (``None``: no checkpoints).
        resume: go on from worker 0's newest checkpoint in ``directory`` (every worker gets
            worker 0's step, weights and optimizer state: ``WorkerCheckpoints``).
        state: more JSON-ready entries for each checkpoint (e.g. the model configuration).

    Returns:
        ``(model, losses)``: the trained model (equal on every worker) and the loss of the whole
        batch at every micro-batch.
    """
    require_backend("torch", "train_torch_data_parallel")
    import torch
    import torch.distributed as dist
    from keras import ops

    from llm_keras.models import GPT
    from llm_keras.training.losses import token_losses
    from llm_keras.training.optimizer import build_optimizer

    if not dist.is_initialized():
        raise ValueError("Call start_torch_workers(workers, index) first, on every worker.")
    count, index = dist.get_world_size(), dist.get_rank()
    set_seed(training_config.seed)
    model = GPT(model_config, dtype=training_config.dtype_policy)
    with torch.no_grad():
        for variable in model.variables:  # everyone starts from worker 0's weights
            dist.broadcast(variable.value.data, src=0)
    c = training_config
    optimizer = build_optimizer(model, c.schedule(), weight_decay=c.weight_decay, beta_1=c.beta_1,
                                beta_2=c.beta_2, clipnorm=c.grad_clip,
                                gradient_accumulation_steps=c.gradient_accumulation_steps)  # fmt: skip
    model.compile(optimizer=optimizer)  # model.optimizer: what checkpoints save and restore
    weights = model.trainable_variables

    def send(array):  # worker 0's array, on every worker
        tensor = torch.from_numpy(array.copy())
        dist.broadcast(tensor, src=0)
        return tensor.numpy()

    checkpoints = None
    if directory is not None:
        checkpoints = WorkerCheckpoints(directory, model, c, index, broadcast_as_float64(send),
                                        state)  # fmt: skip

    def train_step(inputs, targets):
        logits = model(inputs, training=True)  # (rows, seq, vocab)
        loss = ops.mean(token_losses(targets, logits))  # this worker's rows
        model.zero_grad()
        loss.backward()
        gradients = [weight.value.grad for weight in weights]
        for gradient in gradients:  # the whole batch's gradient, on every worker
            dist.all_reduce(gradient)
            gradient /= count
        with torch.no_grad():
            optimizer.apply(gradients, weights)
        loss = loss.detach().clone()
        dist.all_reduce(loss)
        return loss / count

    context_length = model_config.context_length
    losses = run_worker_steps(train_step, train_ids, context_length, c, index, count, log,
                              checkpoints, resume)  # fmt: skip
    return model, losses
