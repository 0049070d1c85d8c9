"""preferences.py: near misses of worked examples, written out by hand; every rejected answer
fails the checker and every chosen one passes, for the four tasks; held-out pairs share no prompt
with training pairs; seeds; and pairs ranked from samples (known samples, then a real model)."""

import dataclasses
import random

import keras
import pytest

from llm_keras.alignment import preferences
from llm_keras.alignment.preferences import (
    NEAR_MISS_KINDS,
    PreferencePair,
    near_misses,
    preference_pairs,
    sampled_pairs,
)
from llm_keras.finetuning import evaluate
from llm_keras.finetuning.chat_template import add_chat_tokens
from llm_keras.finetuning.tasks import TASKS, get_task
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from tests.llm_keras.training.conftest import tiny_gpt  # noqa: F401  (one torch thread)


def every_near_miss(task, prompt, draws=200):
    """``{kind: every answer near_misses picked for it over many rngs}``."""
    seen = {}
    for seed in range(draws):
        for kind, answer in near_misses(task, prompt, random.Random(seed)):
            seen.setdefault(kind, set()).add(answer)
    return seen


# Each near miss a reference allows, kind by kind, written out by hand.
WORKED_EXAMPLES = [
    # "55": no two different neighbours to swap; a space is not a character of arithmetic.
    (get_task("arithmetic"), "47+8", {
        "off_by_one": {"45", "65", "54", "56"},
        "wrong_format": {"055", "+55"},
        "truncated": {"5"},
    }),
    # "10": the leading 1 may not become 0 ("00"), the 0 may not become -1.
    (get_task("arithmetic"), "3+7", {
        "off_by_one": {"20", "11"},
        "swapped": {"01"},
        "wrong_format": {"010", "+10"},
        "truncated": {"1"},
    }),
    # A negative answer: digits off by one after the sign, no "+" before a "-".
    (get_task("arithmetic"), "8-47", {
        "off_by_one": {"-29", "-49", "-38"},  # 9 + 1 is no digit
        "swapped": {"-93"},
        "wrong_format": {"-039"},
        "truncated": {"-3"},
    }),
    # Without subtraction there is no "-": "0" has no neighbour below.
    (get_task("arithmetic", operations="+"), "0+0", {
        "off_by_one": {"1"},
        "wrong_format": {"00", "+0"},
        "truncated": {""},
    }),
    (get_task("reverse"), "reverse stone", {
        "off_by_one": {"dnots", "fnots", "emots", "eoots", "enpts", "ennts", "enous",
                       "enoss", "enotr", "enott"},
        "swapped": {"neots", "eonts", "entos", "enost"},
        "wrong_format": {" enots", "enots "},
        "truncated": {"enot"},
    }),
    (get_task("count"), "count e in cheese", {
        "off_by_one": {"2", "4"},
        "wrong_format": {" 3", "3 ", "03"},
        "truncated": {""},
    }),
    # "aab": "a" has no letter before it; the two a's cannot be swapped with each other.
    (get_task("sort"), "sort aba", {
        "off_by_one": {"bab", "abb", "aaa", "aac"},
        "swapped": {"aba"},
        "wrong_format": {" aab", "aab "},
        "truncated": {"aa"},
    }),
]  # fmt: skip


@pytest.mark.parametrize("task, prompt, expected", WORKED_EXAMPLES)
def test_near_misses_of_worked_examples(task, prompt, expected):
    assert every_near_miss(task, prompt) == expected
    # One of each kind, in the order of NEAR_MISS_KINDS.
    kinds = [kind for kind, _ in near_misses(task, prompt, random.Random(0))]
    assert kinds == [kind for kind in NEAR_MISS_KINDS if kind in expected]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_rejected_answer_fails_the_checker_and_every_chosen_passes(name):
    task = get_task(name)
    pairs = preference_pairs(task, 300, seed=0)
    assert len(pairs) == 300 and len({p.prompt for p in pairs}) == 300
    for pair in pairs:
        assert isinstance(pair, PreferencePair)
        assert task.check(pair.prompt, pair.chosen)
        assert not task.check(pair.prompt, pair.rejected)
        assert set(pair.rejected) <= set(task.characters)  # the task's tokenizer encodes it
        assert pair.kind in NEAR_MISS_KINDS
        for kind, answer in near_misses(task, pair.prompt, random.Random(1)):
            assert not task.check(pair.prompt, answer), (kind, answer)
    kinds = {pair.kind for pair in pairs}
    # "count" answers of two different digits (10 and more) are rare: it may not swap.
    expected = set(NEAR_MISS_KINDS) - ({"swapped"} if name == "count" else set())
    assert kinds >= expected
    # The kind is drawn uniformly among those a reference allows: no kind dominates.
    shares = {kind: sum(p.kind == kind for p in pairs) / len(pairs) for kind in expected}
    assert min(shares.values()) > 0.1, shares


def test_counting_answers_of_two_digits_are_swapped():
    task = get_task("count", min_length=10, max_length=12)
    pairs = preference_pairs(task, 200, seed=0)
    swapped = [p for p in pairs if p.kind == "swapped"]
    assert swapped
    for pair in swapped:
        assert pair.rejected == pair.chosen[::-1] and not task.check(pair.prompt, pair.rejected)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_held_out_pairs_never_share_a_prompt_with_training_pairs(name):
    task = get_task(name)
    train = {p.prompt for seed in range(3) for p in preference_pairs(task, 200, "train", seed)}
    test = {p.prompt for seed in range(3) for p in preference_pairs(task, 50, "test", seed)}
    assert len(train) > 200 and len(test) > 50  # other seeds draw other prompts
    assert not train & test
    assert {task.split_of(p) for p in test} == {"test"}


def test_pairs_are_reproducible_by_seed():
    task = get_task("reverse")
    assert preference_pairs(task, 50, seed=3) == preference_pairs(task, 50, seed=3)
    assert preference_pairs(task, 50, seed=3) != preference_pairs(task, 50, seed=4)
    assert preference_pairs(task, 0) == []


def test_bad_arguments_are_named():
    task = get_task("arithmetic")
    with pytest.raises(ValueError, match="rng must be a random.Random"):
        near_misses(task, "1+2", 0)
    with pytest.raises(ValueError, match="is not a prompt of ArithmeticTask"):
        near_misses(task, "reverse abc", random.Random(0))
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        preference_pairs(task, 5, split="dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        PreferencePair("1+2", "3", "4", "off_by_one").chosen = "5"


# --- pairs from samples ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    task = get_task("arithmetic", digits=1, operations="+")
    return add_chat_tokens(CharTokenizer("0123456789"), task.characters)


def test_sampled_pairs_rank_known_samples_with_the_checker(monkeypatch, tokenizer):
    task = get_task("arithmetic", digits=1, operations="+")
    prompts = [e.prompt for e in task.examples(4, seed=7)]
    references = [task.solve(p) for p in prompts]
    wrong = [str(int(r) + 1) for r in references]
    samples = [
        [wrong[0], references[0], wrong[0] + "0", references[0]],  # right and wrong: a pair
        [references[1]] * 4,                                       # always right: no pair
        [wrong[2], "", "+", wrong[2]],                             # always wrong: no pair
        # A chat token's text cannot be a response: the next wrong answer is taken.
        ["<|user|>", references[3], "<|end|>7", wrong[3]],
    ]  # fmt: skip
    calls = []

    def fake_complete(model, tokenizer_, prompts_, max_new_tokens, **options):
        calls.append((model, tokenizer_, prompts_, max_new_tokens, options))
        return samples

    monkeypatch.setattr(preferences, "complete", fake_complete)
    pairs = sampled_pairs("model", tokenizer, task, 4, samples=4, temperature=0.7, seed=7)
    assert pairs == [
        PreferencePair(prompts[0], references[0], wrong[0], "sampled"),
        PreferencePair(prompts[3], references[3], wrong[3], "sampled"),
    ]
    ((model, tokenizer_, prompts_, max_new_tokens, options),) = calls
    assert (model, tokenizer_, prompts_) == ("model", tokenizer, prompts)
    assert options == {"temperature": 0.7, "seed": 7, "samples": 4}
    # The longest reference of one-digit sums ("18" at most) plus the end token.
    assert max_new_tokens == max(len(r) for r in references) + 1


def test_sampled_pairs_from_a_real_model(monkeypatch, tokenizer):
    task = get_task("arithmetic", digits=1, operations="+")
    keras.utils.set_random_seed(0)
    config = GPTConfig.preset("shakespeare-char-cpu", vocab_size=tokenizer.vocab_size,
                              context_length=16, d_model=32, n_layers=1, n_heads=2)  # fmt: skip
    model = GPT(config)
    drawn = []

    def recording_complete(*args, **options):
        answers = evaluate.complete(*args, **options)
        drawn.append(answers)
        return answers

    monkeypatch.setattr(preferences, "complete", recording_complete)
    pairs = sampled_pairs(model, tokenizer, task, 6, samples=3, seed=1)
    (answers,) = drawn
    assert len(answers) == 6 and all(len(group) == 3 for group in answers)
    assert all(isinstance(a, str) and len(tokenizer.encode(a)) <= 3 for g in answers for a in g)
    prompts = [e.prompt for e in task.examples(6, seed=1)]
    expected_prompts = [
        p for p, group in zip(prompts, answers, strict=True)
        if any(task.check(p, a) for a in group) and not all(task.check(p, a) for a in group)
    ]  # fmt: skip
    assert [pair.prompt for pair in pairs] == expected_prompts
    for pair in pairs:
        group = answers[prompts.index(pair.prompt)]
        assert pair.kind == "sampled" and pair.chosen in group and pair.rejected in group
        assert task.check(pair.prompt, pair.chosen) and not task.check(pair.prompt, pair.rejected)


def test_sampled_pairs_need_several_samples_and_a_temperature(tokenizer):
    task = get_task("arithmetic", digits=1, operations="+")
    with pytest.raises(ValueError, match="at least 2 samples"):
        sampled_pairs(None, tokenizer, task, 4, samples=1)
    with pytest.raises(ValueError, match="temperature above 0"):
        sampled_pairs(None, tokenizer, task, 4, temperature=0)
