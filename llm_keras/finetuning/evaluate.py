"""Measuring a fine-tuned model on a task a program can check (week 6, "Evaluating with exact match").

A task of ``tasks.py`` comes with reference answers and a checker, so a model is scored without a
second model as judge: generate an answer for each held-out prompt and count the right ones.

**Exact match** is the fraction of answers equal, character for character, to the reference:

    exact_match(["cba", "ab", "7"], ["cba", "ba", "7"]) = 2 / 3

Nothing is stripped or normalised: ``"cba "`` is wrong, and so is ``"cba"`` followed by more
text, because the model must also learn to *stop* (produce the end-of-turn token).

**pass@k** (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", the Codex
paper): the probability that at least one of ``k`` samples is right. Drawing exactly ``k``
samples per prompt gives a noisy estimate; instead draw ``n >= k`` samples, count the ``c``
right ones, and average over prompts the unbiased estimator

    pass@k = 1 - C(n - c, k) / C(n, k)

(``C(n - c, k) / C(n, k)`` is the chance that ``k`` of the ``n`` samples, drawn without
replacement, are all wrong). The binomial coefficients overflow quickly (``C(200, 100)`` has 59
digits), so, as in the paper, it is computed as a product of ratios

    C(n - c, k) / C(n, k) = prod_{i = n - c + 1}^{n} (1 - k / i)

which stays in ``[0, 1]``. With ``k = 1`` it is ``c / n``: the fraction of right samples.

**Generation** is the week 4 decoder (``llm_keras.generation.decode.generate``, KV cache): each
prompt becomes the chat ``[USER] prompt [END] [ASSISTANT]`` (``chat_template.format_example``),
prompts of different lengths share a batch, and decoding stops at the end-of-turn token. Greedy
decoding (``temperature=0``) gives one answer per prompt; ``samples > 1`` with a temperature gives
several, for pass@k.

    >>> result = evaluate_task(model, tokenizer, get_task("reverse"), n=200)
    >>> result["exact_match"]                    # e.g. 0.0 for the base model, 0.9 after SFT
"""

from __future__ import annotations

import numbers

import numpy as np

from llm_keras.finetuning.chat_template import format_example
from llm_keras.generation.decode import generate

# Prompts per call of the decoder: the last, shorter batch is filled up to this size with copies,
# so that the compiled decoding loop (one per batch shape) is compiled once.
BATCH_SIZE = 64
ROWS_SHOWN = 5


def exact_match(predictions, references) -> float:
    """The fraction of ``predictions`` equal to their ``references`` (strings, same order).

    >>> exact_match(["cba", "ab", "7"], ["cba", "ba", "7"])
    0.6666666666666666
    """
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(
            f"exact_match compares answers one to one, got {len(predictions)} predictions and "
            f"{len(references)} references: pass one prediction per reference."
        )
    if not references:
        raise ValueError("exact_match of no answers is undefined: pass at least one.")
    for name, values in (("predictions", predictions), ("references", references)):
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise ValueError(
                    f"{name}[{i}] is {type(value).__name__} {value!r:.40}, not a string: decode "
                    "token ids first (tokenizer.decode)."
                )
    return sum(p == r for p, r in zip(predictions, references, strict=True)) / len(references)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al.'s unbiased estimate of pass@k from ``c`` right answers among ``n`` samples.

    ``1 - C(n - c, k) / C(n, k)``, computed as ``1 - prod_{i=n-c+1}^{n} (1 - k / i)``.

    >>> pass_at_k(10, 3, 1), pass_at_k(10, 0, 5), pass_at_k(10, 6, 5)
    (0.3, 0.0, 1.0)
    """
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an integer, got {name}={value!r}.")
    if not 0 <= c <= n:
        raise ValueError(f"c={c} right samples must lie in [0, n={n}] (n: samples drawn).")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must lie in [1, n={n}]: draw at least k samples per prompt.")
    if n - c < k:  # every choice of k samples holds a right one
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def complete(
    model,
    tokenizer,
    prompts,
    max_new_tokens,
    temperature=0.0,
    top_k=None,
    seed=0,
    samples=1,
):
    """The model's answers to ``prompts``, as the assistant of a chat.

    Args:
        model: a ``GPT`` whose vocabulary holds the chat tokens (``chat_template``).
        tokenizer: its ``ChatTokenizer``.
        prompts: the user's texts (strings).
        max_new_tokens: the most tokens of an answer (decoding stops earlier at the end token).
        temperature: 0 for greedy decoding, else the sampling temperature.
        top_k: ``None`` or keep only the ``k`` likeliest tokens when sampling.
        seed: the sampling seed (the same seed gives the same answers on a backend).
        samples: answers per prompt (more than 1 needs a temperature above 0).

    Returns:
        ``list[str]``, one answer per prompt; with ``samples > 1``, ``list[list[str]]``
        (``samples`` answers per prompt). The end token is not part of an answer.
    """
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples={samples!r} must be an integer >= 1 (answers per prompt).")
    if samples > 1 and temperature == 0:
        raise ValueError(
            f"samples={samples} with temperature=0: greedy decoding gives the same answer every "
            "time. Give a temperature above 0 (e.g. 0.8) to draw different samples."
        )
    if isinstance(prompts, str):
        raise ValueError(f"prompts must be a list of strings, got one string {prompts!r:.40}.")
    prompts = list(prompts)
    # Each prompt `samples` times in a row: rows of a batch draw different tokens from one seed.
    chats = [format_example(tokenizer, p)[0] for p in prompts for _ in range(samples)]
    answers = []
    for start in range(0, len(chats), BATCH_SIZE):
        batch = chats[start : start + BATCH_SIZE]
        real = len(batch)
        if len(chats) > BATCH_SIZE:  # fill the last batch: one shape, one compilation
            batch = batch + [batch[0]] * (BATCH_SIZE - real)
        new_ids = generate(
            model, batch, max_new_tokens, temperature=temperature, top_k=top_k,
            seed=seed, end_token_id=tokenizer.end_id,
        )  # fmt: skip
        answers.extend(tokenizer.decode(ids) for ids in new_ids[:real])
    if samples == 1:
        return answers
    return [answers[i : i + samples] for i in range(0, len(answers), samples)]


def evaluate_task(
    model,
    tokenizer,
    task,
    n=200,
    split="test",
    k=1,
    samples=1,
    temperature=0.0,
    seed=0,
    max_new_tokens=None,
):
    """Score ``model`` on ``n`` prompts of ``task``'s ``split``.

    An answer is right when it equals the reference exactly (``exact_match``; for these tasks
    the same verdict as ``task.check``). With ``samples=1`` (greedy by default) each prompt gets
    one answer. With ``samples > 1`` (and a temperature) each prompt gets ``samples``
    answers; ``pass_at_k`` is the mean over prompts of ``pass_at_k(samples, right, k)`` and
    ``exact_match`` the fraction of all samples that are right (pass@1).

    Args:
        model, tokenizer: as for ``complete``.
        task: a ``tasks.Task``.
        n: prompts to score.
        split: ``"test"`` (held out) or ``"train"``.
        k: the ``k`` of pass@k (at most ``samples``).
        samples, temperature: as for ``complete``.
        seed: draws the prompts (``task.examples``) and the samples.
        max_new_tokens: ``None``: the longest reference answer's tokens plus one (room for the
            end token; a longer answer is wrong anyway).

    Returns:
        ``{"task", "split", "n", "samples", "exact_match", "pass_at_k", "k", "rows"}``:
        ``pass_at_k`` is ``None`` when ``samples == 1``; ``rows`` holds the first few
        ``(prompt, answer, reference, correct)`` for printing (the first sample of each prompt).
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= samples:
        raise ValueError(
            f"k={k!r} must be an integer in [1, samples={samples}]: pass@k needs at least k "
            "samples per prompt (give samples >= k, and a temperature above 0)."
        )
    examples = task.examples(n, split=split, seed=seed)
    prompts = [e.prompt for e in examples]
    references = [e.answer for e in examples]
    if max_new_tokens is None:
        max_new_tokens = max(len(tokenizer.encode(r)) for r in references) + 1
    answers = complete(model, tokenizer, prompts, max_new_tokens, temperature=temperature,
                       seed=seed, samples=samples)  # fmt: skip
    per_prompt = [[a] for a in answers] if samples == 1 else answers
    right = [[a == r for a in group] for group, r in zip(per_prompt, references, strict=True)]
    rows = [
        (p, group[0], r, ok[0])
        for p, group, r, ok in zip(prompts, per_prompt, references, right, strict=True)
    ][:ROWS_SHOWN]
    return {
        "task": task.name,
        "split": split,
        "n": len(examples),
        "samples": samples,
        "exact_match": exact_match(
            [a for group in per_prompt for a in group],
            [r for r in references for _ in range(samples)],
        ),
        "pass_at_k": (
            float(np.mean([pass_at_k(samples, sum(ok), k) for ok in right]))
            if samples > 1
            else None
        ),
        "k": k,
        "rows": rows,
    }
