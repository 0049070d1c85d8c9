"""Teaching notes on a week's graded exercises, for the instructor edition, made from the grader.

Nothing here is typed by hand; each note comes from a source that the autograder's own tests
keep right:

- the notebook (``solutions/<week>/*.ipynb``): each exercise's check cell and its nbgrader
  points, in the notebook's order;
- the hidden probes (``autograder/probes/<week>/*.py``): what each exercise grades (the module's
  docstring), the names it takes from the learner's notebook, the library pieces that earn no
  credit (``EXERCISE.graded``), and each check's name, share of the points and hint (``CHECKS``).
  The notes describe the checks, never the probes' inputs;
- the corpus of wrong answers (``tests/course/weeks/corpus.py``): each ``Case`` is a typical
  mistake with the points it loses per exercise (``test_grading.py`` grades every case and
  asserts exactly those points) and the comment written above it;
- what grading the corpus found (``tests/course/weeks/failing_checks.json``): the checks each
  case fails, on which backends, and what its feedback says about each (the check's hint
  included). The build cannot grade (minutes per week), so grading stores this and
  ``test_grading.py`` asserts that the stored file equals what grading finds
  (``tests/course/weeks/failing_checks.py`` says how to regenerate it).
"""

from __future__ import annotations

import ast
import html
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from autograder.wording import series
from weasyprint_build.chapters import DOUBLE_BACKQUOTED, curly_quotes
from weasyprint_build.errors import BuildError

CORPUS = Path("tests") / "course" / "weeks" / "corpus.py"
FAILING_CHECKS = Path("tests") / "course" / "weeks" / "failing_checks.json"
REGENERATE = ("regenerate it by grading the corpus: LLM_COURSE_UPDATE_FAILING_CHECKS=1 CI=true "
              "python -m pytest tests/course/weeks/test_grading.py -k stored_failing_checks")
PROBES = Path("autograder") / "probes"
# Cases of the corpus that are not mistakes: right answers (the reference, other right ways)
# lose nothing, and the release (every answer missing) loses everything.
_NOT_A_MISTAKE = ("release",)


@dataclass
class CheckNote:
    name: str
    points: float  # this check's share of the exercise's points
    hint: str


@dataclass
class Mistake:
    name: str  # the corpus case's name, in words
    explanation: str  # the comment above the case
    lost: dict[str, float]  # exercise -> points lost
    backends: tuple[str, ...]  # the backends the case is graded on
    # exercise -> check -> {"backends": where it fails, "feedback": what the feedback says}
    failing: dict[str, dict[str, dict]]


@dataclass
class ExerciseNote:
    name: str  # the probe's exercise name
    number: int  # 1, 2, ... in the notebook's order
    names: tuple[str, ...]  # what the learner writes
    points: float  # the check cell's nbgrader points
    summary: str  # the probe's docstring
    checks: list[CheckNote]
    no_credit: tuple[str, ...]  # library pieces that earn no credit
    uses: tuple[str, ...]
    mistakes: list[Mistake] = field(default_factory=list)


@dataclass
class WeekNotes:
    week: str
    exercises: list[ExerciseNote]
    cases: int  # corpus cases of this week (mistakes and right answers)

    @property
    def points(self) -> float:
        return sum(exercise.points for exercise in self.exercises)


def week_notes(repo_root: Path, week: str, notebook) -> WeekNotes | None:
    """The notes of ``notebook`` (an nbgrader source notebook of ``week``), or None when the
    repository has no probes for its check cells (a notebook the autograder does not grade)."""
    probe_dir = repo_root / PROBES / week
    if not probe_dir.is_dir():
        return None
    from autograder.probes import ProbeError, load_probe

    probes = {}
    for path in sorted(probe_dir.glob("[!_]*.py")):
        try:
            probe = load_probe(path)
        except ProbeError as error:
            raise BuildError(
                f"The instructor edition's teaching notes read the probes: {error} "
                "(autograder/README.md says what a probe module defines)."
            ) from None
        probes[probe.exercise.grade_cell] = probe
    exercises = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        probe = probes.get(meta.get("grade_id")) if meta.get("grade") else None
        if probe is None:
            continue
        points = float(meta.get("points", 0))
        weights = sum(check.weight for check in probe.checks)
        exercises.append(
            ExerciseNote(
                name=probe.exercise.name,
                number=len(exercises) + 1,
                names=tuple(probe.exercise.names),
                points=points,
                summary=_docstring(probe.path),
                checks=[
                    CheckNote(check.name, points * check.weight / weights, check.hint)
                    for check in probe.checks
                ],
                no_credit=tuple(probe.exercise.graded),
                uses=tuple(probe.exercise.uses),
            )
        )
    if not exercises:
        return None
    cases = _add_mistakes(repo_root, week, exercises, probes)
    return WeekNotes(week, exercises, cases)


def _docstring(path: Path) -> str:
    """The probe's docstring, without its opening "Probe for week 3, exercise 1: "."""
    text = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^Probe for [^:]*?exercises? [\d, and]+: ", "", text)
    return text[:1].upper() + text[1:]


def _add_mistakes(repo_root: Path, week: str, exercises: list[ExerciseNote], probes) -> int:
    """Attach the corpus's mistakes of ``week`` to the exercise whose answer cell each changes;
    returns the number of the week's cases (0 without a corpus)."""
    path = repo_root / CORPUS
    if not path.is_file():
        return 0
    corpus = _load_corpus(path)
    comments = _case_comments(path, corpus)
    graded = _failing_checks(repo_root, week)
    by_cell = {cell: probe.exercise.name for probe in probes.values()
               for cell in probe.exercise.answer_cells}
    by_name = {exercise.name: exercise for exercise in exercises}
    cases = [case for case in corpus.CASES if case.week == week]
    code_names = tuple(name for exercise in exercises for name in exercise.names)
    for case in cases:
        if case.release or case.name in _NOT_A_MISTAKE or not case.lost:
            continue
        owner = next((by_cell[c] for c in case.answers if c in by_cell), None)
        owner = owner if owner in by_name else next(iter(case.lost))
        if owner not in by_name:
            continue
        exercise = by_name[owner]
        if not graded.get(case.name):
            raise BuildError(
                f"{FAILING_CHECKS} says no check of {week}'s corpus case {case.name!r} fails, "
                f"yet the corpus has it lose points: {REGENERATE}"
            )
        exercise.mistakes.append(
            Mistake(
                name=_case_title(case.name, code_names),
                explanation=comments.get((case.week, case.name), "").rstrip("."),
                lost={name: float(points) for name, points in case.lost.items()},
                backends=tuple(case.backends),
                failing=graded[case.name],
            )
        )
    return len(cases)


def _case_title(name: str, code_names: tuple[str, ...] = ()) -> str:
    """``merge_returns_none_without_the_pair`` -> ``Merge returns None without the pair``; a
    name of the week's code in it is written as code: ``delegates_train_bpe`` -> ``Delegates
    `train_bpe` `` (it read "Delegates train BPE"), ``delegates_lora_dense`` -> ``Delegates
    `LoRADense` ``."""
    words, found = name.split("_"), []
    for code in sorted(code_names, key=len, reverse=True):  # words that spell it, joined
        key = code.lower().replace("_", "")
        for i in range(len(words)):
            j = next((j for j in range(i + 1, len(words) + 1)
                      if "".join(words[i:j]) == key), None)  # fmt: skip
            if j is not None:
                words[i:j] = [f"\x00{len(found)}\x00"]
                found.append(code)
                break
    title = " ".join(_OWN_SPELLING.get(word, word) for word in words)
    for words, spelt in _OWN_PHRASES.items():
        title = re.sub(rf"\b{words}\b", spelt, title)
    title = re.sub(r"\x00(\d+)\x00", lambda m: f"`{found[int(m[1])]}`", title)
    if re.match(r"[a-z]\d+\b", title):  # a symbol, as the text writes it: "k3 of ..."
        return title
    return title[:1].upper() + title[1:]


# Case names are lower case: the words spelt otherwise in the course.
_OWN_SPELLING = {"none": "None", "nan": "NaN", "gpt": "GPT", "adamw": "AdamW", "dpo": "DPO",
                 "grpo": "GRPO", "lora": "LoRA", "kl": "KL", "ln": "LN", "gelu": "GELU",
                 "bpe": "BPE", "keras": "Keras", "bradley": "Bradley", "terry": "Terry",
                 "bessel": "Bessel", "sft": "SFT", "kv": "KV", "rope": "RoPE", "mlp": "MLP",
                 "rms": "RMS", "rmsnorm": "RMSNorm", "flops": "FLOPs", "ngrams": "n-grams",
                 "ngram": "n-gram", "kth": "k-th"}
# and the words hyphenated in the course's text
_OWN_PHRASES = {"multi head": "multi-head", "post LN": "post-LN", "pre LN": "pre-LN",
                "Bradley Terry": "Bradley-Terry", "big endian": "big-endian",
                "little endian": "little-endian", "warmup": "warm-up",
                "cross entropy": "cross-entropy", "s curve": "S-curve",
                "global clipnorm": "`global_clipnorm`", "clipnorm": "`clipnorm`",
                "log probs": "log-probs", "LoRA a": "LoRA A", "LoRA b": "LoRA B",
                # and two names of the corpus that read badly word for word
                "repeated n-grams overlaps": "overlaps of repeated n-grams",
                "n-grams occurring once marked": "n-grams occurring once marked too"}

# Code in a comment or hint written without backticks: a tuple of names or numbers
# (``(None, model_axis)``, ``(d_ff,)``), a string literal without spaces (``'.*'``), a weight's
# path (``up_projection/kernel``), a name with an underscore (``train_bpe``) or a dotted one
# (``np.std``), with its call's ``()``. Each is set whole in the code font, never half of it.
# (A longer expression is written in backticks: ``sum(weights * nll) / sum(weights)``.)
_TUPLE_ITEM = r"(?:[A-Za-z_]\w*|\d+)"
_LITERAL_NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?(?!\w)"  # 2, 0.9, 1e-8
_IDENTIFIER = re.compile(
    # a call with simple arguments or a subscript (one nested): merge(ids, pair, new_id),
    # ids[s + 1 : s + 3], hidden[b, lengths[b] - 1]
    rf"(?<![`\w.])[A-Za-z_][\w.]*(?:\({_TUPLE_ITEM}?(?:, {_TUPLE_ITEM})*\)"
    r"|\[(?:[^\[\]\n]|\[[^\[\]\n]*\]){1,40}\])"
    # a tuple: (None, model_axis), (d_ff,)
    rf"|\({_TUPLE_ITEM}(?:, {_TUPLE_ITEM})*,\)|\({_TUPLE_ITEM}(?:, {_TUPLE_ITEM})+\)"
    # a keyword argument with its literal, a string literal without spaces: errors="replace",
    # beta_1=0.9, epsilon=1e-8, '.*'
    rf"""|(?<![`\w])\w+=(?:"[^"\s]*"|'[^'\s]*'|{_LITERAL_NUMBER}|\w+)|'[^'\s]+'"""
    # a dotted name, a path (lower case: FLOP/s is a unit), a name with an underscore, with
    # its call's ()
    r"|(?<![`\w./])(?:[A-Za-z]\w*(?:\.[A-Za-z_]\w+)+|[a-z]\w*(?:/\w+)+|[A-Za-z]\w*_\w+)(?:\(\))?"
    r"(?![`\w/])"
)


# What the notes' sources write as code: between double or single backticks.
_BACKQUOTED = rf"{DOUBLE_BACKQUOTED}|`[^`]*`"


def _identifiers_as_code(text: str) -> str:
    """``text`` with backticks around each piece of code (the corpus's comments, the checks'
    names and hints name code with or without them), and the prose's quotes curled (once over
    the whole text, so that the apostrophe of ``np.std``'s closes)."""
    parts = re.split(f"({_BACKQUOTED})", text)  # leave what is already quoted alone
    marked = "".join(part if part.startswith("`") else _marked(part) for part in parts)
    return curly_quotes(marked, code=_BACKQUOTED)


def _marked(text: str) -> str:
    """Text without backticks, with its code in backticks."""
    out, last = [], 0
    for match in _IDENTIFIER.finditer(text):
        if match[0].startswith("(") and not _is_code_tuple(match[0]):
            continue  # "(attention, embeddings, norms)": words in brackets, prose
        out.append(text[last:match.start()])
        out.append(f"`{match[0]}`")
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def _is_code_tuple(text: str) -> bool:
    """``(d_ff,)``, ``(None, model_axis)``: a tuple of code, not words or numbers in brackets
    (``(7, 7)`` is prose, as ``[5, 5, 5]`` beside it): an item with an underscore or None, or a
    one-item tuple's comma."""
    items = [item.strip() for item in text[1:-1].split(",")]
    return text.endswith(",)") or any("_" in item or item == "None" for item in items)


def _load_corpus(path: Path):
    name = "_weasyprint_build_corpus"  # dataclasses need the module in sys.modules
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _case_comments(path: Path, corpus) -> dict[tuple[str, str], str]:
    """{(week, case name): the comment lines right above its ``Case(...)``}."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    comments = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Case"):
            continue
        if len(node.args) < 2 or not isinstance(node.args[1], ast.Constant):
            continue
        week = node.args[0]
        week = getattr(corpus, week.id, None) if isinstance(week, ast.Name) else week.value
        above = []
        index = node.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#"):
            above.insert(0, lines[index].strip().lstrip("#").strip())
            index -= 1
        comments[week, node.args[1].value] = " ".join(above)
    return comments


def _failing_checks(repo_root: Path, week: str) -> dict[str, dict]:
    """{case: {exercise: {check: {"backends", "feedback"}}}} of ``week``, as grading stored it."""
    path = repo_root / FAILING_CHECKS
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BuildError(f"The teaching notes read what grading the corpus found from {path}, "
                         f"which could not be read ({error}): {REGENERATE}") from None
    return stored.get(week, {})


# --- HTML ------------------------------------------------------------------------------------
def render_notes(notes: WeekNotes, how_to_read: str = "") -> str:
    """The notes as HTML, inside the exercise's section (unnumbered headings: both editions
    number their sections the same way).

    ``how_to_read``: a link to the section that says once, for every week, how the notes are
    made and how to read them (the introduction's; repeated in each week's notes it filled
    eight openings with the same paragraph); empty, the opening names no section."""
    mistakes = sum(len(exercise.mistakes) for exercise in notes.exercises)
    reading = f"; {how_to_read} says how they are made and how to read them" if how_to_read else ""
    introduction = (
        "<p>For instructors: generated from the autograder&rsquo;s hidden probes "
        f"(<code>autograder/probes/{html.escape(notes.week)}/</code>) and its corpus of "
        f"submissions (<code>tests/course/weeks/corpus.py</code>: {notes.cases} for this week, "
        f"{mistakes} of them typical mistakes){reading}.</p>"
    )
    parts = [
        '<div class="teaching-notes">',
        f'<h3 id="{notes_anchor(notes.week)}" class="exercise-heading">Teaching notes</h3>',
        introduction,
        _points_table(notes),
    ]
    for exercise in notes.exercises:
        parts.append(_exercise_notes(exercise, notes))
    parts.append("</div>")
    return "\n".join(parts)


def notes_anchor(week: str) -> str:
    """The id of a week's teaching notes (the contents of the instructor edition link to it)."""
    return f"notes-{week}"


def _points_table(notes: WeekNotes) -> str:
    rows = "".join(
        f"<tr><td>{exercise.number}</td><td>{_names(exercise.names)}</td>"
        f"<td class=\"count\">{len(exercise.checks)}</td>"
        f"<td class=\"count\">{len(exercise.mistakes)}</td>"
        f'<td class="points">{_number(exercise.points)}</td></tr>'
        for exercise in notes.exercises
    )
    return (
        '<table class="points-table"><thead><tr><th>exercise</th><th>the learner writes</th>'
        '<th class="count">hidden checks</th><th class="count">mistakes in the corpus</th>'
        '<th class="points">points</th></tr></thead>'
        f'<tbody>{rows}<tr class="total"><td></td><td>total</td><td></td><td></td>'
        f'<td class="points">{_number(notes.points)}</td></tr></tbody></table>'
    )


def _exercise_notes(exercise: ExerciseNote, notes: WeekNotes) -> str:
    points = _points(exercise.points)
    parts = [
        f'<div class="teaching-exercise"><h4 class="exercise-heading">{exercise.number}. '
        + f"{_names(exercise.names)} ({points})</h4>"
    ]
    if exercise.summary:
        parts.append(f"<p>{_code(exercise.summary)}</p>")
    items, previous, first = [], None, {}  # first: hint -> the check that printed it
    checks = exercise.checks
    # checks that differ in one number alone ("run 1 of 12" ... "run 12 of 12") make one item
    for group in _series([c.name for c in checks], [(c.points, c.hint) for c in checks]):
        check = checks[group[0]]
        name, numbers = _series_name([checks[i].name for i in group])
        each = " each" if numbers else ""
        if not check.hint or check.hint == previous:  # a hint shared with the check before
            hint = ""                                  # is printed once
        elif check.hint in first:  # and one shared with an earlier check is named by it
            hint = f": the hint of {_quoted(first[check.hint])}"
        else:
            hint, first[check.hint] = f": {_code(check.hint)}", name
        previous = check.hint
        items.append(
            f'<li><span class="check-name">{_code(name)}</span>{numbers} '
            f"({_points(check.points)}{each}){hint}</li>"
        )
    checks = "".join(items)
    parts.append(f'<p class="notes-label">What the hidden checks test</p><ul>{checks}</ul>')
    if exercise.no_credit:
        parts.append(
            "<p>No credit for an answer that names "
            + ", ".join(f"<code>{html.escape(name)}</code>" for name in exercise.no_credit)
            + "; the feedback says which name it found.</p>"
        )
    if exercise.mistakes:
        items = "".join(_mistake(mistake, exercise, notes) for mistake in exercise.mistakes)
        parts.append(f'<p class="notes-label">Common mistakes</p><ul>{items}</ul>')
    parts.append("</div>")
    return "\n".join(parts)


def _mistake(mistake: Mistake, exercise: ExerciseNote, notes: WeekNotes) -> str:
    own = mistake.lost.get(exercise.name, 0.0)
    text = [f'<li><span class="mistake-name">{_code(mistake.name)}</span>']
    if mistake.explanation:
        text.append(f": {_code(mistake.explanation)}")
    said = mistake.explanation or mistake.name  # its full stop, unless it has one: "....)"
    text.append(f"{_sentence(said)[len(said):]} Loses {_number(own)} of its "
                f"{_points(exercise.points)}")
    others = {name: points for name, points in mistake.lost.items() if name != exercise.name}
    by_name = {e.name: e for e in notes.exercises}
    if others:
        text.append(
            "; with it, "
            + ", ".join(
                f"{_number(points)} of {_names(by_name[name].names) if name in by_name else name}"
                f"{' (which calls it)' if name in by_name and exercise.name in by_name[name].uses else ''}"
                for name, points in others.items()
            )
        )
    text.append(".")
    text.append(_feedback(mistake, exercise))
    later = [
        _quoted_names([check.name for check in other.checks if check.name in failing],
                      [check.name for check in other.checks])
        + f" of {_names(other.names)}"
        for other in notes.exercises
        if other is not exercise and (failing := mistake.failing.get(other.name))
    ]
    if later:
        text.append(f" It also fails {'; '.join(later)}.")
    text.append("</li>")
    return "".join(text)


def _feedback(mistake: Mistake, exercise: ExerciseNote) -> str:
    """`` Fails “name” (“what differs”); “other” (“...”).``: each failing check with the first
    sentence of its feedback, once per different message (an exception fails every check with
    one message), with the backends where it fails when they are not all those graded. The
    feedback's second part, the check's hint, is quoted only when it is not the hint the list
    of checks above already prints for each of these checks."""
    found = mistake.failing.get(exercise.name, {})
    groups: dict[tuple, list[str]] = {}  # (what is quoted, backends) -> the checks, in order
    for check in exercise.checks:  # in the probe's order
        if check.name in found:
            said = _sentence(found[check.name]["feedback"])
            for beyond in _BEYOND:  # (the introduction says it)
                said = said.replace(beyond, "")
            what, _, hint = said.partition(". ")  # what differs, then the check's hint
            if hint and hint == _sentence(check.hint):
                said = _sentence(what)
            key = (said, tuple(found[check.name]["backends"]))
            groups.setdefault(key, []).append(check.name)
    parts = []
    for (said, backends), names in groups.items():
        where = "" if set(backends) == set(mistake.backends) else f" on {series(list(backends))} only"
        parts.append(f"{_quoted_names(names, [check.name for check in exercise.checks])}{where} "
                     f"(&ldquo;{_code(said)}&rdquo;)")
    return f" Fails {'; '.join(parts)}." if parts else ""


# What autograder.compare says of every value that differs, with a tolerance or without; the
# introduction says it once.
_BEYOND = (" from the reference by more than the tolerance", " from the reference")


def _sentence(text: str) -> str:
    """``text`` ending with one full stop (or its own ! or ?, or a sentence of its own in
    brackets: "... too. (It is e.)", not "(tensor, ...)")."""
    text = text.strip()
    finished = text.endswith((".", "!", "?")) or bool(_BRACKETED_SENTENCE.search(text))
    return text if finished else text + "."


# a last sentence in brackets: opened where a sentence may start, closed after its full stop
_BRACKETED_SENTENCE = re.compile(r"(?:^|[.!?] )\(.*[^.][.!?]\)$")


def _quoted(name: str) -> str:
    return f"&ldquo;{_code(name)}&rdquo;"


def _quoted_names(names: list[str], checks: list[str] = ()) -> str:
    """``“a”, “run k of 12” for k = 2 to 9 and 12 and “b”``: the names quoted, a series of
    names that differ in one number alone said once.

    Of a series of the exercise's ``checks`` that ``names`` holds only part of, how many, not
    which: ``9 of the 12 checks “run k of 12”``. Its numbers count the hidden inputs (the
    runs), which are drawn anew for each submission, so which of them fail is one draw's; how
    many is the mistake's."""
    whole = {checks[i]: tuple(checks[j] for j in group)
             for group in _series(list(checks)) if len(group) >= SERIES_LENGTH for i in group}
    said, plain, counted = [], [], set()

    def say_plain():
        for group in _series(plain):
            name, numbers = _series_name([plain[i] for i in group])
            said.append(f"{_quoted(name)}{numbers}")
        plain.clear()

    for name in names:
        group = whole.get(name)
        if group is None or set(group) <= set(names):
            plain.append(name)
        elif group not in counted:
            counted.add(group)
            say_plain()
            failing = sum(check in names for check in group)
            said.append(f"{failing} of the {len(group)} checks "
                        f"{_quoted(_series_name(list(group))[0])}")
    say_plain()
    return series(said)


# Three names or more that differ in one number alone are a series, said once.
SERIES_LENGTH = 3
_NUMBER = re.compile(r"(\d+)")


def _series(names: list[str], keys: list | None = None) -> list[list[int]]:
    """The indices of ``names`` in groups: a run of ``SERIES_LENGTH`` or more consecutive
    names that differ in the same number alone (and have equal ``keys``), or one name."""
    keys = keys or [None] * len(names)
    runs: list[list[int]] = []
    for i, name in enumerate(names):
        run = runs[-1] if runs else []
        place = _differing_number(names[run[0]], name) if run and keys[run[0]] == keys[i] \
            else None
        if place is not None and (len(run) == 1
                                  or place == _differing_number(names[run[0]], names[run[1]])):
            run.append(i)
        else:
            runs.append([i])
    return [group for run in runs
            for group in ([run] if len(run) >= SERIES_LENGTH else [[i] for i in run])]


def _differing_number(first: str, other: str) -> int | None:
    """The place (in ``_NUMBER.split``) of the one number in which two names differ, or None."""
    a, b = _NUMBER.split(first), _NUMBER.split(other)
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y] if len(a) == len(b) else []
    return differ[0] if len(differ) == 1 and differ[0] % 2 else None


def _series_name(names: list[str]) -> tuple[str, str]:
    """``("run k of 12", " for k = 1 to 12")`` for a series, ``(name, "")`` for one name."""
    if len(names) == 1:
        return names[0], ""
    parts = _NUMBER.split(names[0])
    place = _differing_number(names[0], names[1])
    letter = next(v for v in "kjnm" if not re.search(rf"\b{v}\b", names[0]))
    numbers = [int(_NUMBER.split(name)[place]) for name in names]
    parts[place] = letter
    return "".join(parts), f" for {letter} = {_ranges(numbers)}"


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 4, 6, 8]`` -> ``1 to 4, 6 and 8``; a run of three or more is "a to b"."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    said = [f"{run[0]} to {run[-1]}" if len(run) >= 3 else str(number)
            for run in runs for number in (run[:1] if len(run) >= 3 else run)]
    return series(said)




def _names(names) -> str:
    return ", ".join(f"<code>{html.escape(name)}</code>" for name in names) or "?"


def _number(value: float) -> str:
    """``2``, ``0.5``, ``1/3`` (not 0.33: twelve checks of 0.33 points did not make 4)."""
    if value == round(value, 2):
        return f"{value:g}"
    fraction = Fraction(value).limit_denominator(12)
    if abs(float(fraction) - value) < 1e-9:
        return f"{fraction.numerator}/{fraction.denominator}"
    return f"{value:.2f}"


def _points(value: float) -> str:
    if "/" in (number := _number(value)) and value < 1:
        return f"{number} of a point"
    return f"{number} point{'' if value == 1 else 's'}"


def _code(text: str) -> str:
    """Escape for HTML, with ``code``, `code` and names of code written without backticks
    (``_identifiers_as_code``) in a code font."""
    escaped = html.escape(_identifiers_as_code(text), quote=False)
    escaped = re.sub(r"``(.+?)``", r"<code>\1</code>", escaped)
    return re.sub(r"`([^`]+?)`", r"<code>\1</code>", escaped)
