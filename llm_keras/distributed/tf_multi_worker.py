"""Data parallelism on TensorFlow, several machines: ``MultiWorkerMirroredStrategy`` with a
training loop of our own (week 5, "What each backend offers").

Each worker is a process, usually on its own machine, told who the others are by the environment
variable ``TF_CONFIG``::

    {"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
     "task": {"type": "worker", "index": 0}}

``model.fit`` fails under this strategy in Keras 3.15.1 (``ValueError: Attempt to convert a value
(PerReplica:...) to a Tensor`` from ``_maybe_symbolic_build``; Keras issue #20585, open since
Keras 3.0), and so does ``train_on_batch``. A loop with ``strategy.run`` works with the same
Keras model and optimizer:

1. each worker computes the loss of its rows, divided by the *global* batch size
   (``tf.nn.compute_average_loss``), and its gradient;
2. ``optimizer.apply`` inside ``strategy.run`` sums the gradients of all workers (an all-reduce)
   before updating, so every worker takes the step of the whole batch;
3. ``strategy.reduce("SUM", ...)`` adds the workers' losses: the mean loss of the whole batch.

As under ``MirroredStrategy``, Keras clips each worker's gradient before the sum
(``tf_mirrored``'s docstring), so ``grad_clip`` bounds each worker's part.

The strategy must be made before TensorFlow runs any operation, and every worker blocks until all
have started.

>>> strategy = multi_worker_strategy(["10.0.0.1:12345", "10.0.0.2:12345"], index=0)
>>> model, losses = train_multi_worker_tf(strategy, model_config, training_config, train_ids)
"""

from __future__ import annotations

import json
import os

import keras

from llm_keras.distributed.backends import require_backend
from llm_keras.distributed.worker_loop import (
    WorkerCheckpoints,
    broadcast_as_float64,
    check_worker_index,
    parse_workers,
    run_worker_steps,
)


def multi_worker_strategy(workers, index):
    """Set ``TF_CONFIG`` for worker ``index`` of ``workers`` and make the strategy.

    ``workers`` is ``"host:port,..."`` or a list; worker 0 is the chief. Call it first thing in
    the process.
    """
    require_backend("tensorflow", "multi_worker_strategy")
    import tensorflow as tf

    workers = parse_workers(workers)
    check_worker_index(index, len(workers))
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
    )
    return tf.distribute.MultiWorkerMirroredStrategy()


def train_multi_worker_tf(strategy, model_config, training_config, train_ids, log=None,
                          directory=None, resume=False, state=None):  # fmt: skip
    """Train a ``GPT`` on every worker of ``strategy`` with a ``strategy.run`` loop.

    Args:
        strategy: from ``multi_worker_strategy`` (one device per worker).
        model_config, training_config: the ``GPTConfig`` and ``TrainingConfig``
            (``batch_size`` is the global batch, divisible by the number of workers).
        train_ids: the training token ids (the same on every worker).
        log: called with a line of progress every ``eval_interval`` steps.
        directory: the run directory: worker 0 writes a checkpoint there every
            ``eval_interval`` steps (``None``: no checkpoints).
        resume: go on from worker 0's newest checkpoint in ``directory`` (every worker gets
            worker 0's step, weights and optimizer state: ``WorkerCheckpoints``).
        state: more JSON-ready entries for each checkpoint (e.g. the model configuration).

    Returns:
        ``(model, losses)``: the trained model and the loss of the whole batch at every
        micro-batch (the same numbers on every worker).
    """
    require_backend("tensorflow", "train_multi_worker_tf")
    import numpy as np
    import tensorflow as tf
    from keras import ops

    from llm_keras.models import GPT
    from llm_keras.training.losses import token_losses
    from llm_keras.training.optimizer import build_optimizer

    c = training_config
    count = strategy.num_replicas_in_sync
    index = strategy.cluster_resolver.task_id
    with strategy.scope():  # variables made here are mirrored on every worker
        keras.utils.set_random_seed(c.seed)
        model = GPT(model_config, dtype=c.dtype_policy)
        optimizer = build_optimizer(model, c.schedule(), weight_decay=c.weight_decay,
                                    beta_1=c.beta_1, beta_2=c.beta_2, clipnorm=c.grad_clip,
                                    gradient_accumulation_steps=c.gradient_accumulation_steps)  # fmt: skip
        optimizer.build(model.trainable_variables)  # its slots, mirrored too (not inside the loop)
        model.compile(optimizer=optimizer)  # model.optimizer: what checkpoints save and restore
    weights = model.trainable_variables

    def send(array):  # worker 0's array on every worker: a sum where the others add zeros
        mine = array if index == 0 else np.zeros_like(array)
        return strategy.reduce("SUM", strategy.run(lambda: tf.constant(mine)), axis=None).numpy()

    checkpoints = None
    if directory is not None:
        checkpoints = WorkerCheckpoints(directory, model, c, index, broadcast_as_float64(send),
                                        state)  # fmt: skip

    def replica_step(inputs, targets):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)  # (rows, seq, vocab)
            per_row = ops.mean(token_losses(targets, logits), axis=-1)  # (rows,)
            loss = tf.nn.compute_average_loss(per_row, global_batch_size=c.batch_size)
        optimizer.apply(tape.gradient(loss, weights), weights)  # sums over workers, then steps
        return loss

    @tf.function
    def train_step(inputs, targets):
        losses = strategy.run(replica_step, args=(inputs, targets))
        return strategy.reduce("SUM", losses, axis=None)

    context_length = model_config.context_length
    losses = run_worker_steps(train_step, train_ids, context_length, c, index, count, log,
                              checkpoints, resume)  # fmt: skip
    return model, losses
