"""Rewards a program gives a model's completions (week 7, "Rewards you can verify").

GRPO (``grpo.py``) learns from one number per completion, its reward. A reward here is a
function

    reward(prompts, completions) -> float32 array (n,)

one prompt per completion (a prompt sampled 8 times appears 8 times), the form of TRL's reward
functions (``reward_func(prompts=..., completions=...)``, ``trl/trainer/grpo_trainer.py``).

**A completion** is the text the model generated after ``[ASSISTANT]``, with the end token
written out when the model produced it: ``"55<|end|>"`` is an answer the model finished,
``"5555"`` one the generator cut at ``max_new_tokens``. ``parse_completion`` splits it into the
answer (the text before the end token) and whether it ended.

The tasks of week 6 come with an exact checker, so the rewards need no second model as a judge
(reinforcement learning with *verifiable* rewards, as DeepSeek-R1 and nanochat's ``chat_rl.py``):

    reward                          1 when                                        e.g. "47+8"
    correctness_reward(task)        task.check(prompt, answer)                    "55<|end|>"
    format_reward(task)             the answer has the form of the task's         "54<|end|>"
                                    answers and ended with the end token
    combined_reward(rewards, w)     sum_i w_i * reward_i (TRL's reward_weights)
    reward_model_reward(rm, tok)    a learned reward: the reward model's score (a float)

``correctness_reward`` gives the verdict of ``evaluate.evaluate_task``: the answer cut at the
end token is compared with the reference, character for character. ``format_reward`` is partial
credit that is easier to earn (DeepSeek-R1 pairs its accuracy reward with a format reward): a
model that writes a number, and stops, gets it for a wrong number too; it does not for ``"55 "``
or for ``"5555"`` cut by the token limit. A reward model's score, unlike a checker, can be fooled:
a policy trained against it finds what the reward model over-rates (Goodhart's law).

    >>> reward = combined_reward([correctness_reward(task), format_reward(task)], [1.0, 0.1])
    >>> reward(["47+8", "47+8", "47+8"], ["55<|end|>", "54<|end|>", "5 5"])
    array([1.1, 0.1, 0. ], dtype=float32)
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from llm_keras.alignment.log_probs import paired_texts
from llm_keras.alignment.reward_model import score
from llm_keras.finetuning.chat_template import END

# The form of a well-formed answer of each task of week 6 (tasks.TASKS), as a regular expression
# for re.fullmatch: Python's way of writing an integer (no leading zeros, no "+") or lowercase
# letters.
ANSWER_PATTERNS = {
    "arithmetic": r"-?(0|[1-9][0-9]*)",
    "count": r"0|[1-9][0-9]*",
    "reverse": r"[a-z]+",
    "sort": r"[a-z]+",
}


def parse_completion(completion: str) -> tuple[str, bool]:
    """``(answer, ended)``: the text before the end token, and whether the end token came.

    >>> parse_completion("55<|end|>"), parse_completion("5555")
    (('55', True), ('5555', False))
    """
    answer, end, _ = completion.partition(END)
    return answer, bool(end)


def correctness_reward(task):
    """The reward 1 for a right answer, 0 for any other: ``task.check(prompt, answer)``.

    Args:
        task: a ``tasks.Task`` (or any object with ``check(prompt, answer) -> bool``).

    Returns:
        ``reward(prompts, completions) -> float32 (n,)``, named ``"correctness"``.
    """
    if not callable(getattr(task, "check", None)):
        raise ValueError(
            f"task must have a check(prompt, answer) method (a tasks.Task), got "
            f"{type(task).__name__}: make one with tasks.get_task(name)."
        )

    def correctness(prompts, completions):
        prompts, completions = paired_texts(prompts, completions, "completions")
        answers = [parse_completion(c)[0] for c in completions]
        right = [task.check(p, a) for p, a in zip(prompts, answers, strict=True)]
        return np.asarray(right, dtype="float32")

    return correctness


def format_reward(task, pattern=None):
    """The reward 1 for an answer of the right form that the model ended itself, else 0.

    Args:
        task: a ``tasks.Task``; its ``name`` picks the form from ``ANSWER_PATTERNS`` (digits for
            ``"arithmetic"`` and ``"count"``, lowercase letters for ``"reverse"`` and
            ``"sort"``).
        pattern: a regular expression the whole answer must match (``re.fullmatch``), instead
            of the task's.

    Returns:
        ``reward(prompts, completions) -> float32 (n,)``, named ``"well_formed"``: 1 when the
        completion ended with the end token and the answer before it matches the pattern.

    Raises:
        ValueError: a task of no known form without a ``pattern``, or a pattern that does not
            compile.
    """
    if pattern is None:
        name = getattr(task, "name", None)
        if name not in ANSWER_PATTERNS:
            raise ValueError(
                f"No answer form is known for the task {name!r} (known: "
                f"{', '.join(ANSWER_PATTERNS)}): pass the form of its answers, e.g. "
                "format_reward(task, pattern=r'[0-9]+')."
            )
        pattern = ANSWER_PATTERNS[name]
    try:
        form = re.compile(pattern)
    except (re.error, TypeError) as error:
        raise ValueError(f"pattern={pattern!r} is not a regular expression: {error}.") from None

    def well_formed(prompts, completions):
        _, completions = paired_texts(prompts, completions, "completions")
        scores = []
        for completion in completions:
            answer, ended = parse_completion(completion)
            scores.append(ended and form.fullmatch(answer) is not None)
        return np.asarray(scores, dtype="float32")

    return well_formed


def combined_reward(rewards, weights=None):
    """The weighted sum of several rewards: ``sum_i weights[i] * rewards[i](prompts, completions)``.

    Args:
        rewards: reward functions.
        weights: one number per reward (``None``: 1 each), as TRL's ``reward_weights``.

    Returns:
        ``reward(prompts, completions) -> float32 (n,)``, named ``"combined"``.
    """
    rewards = list(rewards)
    if not rewards or not all(callable(reward) for reward in rewards):
        raise ValueError(
            "rewards must be a non-empty list of reward functions (prompts, completions) -> "
            "(n,), e.g. [correctness_reward(task), format_reward(task)]."
        )
    weights = [1.0] * len(rewards) if weights is None else list(weights)
    if len(weights) != len(rewards):
        raise ValueError(
            f"Got {len(weights)} weights for {len(rewards)} rewards: give one weight per reward."
        )
    for i, weight in enumerate(weights):
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise ValueError(f"weights[{i}]={weight!r} must be a number.")

    def combined(prompts, completions):
        prompts, completions = paired_texts(prompts, completions, "completions")
        total = np.zeros(len(completions), dtype="float64")
        for weight, reward in zip(weights, rewards, strict=True):
            total += weight * check_rewards(reward(prompts, completions), len(completions))
        return total.astype("float32")

    return combined


def reward_model_reward(reward_model, tokenizer):
    """A learned reward: the reward model's score of each answer (``reward_model.score``).

    The answer is the completion cut at the end token; the reward model reads the chat
    ``format_example(prompt, answer)``, which closes every answer with the end token, so an
    answer cut by the token limit is scored as if it had ended. A weak policy also writes other
    chat tokens (``<|user|>``, ``<|assistant|>``) into an answer; the answer is cut before the
    first of them too (as the chat page does), since a chat holding their text cannot be encoded:
    what the reward model scores is what the assistant said before it broke the format.

    Args:
        reward_model: a trained ``reward_model.RewardModel``.
        tokenizer: its ``ChatTokenizer``.

    Returns:
        ``reward(prompts, completions) -> float32 (n,)``, named ``"learned"``.
    """

    def learned(prompts, completions):
        prompts, completions = paired_texts(prompts, completions, "completions")
        answers = [_before_special_tokens(parse_completion(c)[0], tokenizer)
                   for c in completions]
        return np.asarray(score(reward_model, tokenizer, prompts, answers), dtype="float32")

    return learned


def _before_special_tokens(text, tokenizer):
    """``text`` up to the first special token's text in it (all of it when there is none)."""
    cut = min((text.find(t) for t in tokenizer.special_tokens if t in text), default=len(text))
    return text[:cut]


def check_rewards(rewards, n):
    """A reward function's output as float64 ``(n,)``; a ValueError, saying what is wrong, if it
    is not ``n`` finite numbers."""
    values = np.asarray(rewards, dtype="float64")
    if values.shape != (n,):
        raise ValueError(
            f"A reward function returned shape {values.shape} for {n} completions: it must "
            "return one number per completion, shape (n,)."
        )
    if not np.isfinite(values).all():
        raise ValueError(
            f"A reward function returned {values[~np.isfinite(values)][0]} for completion "
            f"{int(np.flatnonzero(~np.isfinite(values))[0])}: rewards must be finite numbers."
        )
    return values
