"""Preference pairs: a prompt, a better answer and a worse one (week 7, "Preference pairs").

A reward model and DPO learn from *comparisons*: for a prompt, which of two answers is better.
People write such pairs for chat models (Anthropic's HH-RLHF, UltraFeedback); our tasks have
exact checkers (``finetuning/tasks.py``), so a program can write them, with the reference answer
as the chosen one and, as the rejected one, an answer *close* to it that the checker rejects:

    kind            prompt      chosen    rejected
    "off_by_one"    "47+8"      "55"      "56"       one digit (or letter) moved to its neighbour
    "swapped"       "reverse stone" "enots" "eonts"  two neighbouring characters exchanged
    "wrong_format"  "47+8"      "55"      "055"      a leading zero, a "+" sign, a space
    "truncated"     "sort dcab" "abcd"    "abc"      the answer cut short (stopped too early)

Near misses rather than random strings, because a pair that differs everywhere teaches little:
the model must learn *which detail* makes an answer wrong. Every rejected answer uses only the
task's characters (``task.characters``), so the chat tokenizer of the task encodes it.

The pairs of ``preference_pairs`` come from ``task.examples(n, split, seed)``: a prompt's split
is a property of the prompt (``tasks.Task.split_of``), so held-out pairs never share a prompt
with training pairs, whatever ``n`` and ``seed``.

``sampled_pairs`` makes pairs from the model's own answers instead ("on-policy"): draw
``samples`` answers per prompt (``evaluate.complete``, the week 4 generator), keep a right one
as chosen and a wrong one as rejected. A prompt gives a pair only when the model got it right
at least once and wrong at least once; a model that is always right, or always wrong, on a
prompt has nothing to compare there.

    >>> task = get_task("arithmetic")
    >>> pairs = preference_pairs(task, 1000, split="train", seed=0)
    >>> pairs[0]
    PreferencePair(prompt='...', chosen='...', rejected='...', kind='...')
"""

from __future__ import annotations

import numbers
import random
import string
from dataclasses import dataclass

from llm_keras.finetuning.chat_template import format_example
from llm_keras.finetuning.evaluate import complete
from llm_keras.finetuning.tasks import Task

NEAR_MISS_KINDS = ("off_by_one", "swapped", "wrong_format", "truncated")
SAMPLED = "sampled"


@dataclass(frozen=True)
class PreferencePair:
    """A prompt, the answer preferred (``chosen``), the one not (``rejected``) and how the
    rejected one was made (``kind``: one of ``NEAR_MISS_KINDS``, or ``"sampled"``)."""

    prompt: str
    chosen: str
    rejected: str
    kind: str


def near_misses(task: Task, prompt: str, rng: random.Random) -> list[tuple[str, str]]:
    """Wrong answers close to ``prompt``'s reference, one of each kind the reference allows.

    Where a kind has several candidates (which digit is off by one, which neighbours are
    swapped), ``rng`` picks one. Every answer returned fails ``task.check`` and is written with
    ``task.characters`` only.

    Args:
        task: a ``tasks.Task``.
        prompt: one of its prompts.
        rng: a ``random.Random``.

    Returns:
        ``[(kind, wrong_answer), ...]`` in ``NEAR_MISS_KINDS`` order, each kind at most once;
        never empty (``"truncated"`` always exists).
    """
    if not isinstance(rng, random.Random):
        raise ValueError(
            f"rng must be a random.Random, got {type(rng).__name__}: pass random.Random(seed)."
        )
    reference = task.solve(prompt)  # a ValueError for a prompt not of the task
    allowed = set(task.characters)
    candidates = {
        "off_by_one": _off_by_one(reference),
        "swapped": _swapped(reference),
        "wrong_format": _wrong_format(reference),
        "truncated": [reference[:-1]],
    }
    misses = []
    for kind in NEAR_MISS_KINDS:
        wrong = sorted({
            answer for answer in candidates[kind]
            if set(answer) <= allowed and not task.check(prompt, answer)
        })  # fmt: skip
        if wrong:
            misses.append((kind, rng.choice(wrong)))
    return misses


def _off_by_one(answer: str) -> list[str]:
    """``answer`` with one digit moved by 1 (no new leading zero) or one letter to its
    neighbour in the alphabet."""
    results = []
    for i, char in enumerate(answer):
        if char in string.digits:
            leading = (i == 0 or answer[i - 1] == "-") and i + 1 < len(answer)
            values = [d for d in (int(char) - 1, int(char) + 1) if 0 <= d <= 9]
            results += [answer[:i] + str(d) + answer[i + 1 :] for d in values
                        if not (leading and d == 0)]  # fmt: skip
        elif char in string.ascii_lowercase:
            neighbours = [chr(ord(char) + step) for step in (-1, 1)]
            results += [answer[:i] + c + answer[i + 1 :] for c in neighbours
                        if c in string.ascii_lowercase]  # fmt: skip
    return results


def _swapped(answer: str) -> list[str]:
    """``answer`` with two different neighbouring characters of one kind (two digits, two
    letters) exchanged."""
    return [
        answer[:i] + answer[i + 1] + answer[i] + answer[i + 2 :]
        for i in range(len(answer) - 1)
        if answer[i] != answer[i + 1] and answer[i].isdigit() == answer[i + 1].isdigit()
    ]


def _wrong_format(answer: str) -> list[str]:
    """The right content written wrongly: a space before or after it; for a number, a leading
    zero or a ``+`` sign."""
    results = [" " + answer, answer + " "]
    if answer.lstrip("-").isdigit():
        sign, digits = ("-", answer[1:]) if answer.startswith("-") else ("", answer)
        results += [sign + "0" + digits]
        if not sign:
            results.append("+" + answer)
    return results


def preference_pairs(task: Task, n: int, split: str = "train", seed: int = 0):
    """``n`` pairs with the reference answer chosen and a near miss rejected.

    The prompts are ``task.examples(n, split, seed)``; for each, the kind of near miss is drawn
    uniformly among those its reference allows (``near_misses``), so the kinds are mixed.

    Args:
        task: a ``tasks.Task``.
        n: how many pairs (distinct prompts).
        split: ``"train"`` or ``"test"`` (held out: no prompt in common with ``"train"``).
        seed: the same seed gives the same pairs.

    Returns:
        ``list[PreferencePair]`` of length ``n``.
    """
    examples = task.examples(n, split=split, seed=seed)  # checks n, split and seed
    rng = random.Random(f"{task.name}/preference_pairs/{seed}")
    pairs = []
    for example in examples:
        kind, rejected = rng.choice(near_misses(task, example.prompt, rng))
        pairs.append(PreferencePair(example.prompt, example.answer, rejected, kind))
    return pairs


def sampled_pairs(model, tokenizer, task: Task, n: int, split: str = "train", samples: int = 8,
                  temperature: float = 1.0, seed: int = 0):  # fmt: skip
    """Pairs of the model's own answers: a right one chosen, a wrong one rejected.

    ``samples`` answers are drawn for each of the prompts ``task.examples(n, split, seed)``
    (``evaluate.complete``, at most the longest reference's tokens plus one, as
    ``evaluate_task``); the first right answer (``task.check``) is chosen, the first wrong one
    rejected. Wrong answers holding a special token's text (a chat token the model wrote before
    its end token) are skipped: a chat could not encode them as text.

    Args:
        model: a ``GPT`` with the chat tokens in its vocabulary.
        tokenizer: its ``ChatTokenizer``.
        task: a ``tasks.Task``.
        n: how many prompts to try.
        split, seed: as for ``preference_pairs``; ``seed`` also seeds the sampling.
        samples: answers per prompt (at least 2).
        temperature: the sampling temperature (above 0).

    Returns:
        ``list[PreferencePair]`` of kind ``"sampled"``, in prompt order: at most ``n``, one per
        prompt that had both a right and a wrong answer.
    """
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 2:
        raise ValueError(
            f"samples={samples!r}: a pair needs a right and a wrong answer to one prompt, so "
            "draw at least 2 samples per prompt."
        )
    if not isinstance(temperature, numbers.Real) or temperature <= 0:
        raise ValueError(
            f"temperature={temperature!r}: sampling needs a temperature above 0 (e.g. 1.0); "
            "greedy decoding gives the same answer every time."
        )
    examples = task.examples(n, split=split, seed=seed)
    if not examples:
        return []
    prompts = [e.prompt for e in examples]
    max_new_tokens = max(len(tokenizer.encode(e.answer)) for e in examples) + 1
    answers = complete(model, tokenizer, prompts, max_new_tokens, temperature=temperature,
                       seed=seed, samples=samples)  # fmt: skip
    pairs = []
    for prompt, group in zip(prompts, answers, strict=True):
        right = [a for a in group if task.check(prompt, a)]
        wrong = [a for a in group if not task.check(prompt, a) and _encodable(tokenizer, prompt, a)]
        if right and wrong:
            pairs.append(PreferencePair(prompt, right[0], wrong[0], SAMPLED))
    return pairs


def _encodable(tokenizer, prompt: str, answer: str) -> bool:
    """Whether the chat ``prompt``, ``answer`` can be written (``format_example`` accepts it)."""
    try:
        format_example(tokenizer, prompt, answer)
    except ValueError:
        return False
    return True
