"""Alignment (week 7, "Alignment: rewards, DPO and GRPO"): teaching a fine-tuned GPT which of
its answers are better, from preferences and from rewards a program computes.

One idea per module, read beside the chapter:

- ``log_probs``: the log-probability a model gives a response (``token_log_probs``,
  ``sequence_log_probs``, summed or length-averaged), prompts and responses as padded rows
  (``encode_responses``) and the log-probs of many responses without a gradient
  (``response_log_probs``);
- ``preferences``: ``PreferencePair`` (a prompt, a chosen and a rejected answer), near misses of
  the reference answer that the checker rejects (``near_misses``, ``preference_pairs``) and
  pairs ranked from the model's own samples (``sampled_pairs``);
- ``reward_model``: ``RewardModel``, a GPT with a scalar head on the last token, trained with
  the Bradley-Terry loss (``bradley_terry_loss``, ``train_reward_model``, ``pairwise_accuracy``,
  ``score``);
- ``dpo``: direct preference optimisation against a frozen reference (``dpo_loss``,
  ``DPOConfig``, ``train_dpo``, ``preference_accuracy``);
- ``rewards``: rewards of completions, ``(prompts, completions) -> (n,)``: correctness, format,
  their combination, a reward model's score;
- ``grpo``: group-relative advantages, the k3 KL estimate, the clipped policy loss and
  ``train_grpo`` (samples from the week 4 generator);
- ``command``: ``llm-keras reward``, ``llm-keras dpo`` and ``llm-keras grpo``.

Importing this package imports nothing else: import the modules themselves
(``from llm_keras.alignment.log_probs import sequence_log_probs``).
"""
