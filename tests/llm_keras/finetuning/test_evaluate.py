"""evaluate.py: exact match, pass@k against brute force, and generation of answers with the KV cache."""

import itertools
import math

import numpy as np
import pytest

from llm_keras.finetuning import evaluate
from llm_keras.finetuning.chat_template import add_chat_tokens, format_example
from llm_keras.finetuning.evaluate import complete, evaluate_task, exact_match, pass_at_k
from llm_keras.finetuning.tasks import Example
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from tests.llm_keras.keras_test_case import to_numpy
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)


def test_exact_match_counts_equal_strings_only():
    assert exact_match(["cba", "ab", "7"], ["cba", "ba", "7"]) == pytest.approx(2 / 3)
    # No stripping, no case folding: the model must stop and spell the answer exactly.
    assert exact_match(["cba ", "CBA", "cbaa", ""], ["cba"] * 4) == 0.0
    assert exact_match(("x" for _ in range(3)), ["x", "x", "x"]) == 1.0


@pytest.mark.parametrize(
    "predictions, references, message",
    [
        (["a"], ["a", "b"], "1 predictions and 2 references"),
        ([], [], "at least one"),
        ([[1, 2]], ["ab"], r"predictions\[0\] is list"),
    ],
)
def test_exact_match_rejects_mismatched_input(predictions, references, message):
    with pytest.raises(ValueError, match=message):
        exact_match(predictions, references)


def brute_force_pass_at_k(n, c, k):
    """The fraction of the k-subsets of n samples (c of them right) that hold a right one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_enumerating_every_subset_of_k_samples(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow_floats():
    # C(2000, 1000) ~ 1e600 is no float; the product form stays in [0, 1].
    n, c, k = 2000, 3, 1000
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)  # Python's exact integers
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-9)
    assert pass_at_k(200, 7, 1) == pytest.approx(7 / 200)  # pass@1 = c / n
    assert np.isfinite(pass_at_k(10**6, 1, 10**5))


@pytest.mark.parametrize(
    "args, message",
    [((5, 6, 1), r"c=6 right samples"), ((5, -1, 1), "c=-1"), ((5, 2, 0), r"k=0"),
     ((5, 2, 6), r"k=6 must lie in \[1, n=5\]"), ((5.0, 2, 1), "n must be an integer")],
)  # fmt: skip
def test_pass_at_k_rejects_impossible_counts(args, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(*args)


# --- answers from a model ----------------------------------------------------------------------

LETTERS = "abcd"


@pytest.fixture(scope="module")
def chat_model():
    """A tiny GPT over "abcd" and the chat tokens with weights drawn by NumPy (the same on every
    backend): its greedy answers are arbitrary but fixed, some ending with the end token early
    ("c", ""), some not ("ccccc")."""
    tokenizer = add_chat_tokens(CharTokenizer(LETTERS))
    config = GPTConfig.preset("shakespeare-char-cpu", vocab_size=tokenizer.vocab_size,
                              context_length=16, d_model=32, n_layers=1, n_heads=2)  # fmt: skip
    model = GPT(config)
    rng = np.random.default_rng(2)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model, tokenizer


def greedy_answer(model, tokenizer, prompt, max_new_tokens):
    """The reference: the whole chat through the model at each step (no cache, no batch).

    The chat is padded to the context (one shape for every call); causal attention keeps the
    padding out of the logits of the chat's last position."""
    ids = format_example(tokenizer, prompt)[0]
    new = []
    for _ in range(max_new_tokens):
        chat = ids + new
        padded = np.zeros((1, model.config.context_length), dtype="int32")
        padded[0, : len(chat)] = chat
        logits = to_numpy(model(padded))[0, len(chat) - 1]
        token = int(np.argmax(logits))
        if token == tokenizer.end_id:
            break
        new.append(token)
    return tokenizer.decode(new)


PROMPTS = ["a", "dcb", "ab", "bdca", "c", "ddd"]


@pytest.fixture(autouse=True)
def batches_of_four(monkeypatch):
    """Batches of 4 chats, the last one filled up with copies: every call below decodes batches
    of one shape (one compilation), and the filling is tested. (test_sft's evaluation decodes
    16 prompts in one batch.)"""
    monkeypatch.setattr(evaluate, "BATCH_SIZE", 4)


def test_complete_gives_the_greedy_answers_of_the_chat_prompts(chat_model):
    model, tokenizer = chat_model
    expected = [greedy_answer(model, tokenizer, p, 5) for p in PROMPTS]
    assert expected == ["ccccc", "c", "cccca", "", "ccccc", ""]  # (the same on every backend)
    assert complete(model, tokenizer, PROMPTS, 5) == expected


def test_sampled_answers_are_per_prompt_and_repeat_with_the_seed(chat_model):
    model, tokenizer = chat_model
    first = complete(model, tokenizer, PROMPTS[:2], 5, temperature=1.0, seed=4, samples=3)
    assert len(first) == 2 and all(len(group) == 3 for group in first)
    assert complete(model, tokenizer, PROMPTS[:2], 5, temperature=1.0, seed=4, samples=3) == first
    assert len({a for group in first for a in group}) > 1  # samples differ
    with pytest.raises(ValueError, match="samples=3 with temperature=0"):
        complete(model, tokenizer, PROMPTS, 5, samples=3)


class FixedTask:
    """A task of given examples (``evaluate_task`` reads ``name`` and ``examples``)."""

    name = "fixed"

    def __init__(self, examples):
        self._examples = examples

    def examples(self, n, split="test", seed=0):
        assert split == "test"
        return self._examples[:n]


def test_evaluate_task_scores_exact_answers(chat_model):
    model, tokenizer = chat_model
    greedy = complete(model, tokenizer, PROMPTS, 6)
    # References: the model's own answer for the first four prompts, another for the last two.
    references = greedy[:4] + [a + "a" for a in greedy[4:]]
    task = FixedTask([Example(p, r) for p, r in zip(PROMPTS, references, strict=True)])
    result = evaluate_task(model, tokenizer, task, n=6, max_new_tokens=6)
    assert result["exact_match"] == pytest.approx(4 / 6)
    assert result["n"] == 6 and result["pass_at_k"] is None and result["task"] == "fixed"
    assert result["rows"][0] == (PROMPTS[0], greedy[0], references[0], True)
    assert [row[3] for row in result["rows"]] == [True, True, True, True, False]


def test_evaluate_task_estimates_pass_at_k_from_samples(chat_model):
    model, tokenizer = chat_model
    samples = complete(model, tokenizer, PROMPTS, 5, temperature=1.0, seed=1, samples=4)
    # Each prompt's reference is its first sample: at least one right sample per prompt.
    task = FixedTask([Example(p, s[0]) for p, s in zip(PROMPTS, samples, strict=True)])
    right = [sum(a == s[0] for a in s) for s in samples]
    result = evaluate_task(model, tokenizer, task, n=6, k=4, samples=4, temperature=1.0, seed=1,
                           max_new_tokens=5)  # fmt: skip
    assert result["pass_at_k"] == 1.0  # 4 of 4 samples always hold the right one
    assert result["exact_match"] == pytest.approx(sum(right) / 24)  # pass@1: right / samples
    pass_at_2 = evaluate_task(model, tokenizer, task, n=6, k=2, samples=4, temperature=1.0,
                              seed=1, max_new_tokens=5)["pass_at_k"]  # fmt: skip
    assert pass_at_2 == pytest.approx(np.mean([1 - math.comb(4 - c, 2) / 6 for c in right]))
    with pytest.raises(ValueError, match=r"k=5 must be an integer in \[1, samples=4\]"):
        evaluate_task(model, tokenizer, task, k=5, samples=4, temperature=1.0)
