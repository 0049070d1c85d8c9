"""Training on several devices and machines (week 5, "Training on many devices").

One idea per module, read beside the chapter:

- ``backends``: which backend offers what in Keras 3.15, and the errors that say so;
- ``mesh``: the device mesh with its ``"data"`` and ``"model"`` axes, CPU devices for practice;
- ``layout_map``: ``gpt_layout_map``, Megatron-style tensor parallelism of the GPT's weights;
- ``keras_distribution``: ``data_parallel`` and ``model_parallel`` (JAX, ``keras.distribution``);
- ``jax_multi_process``: ``start_jax_workers``, JAX on several machines;
- ``tf_mirrored``: ``mirrored_strategy``, TensorFlow on one machine with ``model.fit``;
- ``tf_multi_worker``: ``MultiWorkerMirroredStrategy`` and its ``strategy.run`` loop;
- ``torch_data_parallel``: PyTorch processes that average their gradients (``torch.distributed``);
- ``worker_loop``: each worker's rows of a batch, and the loop the custom-loop workers share.

``llm-keras train --distribution data|model --devices N`` uses them (``llm_keras.training.command``);
docs/distributed.md says how to run each path. Importing this package imports nothing else:
import the modules themselves (``from llm_keras.distributed.keras_distribution import
data_parallel``).
"""
