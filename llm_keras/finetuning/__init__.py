"""Fine-tuning a pretrained GPT (week 6): tasks a program can check, a chat template, a
classification head, supervised fine-tuning with a masked loss, LoRA, evaluation.

One idea per module, read beside the chapter:

- ``tasks``: arithmetic, reversing, counting a letter, sorting letters: prompts, reference
  answers and an exact ``check(prompt, answer)``; train and held-out splits that never overlap;
- ``chat_template``: ``ChatTokenizer`` (a trained tokenizer plus the chat's special tokens and
  the characters the tasks need), ``format_example`` (ids and the role of each id) and
  ``grow_vocabulary`` (a trained model with more token rows, old logits unchanged);
- ``classification``: ``LastTokenClassifier``, a new head on the last token's hidden state, with
  the body frozen, partly frozen or trained; the genre-of-a-passage data set;
- ``sft``: ``sft_loss_mask`` and the masked next-token loss; batches of chats; ``fine_tune``;
- ``lora``: ``LoRADense`` written out, ``apply_lora`` and ``merge_lora``;
- ``evaluate``: ``exact_match``, ``pass_at_k`` and ``evaluate_task`` (the week 4 generator,
  KV cache);
- ``command``: ``llm-keras sft``, ``llm-keras classify`` and ``llm-keras evaluate``.

Importing this package imports nothing else: import the modules themselves
(``from llm_keras.finetuning.tasks import get_task``).
"""
