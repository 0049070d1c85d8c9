"""rewards.py: each reward on worked examples of the week 6 tasks (right, wrong, badly formed,
cut by the token limit), their weighted sum, a reward model's score, and the errors."""

import numpy as np
import pytest

from llm_keras.alignment.rewards import (
    ANSWER_PATTERNS,
    check_rewards,
    combined_reward,
    correctness_reward,
    format_reward,
    parse_completion,
    reward_model_reward,
)
from llm_keras.finetuning.chat_template import END, add_chat_tokens
from llm_keras.finetuning.tasks import TASKS, get_task
from llm_keras.tokenizers import CharTokenizer
from tests.llm_keras.training.conftest import tiny_gpt

# "47+8" -> "55": the completions a policy can write, and what each reward says of them.
#   completion       correct  well formed   why
ARITHMETIC = [
    ("55<|end|>", 1, 1, "right, and ended"),
    ("55", 1, 0, "right, but cut at the token limit: the checker sees '55', the format no end"),
    ("54<|end|>", 0, 1, "a number, the wrong one"),
    ("55 <|end|>", 0, 0, "a trailing space"),
    ("055<|end|>", 0, 0, "a leading zero"),
    ("fifty<|end|>", 0, 0, "not digits"),
    ("<|end|>", 0, 0, "nothing"),
]


def test_parse_completion_cuts_at_the_end_token():
    assert END == "<|end|>"
    assert parse_completion("55<|end|>") == ("55", True)
    assert parse_completion("5555") == ("5555", False)
    assert parse_completion("<|end|>") == ("", True)


def test_correctness_and_format_on_arithmetic():
    task = get_task("arithmetic")
    completions = [c for c, *_ in ARITHMETIC]
    prompts = ["47+8"] * len(completions)
    right = correctness_reward(task)(prompts, completions)
    well_formed = format_reward(task)(prompts, completions)
    assert right.dtype == well_formed.dtype == np.float32
    np.testing.assert_array_equal(right, [r for _, r, _, _ in ARITHMETIC])
    np.testing.assert_array_equal(well_formed, [f for _, _, f, _ in ARITHMETIC])
    # A negative answer is well formed for arithmetic (subtraction), not for a count.
    assert correctness_reward(task)(["8-47"], ["-39<|end|>"])[0] == 1
    assert format_reward(task)(["8-47"], ["-38<|end|>"])[0] == 1
    assert format_reward(get_task("count"))(["count e in cheese"], ["-3<|end|>"])[0] == 0


def test_the_rewards_of_the_word_tasks():
    reverse, count, sort = get_task("reverse"), get_task("count"), get_task("sort")
    prompts = ["reverse stone"] * 4
    completions = ["enots<|end|>", "stone<|end|>", "Enots<|end|>", "eno ts<|end|>"]
    np.testing.assert_array_equal(correctness_reward(reverse)(prompts, completions), [1, 0, 0, 0])
    np.testing.assert_array_equal(format_reward(reverse)(prompts, completions), [1, 1, 0, 0])
    prompts = ["count e in cheese"] * 3
    completions = ["3<|end|>", "4<|end|>", "three<|end|>"]
    np.testing.assert_array_equal(correctness_reward(count)(prompts, completions), [1, 0, 0])
    np.testing.assert_array_equal(format_reward(count)(prompts, completions), [1, 1, 0])
    assert correctness_reward(sort)(["sort dcab"], ["abcd<|end|>"])[0] == 1
    # Every task of week 6 has a known form.
    assert set(ANSWER_PATTERNS) == set(TASKS)


def test_combined_reward_is_the_weighted_sum():
    task = get_task("arithmetic")
    completions = [c for c, *_ in ARITHMETIC]
    prompts = ["47+8"] * len(completions)
    reward = combined_reward([correctness_reward(task), format_reward(task)], [1.0, 0.25])
    expected = [r + 0.25 * f for _, r, f, _ in ARITHMETIC]
    np.testing.assert_allclose(reward(prompts, completions), expected, rtol=0, atol=1e-7)
    assert reward(prompts, completions).dtype == np.float32
    # Without weights: 1 each.
    np.testing.assert_array_equal(
        combined_reward([correctness_reward(task)] * 2)(["47+8"], ["55<|end|>"]), [2.0]
    )


def test_reward_model_reward_scores_the_answer_before_the_end_token():
    from llm_keras.alignment.reward_model import RewardModel, score

    tokenizer = add_chat_tokens(CharTokenizer("0123456789"), "+-")
    reward_model = RewardModel(tiny_gpt(vocab_size=tokenizer.vocab_size), train_layers="all")
    prompts = ["47+8", "47+8", "1+1"]
    rewards = reward_model_reward(reward_model, tokenizer)(prompts, ["55<|end|>", "55", "3<|end|>"])
    assert rewards.dtype == np.float32 and rewards.shape == (3,)
    expected = score(reward_model, tokenizer, prompts, ["55", "55", "3"])
    np.testing.assert_allclose(rewards, expected, rtol=1e-6, atol=1e-6)
    assert rewards[0] == rewards[1]  # a cut answer is read as if it had ended
    assert rewards[0] != rewards[2]
    # Other chat tokens sampled into an answer: cut before the first (their text cannot be
    # encoded inside a chat), not a crash.
    broken = reward_model_reward(reward_model, tokenizer)(
        prompts, ["<|user|>1", "5<|assistant|>5<|end|>", "3<|user|><|end|>"])
    np.testing.assert_allclose(broken, score(reward_model, tokenizer, prompts, ["", "5", "3"]),
                               rtol=1e-6, atol=1e-6)  # fmt: skip


def test_the_rewards_say_what_is_wrong():
    task = get_task("arithmetic")
    with pytest.raises(ValueError, match=r"2 prompts and 1 completions: pass one per prompt"):
        correctness_reward(task)(["1+1", "2+2"], ["2<|end|>"])
    with pytest.raises(ValueError, match=r"completions must be a list of strings"):
        format_reward(task)(["1+1"], "2<|end|>")
    with pytest.raises(ValueError, match=r"completions\[0\] is list .* decode token ids first"):
        correctness_reward(task)(["1+1"], [[3, 4]])
    with pytest.raises(ValueError, match=r"task must have a check"):
        correctness_reward("arithmetic")

    class Other:
        name = "haiku"

    with pytest.raises(ValueError, match=r"No answer form is known for the task 'haiku'"):
        format_reward(Other())
    assert format_reward(Other(), pattern="[a-z ]+")(["x"], ["an old pond<|end|>"])[0] == 1
    with pytest.raises(ValueError, match=r"pattern='\[' is not a regular expression"):
        format_reward(task, pattern="[")
    with pytest.raises(ValueError, match=r"Got 1 weights for 2 rewards"):
        combined_reward([correctness_reward(task), format_reward(task)], [1.0])
    with pytest.raises(ValueError, match=r"weights\[0\]='1' must be a number"):
        combined_reward([correctness_reward(task)], ["1"])
    with pytest.raises(ValueError, match=r"non-empty list of reward functions"):
        combined_reward([])
    with pytest.raises(ValueError, match=r"returned shape \(2, 1\) for 2 completions"):
        check_rewards(np.zeros((2, 1)), 2)
    with pytest.raises(ValueError, match=r"returned nan for completion 1"):
        check_rewards([0.0, float("nan")], 2)
    with pytest.raises(ValueError, match=r"returned shape \(3,\) for 2 completions"):
        combined_reward([lambda p, c: np.zeros(3)])(["a", "b"], ["x", "y"])
