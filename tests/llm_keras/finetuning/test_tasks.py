"""Tests of the tasks with exact checkers: answers, checkers, splits, seeds, errors.

The reference answers are recomputed here from the prompt's parts with Python's own ``int``,
``sorted`` and ``str.count``, independently of the tasks' parsing.
"""

import hashlib

import pytest

from llm_keras.finetuning.tasks import (
    TASKS,
    ArithmeticTask,
    CountLetterTask,
    Example,
    ReverseTask,
    SortLettersTask,
    get_task,
)

ALL_TASKS = [ArithmeticTask(), ReverseTask(), CountLetterTask(), SortLettersTask()]


def independent_answer(task, prompt):
    if isinstance(task, ArithmeticTask):
        operation = "+" if "+" in prompt else "-"
        a, b = prompt.split(operation)
        return str(int(a) + int(b) if operation == "+" else int(a) - int(b))
    words = prompt.split(" ")
    if isinstance(task, ReverseTask):
        return "".join(reversed(words[1]))
    if isinstance(task, SortLettersTask):
        return "".join(sorted(words[1]))
    _, letter, _, word = words
    return str(sum(char == letter for char in word))


def test_documented_examples():
    assert ArithmeticTask().solve("47+8") == "55"
    assert ArithmeticTask().solve("8-47") == "-39"
    assert ReverseTask().solve("reverse stone") == "enots"
    assert CountLetterTask().solve("count e in cheese") == "3"
    assert SortLettersTask().solve("sort dcab") == "abcd"
    assert SortLettersTask().solve("sort banana") == "aaabnn"


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda task: task.name)
def test_answers_match_an_independent_computation(task):
    examples = task.examples(500, seed=3)
    for example in examples:
        assert isinstance(example, Example)
        assert example.answer == independent_answer(task, example.prompt)
        assert task.check(example.prompt, example.answer)


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda task: task.name)
def test_wrong_answers_and_formats_are_rejected(task):
    for example in task.examples(200, seed=4):
        right = example.answer
        wrong = [right + "0", right[:-1], " " + right, right + " ", right + "\n", "", None, 55]
        wrong.append(right[::-1])
        if right.lstrip("-").isdigit():
            wrong.append(str(int(right) + 1))
        for answer in wrong:
            if answer == right:  # the reverse of a palindrome, of a one-digit number
                continue
            assert task.check(example.prompt, answer) is False, (example, answer)


def test_prompts_follow_the_options():
    for example in ArithmeticTask(digits=3, operations="-").examples(300, seed=0):
        a, b = example.prompt.split("-")
        assert 0 <= int(a) < 1000 and 0 <= int(b) < 1000
    # Operands' digit counts are drawn uniformly: a third of them would have 1 digit (1 % if the
    # numbers were uniform in 0..999); fewer, since the prompts are distinct and only 200 have
    # two one-digit operands.
    operands = [
        operand
        for example in ArithmeticTask(digits=3).examples(2000, seed=1)
        for operand in example.prompt.replace("-", "+").split("+")
    ]
    one_digit = sum(len(operand) == 1 for operand in operands) / len(operands)
    assert 0.25 < one_digit < 0.34
    for task in (ReverseTask(2, 4), SortLettersTask(5, 5), CountLetterTask(1, 3)):
        lengths = {len(example.prompt.split(" ")[-1]) for example in task.examples(300, seed=0)}
        assert lengths == set(range(task.min_length, task.max_length + 1))


def test_count_answers_cover_every_count():
    answers = [int(e.answer) for e in CountLetterTask(4, 10).examples(3000, seed=0)]
    assert set(answers) == set(range(11))
    assert sum(answer == 0 for answer in answers) / len(answers) < 0.2


def test_subtraction_gives_negative_answers():
    answers = [e.answer for e in ArithmeticTask(digits=2, operations="-").examples(500)]
    negative = sum(answer.startswith("-") for answer in answers) / len(answers)
    assert 0.3 < negative < 0.6


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda task: task.name)
def test_characters_cover_every_prompt_and_answer(task):
    seen = set()
    for example in task.examples(3000, seed=0):
        seen.update(example.prompt + example.answer)
    assert set(task.characters) >= seen
    assert task.characters == "".join(sorted(set(task.characters)))
    # Nothing listed that cannot appear (on 3000 examples every character does).
    assert set(task.characters) == seen


def test_characters_of_options():
    assert ArithmeticTask(operations="+").characters == "+0123456789"
    assert CountLetterTask(1, 3).characters == " 0123abcdefghijklmnopqrstuvwxyz"


def test_split_is_sha256_of_name_and_prompt():
    task = ReverseTask()
    for example in task.examples(50, seed=0) + task.examples(50, split="test", seed=0):
        digest = hashlib.sha256(("reverse\n" + example.prompt).encode()).digest()
        expected = "test" if int.from_bytes(digest[:8], "big") % 10 == 0 else "train"
        assert task.split_of(example.prompt) == expected


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda task: task.name)
def test_splits_never_overlap_whatever_the_seed(task):
    train = {e.prompt for seed in range(3) for e in task.examples(1500, "train", seed)}
    test = {e.prompt for seed in range(3) for e in task.examples(150, "test", seed)}
    assert not train & test
    assert {task.split_of(p) for p in train} == {"train"}
    assert {task.split_of(p) for p in test} == {"test"}


def test_whole_small_task_splits_about_one_in_ten():
    task = ArithmeticTask(digits=2)  # 20,000 prompts
    test_size, train_size = task.split_size("test"), task.split_size("train")
    assert test_size + train_size == 20_000
    assert 1800 < test_size < 2200  # binomial(20000, 0.1): 2000 +- 42
    small = ArithmeticTask(digits=1)  # 200 prompts, every one of them drawn below
    test = small.examples(small.split_size("test"), "test", seed=0)
    train = small.examples(small.split_size("train"), "train", seed=0)
    prompts = {e.prompt for e in test} | {e.prompt for e in train}
    assert len(prompts) == 200
    expected = {f"{a}{op}{b}" for op in "+-" for a in range(10) for b in range(10)}
    assert prompts == expected


def test_whole_split_of_a_skewed_small_task():
    # Half the draws of CountLetterTask(1, 1) are "count x in x": the 25 * 26 others are rare,
    # and the last ones are drawn uniformly among those left.
    task = CountLetterTask(1, 1)
    train = task.examples(task.split_size("train"), "train", seed=0)
    test = task.examples(task.split_size("test"), "test", seed=0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    expected = {f"count {x} in {y}" for x in letters for y in letters}
    assert {e.prompt for e in train} | {e.prompt for e in test} == expected
    assert len(train) + len(test) == 676


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda task: task.name)
def test_examples_are_distinct_and_reproducible(task):
    first = task.examples(400, seed=7)
    assert first == task.examples(400, seed=7)
    assert len({e.prompt for e in first}) == 400
    other = task.examples(400, seed=8)
    # Mostly different prompts (two-digit sums share the 200 prompts of one-digit operands).
    assert len({e.prompt for e in first} & {e.prompt for e in other}) < 100


def test_same_seed_differs_between_tasks():
    reverse = [e.prompt.split(" ")[1] for e in ReverseTask().examples(50, seed=0)]
    sort = [e.prompt.split(" ")[1] for e in SortLettersTask().examples(50, seed=0)]
    assert reverse != sort


def test_too_many_examples_says_how_many_exist():
    task = ArithmeticTask(digits=1)  # 200 prompts
    size = task.split_size("test")
    assert len(task.examples(size, "test")) == size
    with pytest.raises(ValueError, match=rf"n={size + 1} is more than the {size} prompts"):
        task.examples(size + 1, "test")
    with pytest.raises(ValueError, match=r"n=100001 is more than half of the about 200000"):
        ArithmeticTask(digits=3).examples(100_001, "test")


def test_check_on_a_prompt_of_another_task_is_an_error():
    with pytest.raises(ValueError, match=r"'sort abc' is not a prompt of ArithmeticTask"):
        ArithmeticTask().check("sort abc", "abc")
    with pytest.raises(ValueError, match="not a prompt of ReverseTask"):
        ReverseTask().solve("reverse Stone")
    with pytest.raises(ValueError, match="not a prompt of ArithmeticTask"):
        ArithmeticTask().solve("007+1")


def test_bad_examples_arguments():
    task = ReverseTask()
    with pytest.raises(ValueError, match=r"n must be a non-negative integer, got n=-1"):
        task.examples(-1)
    with pytest.raises(ValueError, match=r"Unknown split 'valid': choose 'train' or 'test'"):
        task.examples(3, split="valid")
    with pytest.raises(ValueError, match=r"seed must be an integer"):
        task.examples(3, seed=1.5)
    assert task.examples(0) == []


def test_get_task():
    assert set(TASKS) == {"arithmetic", "reverse", "count", "sort"}
    task = get_task("arithmetic", digits=3, operations="+")
    assert task == ArithmeticTask(3, "+")
    assert get_task(task.name, **task.options) == task
    assert repr(task) == "ArithmeticTask(digits=3, operations='+')"
    for name, task_class in TASKS.items():
        assert isinstance(get_task(name), task_class) and get_task(name).name == name


def test_get_task_errors():
    with pytest.raises(ValueError, match=r"Unknown task 'add'.*'arithmetic', 'reverse', 'count'"):
        get_task("add")
    with pytest.raises(ValueError, match=r"has no option 'digits'; its options are min_length"):
        get_task("reverse", digits=2)
    with pytest.raises(ValueError, match=r"digits must be a positive integer, got digits=0"):
        get_task("arithmetic", digits=0)
    with pytest.raises(ValueError, match=r"operations='\*'"):
        get_task("arithmetic", operations="*")
    with pytest.raises(ValueError, match=r"min_length=5 is larger than max_length=2"):
        get_task("sort", min_length=5, max_length=2)
    with pytest.raises(ValueError, match=r"min_length must be a positive integer"):
        get_task("count", min_length=0)
