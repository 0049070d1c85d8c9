"""Training a GPT (week 3): loss, metrics, schedule, optimizer, callbacks, the train command.

One idea per module, read beside the chapter:

- ``losses``: ``CausalLMLoss``, the next-token cross-entropy, stable for huge logits;
- ``metrics``: ``Perplexity`` and ``BitsPerCharacter``;
- ``schedule``: ``WarmupCosineDecay``, nanoGPT's learning rate;
- ``optimizer``: ``build_optimizer``, AdamW with decay on matrices, clipping, accumulation;
- ``adamw``: ``adamw_update``, one AdamW step written out on arrays (the paper's algorithm);
- ``gradient_clipping``: ``clip_by_global_norm``, Keras's ``global_clipnorm`` written out;
- ``gradients``: ``value_and_gradients``, the one backend-specific piece of a hand-written loop;
- ``diagnosis``: ``diagnose_loss_history``, what a loss curve shows and what to change;
- ``checkpoint``: checkpoints that resume a run exactly, and the ``Checkpoint`` callback;
- ``history``: ``LossHistory`` and ``plot_loss_curve``;
- ``nan_guard``: ``NaNGuard``, which stops a diverged run and says what to try;
- ``sample_text``: ``SampleText``, generated text at each evaluation;
- ``trainer``: ``TrainingConfig``, ``compile_for_training`` and ``train`` (``model.fit``);
- ``command``: ``llm-keras train``;
- ``budget``: the compute budget of a run (FLOPs, memory per device, device-hours), and
  ``budget_command``: ``llm-keras budget``;
- ``run_directory``: what a run leaves for generation (``model.keras`` and ``tokenizer/``).

The batches come from ``llm_keras.data.windows``. Importing this package imports nothing else:
import the modules themselves (``from llm_keras.training.trainer import train``).
"""
