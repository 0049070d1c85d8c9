"""Tasks a program can check exactly (week 6, "Tasks with exact answers").

To measure what fine-tuning teaches, we need tasks whose every answer a program can verify, so
that "the model got better" is a number and not an opinion (the anchor courses ask a second,
larger LLM to judge; we cannot, offline on a CPU). Four small ones, each made by code from a seed:

    task                   prompt               answer
    ArithmeticTask()       "47+8"               "55"       (subtraction may go below 0: "8-47" -> "-39")
    ReverseTask()          "reverse stone"      "enots"
    CountLetterTask()      "count e in cheese"  "3"
    SortLettersTask()      "sort dcab"          "abcd"

Every task answers three questions:

- ``solve(prompt)``: the reference answer, computed by ordinary Python (``int``, ``sorted``,
  ``str.count``);
- ``check(prompt, answer)``: ``answer == solve(prompt)``, exactly: no stripping of spaces, no
  "close enough". An answer of the wrong format (``"55 "``, ``"fifty-five"``, ``None``) is simply
  ``False``; cut the generated text at the end-of-turn token before checking it;
- ``split_of(prompt)``: ``"train"`` or ``"test"``.

**Splits that can never overlap.** A held-out set only measures generalisation if none of its
prompts was trained on. Drawing "the first 90 % of the examples for training" is fragile: another
seed, or asking for more examples, moves prompts from one side to the other. Here a prompt's split
is a property of the prompt itself: the SHA-256 hash of the task's name and the prompt, read as an
integer, is ``0 mod 10`` for the 10 % of prompts held out as ``"test"``. ``examples(n, split, seed)``
draws random prompts and keeps those of the requested split, so whatever ``n`` and ``seed`` a
training run and an evaluation use, they never share a prompt.

    >>> task = get_task("arithmetic", digits=2)
    >>> train = task.examples(1000, split="train", seed=0)   # 1000 distinct prompts
    >>> test = task.examples(100, split="test", seed=1)      # none of them in train
    >>> train[0]
    Example(prompt='...', answer='...')
    >>> task.check(train[0].prompt, train[0].answer)
    True

``task.characters`` lists every character a prompt or an answer can contain: a character tokenizer
trained on TinyShakespeare has no digits but ``3``, and no ``+`` or ``=``, so the chat tokenizer
adds the missing ones (``chat_template.add_chat_tokens``).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass

SPLITS = ("train", "test")
# One prompt in HELD_OUT_EVERY is held out for testing: 10 %.
HELD_OUT_EVERY = 10
# Prompt spaces at most this large are enumerated once, to count each split exactly.
ENUMERATION_LIMIT = 200_000
# After this many draws in a row without a new prompt of the split, a small task draws the
# prompts it has left uniformly.
MAX_MISSES = 1000
LETTERS = string.ascii_lowercase


@dataclass(frozen=True)
class Example:
    """One prompt (the user's text) and its reference answer (the assistant's text)."""

    prompt: str
    answer: str


class Task:
    """The base class of the tasks: prompts, reference answers, an exact checker, splits.

    Subclasses set ``name`` and implement ``solve``, ``_random_prompt(rng)``, ``_all_prompts()``,
    ``num_prompts`` and ``characters``.
    """

    name: str = ""

    # --- what each task defines --------------------------------------------------------------
    def solve(self, prompt: str) -> str:
        """The reference answer to ``prompt``; a ValueError if ``prompt`` is not of this task."""
        raise NotImplementedError

    def _random_prompt(self, rng: random.Random) -> str:
        """One prompt drawn with ``rng``; every prompt of the task has a chance."""
        raise NotImplementedError

    def _all_prompts(self) -> Iterator[str]:
        """Every prompt ``_random_prompt`` can draw, each once."""
        raise NotImplementedError

    @property
    def num_prompts(self) -> int:
        """How many different prompts the task can draw (both splits together)."""
        raise NotImplementedError

    @property
    def characters(self) -> str:
        """Every character a prompt or an answer can contain, sorted, each once."""
        raise NotImplementedError

    @property
    def options(self) -> dict:
        """The options this task was made with: ``get_task(task.name, **task.options)`` rebuilds it."""
        return {}

    # --- shared by every task ----------------------------------------------------------------
    def check(self, prompt: str, answer) -> bool:
        """Whether ``answer`` is exactly ``solve(prompt)``.

        An answer of the wrong type or format is ``False``, never an error; a ``prompt`` that is
        not of this task raises a ValueError (it is a mistake of the caller, not of the model).
        """
        return isinstance(answer, str) and answer == self.solve(prompt)

    def split_of(self, prompt: str) -> str:
        """``"test"`` for the 10 % of prompts whose hash is 0 mod 10, ``"train"`` for the others.

        The hash is SHA-256 of ``"<task name>\\n<prompt>"``: it depends on nothing else (not the
        seed, not the task's options), so a prompt is on the same side in every run.
        """
        digest = hashlib.sha256(f"{self.name}\n{prompt}".encode()).digest()
        return "test" if int.from_bytes(digest[:8], "big") % HELD_OUT_EVERY == 0 else "train"

    def examples(self, n: int, split: str = "train", seed: int = 0) -> list[Example]:
        """``n`` examples with distinct prompts, all from ``split``, the same for the same seed.

        Prompts are drawn at random (``random.Random`` seeded with the task's name and ``seed``)
        and kept when they are of ``split`` and not drawn before. A small task asked for nearly
        all of a split draws the last prompts uniformly among those left (after ``MAX_MISSES``
        draws in a row found nothing new).

        Args:
            n: how many examples (``n >= 0``).
            split: ``"train"`` or ``"test"``.
            seed: an integer; the same seed gives the same examples in the same order.

        Returns:
            ``list[Example]`` of length ``n``.

        Raises:
            ValueError: for a bad ``n``, ``split`` or ``seed``, or when the split has fewer than
                ``n`` prompts (the message says how many it has).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got n={n!r}.")
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}: choose 'train' or 'test'.")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got seed={seed!r}.")
        self._check_enough(n, split)
        rng = random.Random(f"{self.name}/{seed}")
        prompts: dict[str, None] = {}  # insertion-ordered set
        misses = 0  # draws in a row that gave nothing new
        while len(prompts) < n:
            if misses == MAX_MISSES and self.split_size(split) is not None:
                # A small task nearly exhausted: the prompts left may be ones the generator
                # rarely draws, so draw the rest uniformly among them.
                left = [prompt for prompt in self._split_prompts(split) if prompt not in prompts]
                prompts.update(dict.fromkeys(rng.sample(left, n - len(prompts))))
                break
            prompt = self._random_prompt(rng)
            if prompt in prompts or self.split_of(prompt) != split:
                misses += 1
                continue
            prompts[prompt] = None
            misses = 0
        return [Example(prompt, self.solve(prompt)) for prompt in prompts]

    def split_size(self, split: str) -> int | None:
        """How many prompts ``split`` holds, or ``None`` when there are too many to count
        (more than ``ENUMERATION_LIMIT`` prompts in all; then about 10 % are ``"test"``)."""
        if self.num_prompts > ENUMERATION_LIMIT:
            return None
        return len(self._split_prompts(split))

    def _split_prompts(self, split: str) -> list[str]:
        """Every prompt of ``split``, in ``_all_prompts`` order (computed once per task)."""
        if not hasattr(self, "_splits"):
            self._splits = {name: [] for name in SPLITS}
            for prompt in self._all_prompts():
                self._splits[self.split_of(prompt)].append(prompt)
        return self._splits[split]

    def _check_enough(self, n: int, split: str) -> None:
        size = self.split_size(split)
        if size is not None:
            if n > size:
                raise ValueError(
                    f"n={n} is more than the {size} prompts of the {split!r} split of {self!r} "
                    f"({self.num_prompts} prompts in all): ask for at most {size}, or make the "
                    "task larger (more digits, longer words)."
                )
            return
        # Too many prompts to count: each split holds about its share of them. Drawing more than
        # half of a split at random would take ever longer to find the last new prompts.
        share = 1 / HELD_OUT_EVERY if split == "test" else 1 - 1 / HELD_OUT_EVERY
        expected = int(self.num_prompts * share)
        if n > expected // 2:
            raise ValueError(
                f"n={n} is more than half of the about {expected} prompts of the {split!r} split "
                f"of {self!r}: ask for at most {expected // 2}."
            )

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"{type(self).__name__}({options})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.options == self.options

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.options.items())))


def _not_a_prompt(task: Task, prompt, form: str) -> ValueError:
    return ValueError(f"{prompt!r} is not a prompt of {task!r}: expected {form}.")


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}.")


class _WordTask(Task):
    """A task on a word of random lowercase letters, ``min_length`` to ``max_length`` long."""

    def __init__(self, min_length: int, max_length: int):
        _check_positive("min_length", min_length)
        _check_positive("max_length", max_length)
        if min_length > max_length:
            raise ValueError(
                f"min_length={min_length} is larger than max_length={max_length}: words are "
                "min_length to max_length letters long, so min_length <= max_length."
            )
        self.min_length = min_length
        self.max_length = max_length

    @property
    def options(self) -> dict:
        return {"min_length": self.min_length, "max_length": self.max_length}

    def _lengths(self) -> range:
        return range(self.min_length, self.max_length + 1)

    def _num_words(self) -> int:
        return sum(len(LETTERS) ** length for length in self._lengths())

    def _all_words(self) -> Iterator[str]:
        for length in self._lengths():
            for letters in itertools.product(LETTERS, repeat=length):
                yield "".join(letters)

    def _random_word(self, rng: random.Random) -> str:
        length = rng.randint(self.min_length, self.max_length)
        return "".join(rng.choice(LETTERS) for _ in range(length))


class ArithmeticTask(Task):
    """Adding or subtracting two whole numbers: ``"47+8"`` -> ``"55"``, ``"8-47"`` -> ``"-39"``.

    Each operand has 1 to ``digits`` digits: first its number of digits is drawn uniformly,
    then the number (so ``"3+5"`` is as likely as ``"31+57"``, although there are 90 two-digit
    numbers and 10 one-digit ones). The answer is Python's integer result, written without
    leading zeros or a ``+`` sign. ``solve`` answers any prompt of this form, whatever its
    number of digits.

    Args:
        digits: the most digits of an operand (``>= 1``).
        operations: which of ``"+"`` and ``"-"`` to use (``"+-"``, ``"+"`` or ``"-"``).
    """

    name = "arithmetic"
    _FORM = re.compile(r"(0|[1-9][0-9]*)([+-])(0|[1-9][0-9]*)")

    def __init__(self, digits: int = 2, operations: str = "+-"):
        _check_positive("digits", digits)
        if (
            not isinstance(operations, str)
            or not operations
            or set(operations) - set("+-")
            or len(set(operations)) != len(operations)
        ):
            raise ValueError(
                f"operations={operations!r}: choose '+-', '+' or '-' (the operations this task "
                "draws, each once)."
            )
        self.digits = digits
        self.operations = operations

    @property
    def options(self) -> dict:
        return {"digits": self.digits, "operations": self.operations}

    def solve(self, prompt: str) -> str:
        match = self._FORM.fullmatch(prompt) if isinstance(prompt, str) else None
        if match is None:
            raise _not_a_prompt(self, prompt, "two whole numbers joined by + or -, like '47+8'")
        a, operation, b = int(match[1]), match[2], int(match[3])
        return str(a + b if operation == "+" else a - b)

    def _random_operand(self, rng: random.Random) -> int:
        length = rng.randint(1, self.digits)
        return rng.randrange(0 if length == 1 else 10 ** (length - 1), 10**length)

    def _random_prompt(self, rng: random.Random) -> str:
        a = self._random_operand(rng)
        operation = rng.choice(self.operations)
        return f"{a}{operation}{self._random_operand(rng)}"

    def _all_prompts(self) -> Iterator[str]:
        numbers = range(10**self.digits)
        for operation, a, b in itertools.product(self.operations, numbers, numbers):
            yield f"{a}{operation}{b}"

    @property
    def num_prompts(self) -> int:
        return len(self.operations) * 10 ** (2 * self.digits)

    @property
    def characters(self) -> str:
        # Digits and the operations: "-" is also the sign of a negative answer, which only a
        # subtraction gives.
        return "".join(sorted(set(string.digits + self.operations)))


class ReverseTask(_WordTask):
    """Reversing a word: ``"reverse stone"`` -> ``"enots"``.

    The word has ``min_length`` to ``max_length`` random lowercase letters (the length is drawn
    uniformly, then each letter).
    """

    name = "reverse"
    _FORM = re.compile(r"reverse ([a-z]+)")

    def __init__(self, min_length: int = 3, max_length: int = 6):
        super().__init__(min_length, max_length)

    def solve(self, prompt: str) -> str:
        match = self._FORM.fullmatch(prompt) if isinstance(prompt, str) else None
        if match is None:
            raise _not_a_prompt(
                self, prompt, "'reverse ' and lowercase letters, like 'reverse stone'"
            )
        return match[1][::-1]

    def _random_prompt(self, rng: random.Random) -> str:
        return f"reverse {self._random_word(rng)}"

    def _all_prompts(self) -> Iterator[str]:
        return (f"reverse {word}" for word in self._all_words())

    @property
    def num_prompts(self) -> int:
        return self._num_words()

    @property
    def characters(self) -> str:
        return "".join(sorted(set(LETTERS + "reverse ")))


class CountLetterTask(_WordTask):
    """Counting a letter in a word: ``"count e in cheese"`` -> ``"3"``.

    Words of random letters would mostly hold the letter asked about 0 or 1 times, so the count
    is drawn first: a word length ``L``, a letter, a count ``c`` uniform in ``0..L``; then ``c``
    random positions get the letter and the others random other letters. Every answer from
    ``"0"`` to ``str(max_length)`` is then common.
    """

    name = "count"
    _FORM = re.compile(r"count ([a-z]) in ([a-z]+)")

    def __init__(self, min_length: int = 4, max_length: int = 10):
        super().__init__(min_length, max_length)

    def solve(self, prompt: str) -> str:
        match = self._FORM.fullmatch(prompt) if isinstance(prompt, str) else None
        if match is None:
            raise _not_a_prompt(
                self, prompt, "'count ', a letter, ' in ' and a word, like 'count e in cheese'"
            )
        return str(match[2].count(match[1]))

    def _random_prompt(self, rng: random.Random) -> str:
        length = rng.randint(self.min_length, self.max_length)
        letter = rng.choice(LETTERS)
        count = rng.randint(0, length)
        positions = set(rng.sample(range(length), count))
        others = LETTERS.replace(letter, "")
        word = "".join(letter if i in positions else rng.choice(others) for i in range(length))
        return f"count {letter} in {word}"

    def _all_prompts(self) -> Iterator[str]:
        for letter in LETTERS:
            for word in self._all_words():
                yield f"count {letter} in {word}"

    @property
    def num_prompts(self) -> int:
        return len(LETTERS) * self._num_words()

    @property
    def characters(self) -> str:
        answers = "".join(str(count) for count in range(self.max_length + 1))
        return "".join(sorted(set(LETTERS + "count in " + answers)))


class SortLettersTask(_WordTask):
    """Sorting the letters of a word alphabetically: ``"sort dcab"`` -> ``"abcd"``.

    The word has ``min_length`` to ``max_length`` random lowercase letters; a letter may repeat
    (``"sort banana"`` -> ``"aaabnn"``).
    """

    name = "sort"
    _FORM = re.compile(r"sort ([a-z]+)")

    def __init__(self, min_length: int = 3, max_length: int = 6):
        super().__init__(min_length, max_length)

    def solve(self, prompt: str) -> str:
        match = self._FORM.fullmatch(prompt) if isinstance(prompt, str) else None
        if match is None:
            raise _not_a_prompt(self, prompt, "'sort ' and lowercase letters, like 'sort dcab'")
        return "".join(sorted(match[1]))

    def _random_prompt(self, rng: random.Random) -> str:
        return f"sort {self._random_word(rng)}"

    def _all_prompts(self) -> Iterator[str]:
        return (f"sort {word}" for word in self._all_words())

    @property
    def num_prompts(self) -> int:
        return self._num_words()

    @property
    def characters(self) -> str:
        return "".join(sorted(set(LETTERS + "sort ")))


TASKS: dict[str, type[Task]] = {
    task.name: task for task in (ArithmeticTask, ReverseTask, CountLetterTask, SortLettersTask)
}


def get_task(name: str, **options) -> Task:
    """The task called ``name`` (a key of ``TASKS``), made with ``options``.

    >>> get_task("arithmetic", digits=3)
    ArithmeticTask(digits=3, operations='+-')

    Raises:
        ValueError: for an unknown name (the message lists the known ones), an option the task
            does not have (the message lists those it has) or a bad value.
    """
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}: choose one of {', '.join(map(repr, TASKS))}.")
    task_class = TASKS[name]
    known = list(inspect.signature(task_class).parameters)
    unknown = [option for option in options if option not in known]
    if unknown:
        raise ValueError(
            f"The {name!r} task has no option {unknown[0]!r}; its options are {', '.join(known)}."
        )
    return task_class(**options)
