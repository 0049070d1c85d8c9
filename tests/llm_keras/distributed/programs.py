"""Programs the parallel-training tests run in child processes, each with its own devices.

The number of devices is fixed when a backend starts (JAX: ``XLA_FLAGS=
--xla_force_host_platform_device_count=N``; TensorFlow: logical CPUs before the first op), so each
multi-device case runs in a fresh process:

    python -m tests.llm_keras.distributed.programs NAME [ARG ...]

which prints ``RESULT <json>`` as its last line. The backend comes from ``KERAS_BACKEND``.
"""

import contextlib
import json
import re
import sys

import keras
import numpy as np

TINY = {"vocab_size": 65, "context_length": 16, "d_model": 32, "n_layers": 1, "n_heads": 2}
EVERY_WEIGHT = {"activation": "swiglu", "tie_weights": False}  # a gate and an output table too
STEPS = 6


def token_ids(size=4000, seed=0):
    """Token ids with some structure to learn: a noisy walk through the 65 ids."""
    steps = np.random.default_rng(seed).integers(0, 3, size=size)
    return (np.cumsum(steps) % TINY["vocab_size"]).astype(np.int32)


def training_config(**overrides):
    from llm_keras.training.trainer import TrainingConfig

    settings = {"steps": STEPS, "batch_size": 8, "eval_interval": STEPS, "eval_batches": 2,
                    "warmup_steps": 2, "sample_tokens": 0, "seed": 3}  # fmt: skip
    return TrainingConfig(**{**settings, **overrides})


class StepLosses(keras.callbacks.Callback):
    """The loss of every step of a ``fit`` (Keras logs a running mean over the epoch)."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self._mean, self._steps = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        self.losses.append((batch + 1) * mean - self._steps * self._mean)
        self._mean, self._steps = mean, batch + 1


def fit_tiny(config=None, scope=None, jit_compile=None):
    """``model.fit`` of a tiny GPT on ``STEPS`` batches of ``token_ids()`` (no validation).

    Every weight kind is there (SwiGLU's gate, an untied output table). Returns ``(model, the
    loss of every step)``.
    """
    import contextlib

    from llm_keras.data.windows import NextTokenWindows
    from llm_keras.models import GPT, GPTConfig
    from llm_keras.training.trainer import compile_for_training

    config = config or training_config()
    with scope or contextlib.nullcontext():
        keras.utils.set_random_seed(config.seed)
        model = GPT(GPTConfig(**TINY, **EVERY_WEIGHT))
        compile_for_training(model, config, jit_compile=jit_compile)
        batches = NextTokenWindows(token_ids(), config.batch_size, TINY["context_length"],
                                   config.seed, start_step=0, num_steps=STEPS)  # fmt: skip
        if keras.backend.backend() == "tensorflow" and scope is not None:
            from llm_keras.distributed.tf_mirrored import build_for_fit

            build_for_fit(model, batches[0])
        steps = StepLosses()
        model.fit(batches, epochs=1, steps_per_epoch=STEPS, shuffle=False, verbose=0,
                  callbacks=[steps])  # fmt: skip
    return model, steps.losses


def largest_difference(weights_a, weights_b):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(weights_a, weights_b, strict=True))


def jax_parallel():
    """On 4 CPU devices: one device, ``data_parallel(4)`` and ``model_parallel`` on a
    (data=2, model=2) mesh; the layouts, a forward pass, and a model built too early."""
    from llm_keras.distributed.keras_distribution import (
        check_model_placement,
        data_parallel,
        model_parallel,
    )
    from llm_keras.distributed.layout_map import GPT_LAYOUT, gpt_layout_map
    from llm_keras.models import GPT, GPTConfig

    config = GPTConfig(**TINY, **EVERY_WEIGHT)
    one, one_losses = fit_tiny()
    data = data_parallel(4)
    replicated, data_losses = fit_tiny(scope=data.scope())
    with data.scope():
        try:
            check_model_placement(one)  # built before the distribution: on one device
            placement_error = None
        except ValueError as error:
            placement_error = str(error)

    model = model_parallel(config, data=2, model=2)
    sharded, model_losses = fit_tiny(scope=model.scope())
    weights = [
        largest_difference(one.get_weights(), m.get_weights()) for m in (replicated, sharded)
    ]
    layout_map = gpt_layout_map(config, model.device_mesh)
    layouts = []
    for variable in sharded.variables:
        rule = layout_map[variable.path]
        expected = list(rule.axes) if rule is not None else [None] * len(variable.shape)
        spec = list(variable.value.sharding.spec)
        spec += [None] * (len(variable.shape) - len(spec))
        shard = variable.value.addressable_shards[0].data.shape
        layouts.append([variable.path, expected, spec, list(variable.shape), list(shard)])
    matched = {p: any(re.fullmatch(p, row[0]) for row in layouts) for p in GPT_LAYOUT}
    optimizer_split = sum("model" in v.value.sharding.spec for v in sharded.optimizer.variables)

    whole = GPT(config)  # new weights, on one device; the sharded model gets a copy
    sharded.set_weights(whole.get_weights())
    inputs = np.random.default_rng(0).integers(0, 65, size=(4, 16)).astype(np.int32)
    with model.scope():
        sharded_logits = keras.ops.convert_to_numpy(sharded(inputs))
    whole_logits = keras.ops.convert_to_numpy(whole(inputs))
    return {
        "one": one_losses,
        "data": data_losses,
        "model": model_losses,
        "weights": weights,
        "data_devices": sorted({len(v.value.sharding.device_set) for v in replicated.variables}),
        "placement_error": placement_error,
        "layouts": layouts,
        "matched": matched,
        "optimizer_split": optimizer_split,
        "forward": float(np.max(np.abs(sharded_logits - whole_logits))),
        "logit_scale": float(np.max(np.abs(whole_logits))),
    }


def jax_worker(workers, index):
    """Worker ``index`` of a two-process JAX run: a mesh over both processes' devices."""
    from llm_keras.distributed.jax_multi_process import start_jax_workers

    start_jax_workers(workers, int(index))

    from llm_keras.distributed.keras_distribution import data_parallel
    from llm_keras.distributed.worker_loop import worker_batch
    from llm_keras.models import GPT, GPTConfig
    from llm_keras.training.trainer import compile_for_training

    count = len(workers.split(","))
    devices = len(keras.distribution.list_devices())
    keras.distribution.set_distribution(data_parallel(devices, auto_shard_dataset=False))
    config = training_config()
    ids = token_ids()
    batches = [worker_batch(ids, config.batch_size, TINY["context_length"], config.seed, step,
                            int(index), count) for step in range(STEPS)]  # fmt: skip
    inputs = np.concatenate([b[0] for b in batches])
    targets = np.concatenate([b[1] for b in batches])
    keras.utils.set_random_seed(config.seed)
    model = GPT(GPTConfig(**TINY, **EVERY_WEIGHT))
    compile_for_training(model, config)
    steps = StepLosses()
    model.fit(inputs, targets, batch_size=config.batch_size // count, epochs=1, shuffle=False,
              verbose=0, callbacks=[steps])  # fmt: skip
    return {"devices": devices, "processes": keras.distribution.distribution().num_processes,
            "losses": steps.losses}  # fmt: skip


def tf_mirrored():
    """One device vs ``MirroredStrategy`` over two logical CPUs, with and without clipping."""
    from llm_keras.distributed.tf_mirrored import mirrored_strategy

    strategy = mirrored_strategy(2)  # before any TensorFlow op
    results = {"replicas": strategy.num_replicas_in_sync}
    for clip in (0.0, 1.0):
        config = training_config(grad_clip=clip)
        one, one_losses = fit_tiny(config, jit_compile=False)
        two, two_losses = fit_tiny(config, scope=strategy.scope(), jit_compile=False)
        results[f"clip {clip}"] = {
            "one": one_losses, "two": two_losses,
            "weights": largest_difference(one.get_weights(), two.get_weights()),
        }  # fmt: skip
    results["mirrored"] = sorted({len(v.value.values) for v in two.variables})
    return results


def tf_mirrored_train():
    """``train`` (not a bare ``fit``) of a GPT made under ``MirroredStrategy`` on two logical
    CPUs, without and with an explicit ``build_for_fit``, and on one device: each run's
    validation loss and training losses."""
    from llm_keras.data.windows import random_batch
    from llm_keras.distributed.tf_mirrored import build_for_fit, mirrored_strategy
    from llm_keras.models import GPT, GPTConfig
    from llm_keras.training.trainer import compile_for_training, train

    strategy = mirrored_strategy(2)  # before any TensorFlow op
    config = training_config(grad_clip=0.0)  # (clipping differs under a strategy)
    ids = token_ids()
    train_ids, val_ids = ids[:3600], ids[3600:]
    results = {}
    for name in ("one device", "strategy", "strategy, build_for_fit first"):
        with strategy.scope() if name != "one device" else contextlib.nullcontext():
            keras.utils.set_random_seed(config.seed)
            model = GPT(GPTConfig(**TINY))
            compile_for_training(model, config, jit_compile=False)
        if name == "strategy, build_for_fit first":
            build_for_fit(model, random_batch(train_ids, config.batch_size, TINY["context_length"],
                                              config.seed, 0))  # fmt: skip
            build_for_fit(model, random_batch(train_ids, config.batch_size, TINY["context_length"],
                                              config.seed, 0))  # twice: nothing new
        history = train(model, train_ids, val_ids, config, verbose=0)
        results[name] = {
            "val_loss": history.evaluations[-1]["val_loss"],
            "mirrored": sorted({len(getattr(v.value, "values", [v])) for v in model.variables}),
        }
    return results


def train_pausing_after_first_checkpoint(release, *argv):
    """``llm-keras train ARGV`` in which every worker, once the first checkpoint is written
    (worker 0) or passed (the others), waits for the file ``release`` to exist: a fixed point at
    which a test kills a worker, whatever the speed of the machine. Exits with train's status."""
    import os
    import time

    from llm_keras.distributed.worker_loop import WorkerCheckpoints
    from llm_keras.training.command import main

    interval_done = WorkerCheckpoints.interval_done

    def pausing(self, done, losses):
        interval_done(self, done, losses)
        while not os.path.exists(release):  # the test releases it after the kill
            time.sleep(0.05)

    WorkerCheckpoints.interval_done = pausing
    raise SystemExit(main(list(argv)))


if __name__ == "__main__":
    name, *arguments = sys.argv[1:]
    result = globals()[name](*arguments)
    print("RESULT " + json.dumps(result), flush=True)
