"""``llm-course grade``: grade a folder of submissions in parallel, resumably, with a progress bar.

For each submission (``SUBMISSIONS/<student>/<assignment>/``, nbgrader's layout) and backend:
rebuild (``rebuild``), run the cells and probes in a pre-warmed sandbox (``sandbox.launcher``),
score in a trusted per-backend process (``scoring``). Worker threads do that in parallel, one
sandbox per backend each; the main thread is the only writer of records, feedback and gradebook,
and writes each submission as soon as it is done.

No submission can stop the batch or touch another's record: whatever fails while one submission
is read, graded or saved (its files, its timestamp, the sandbox, the scorer, the feedback, the
gradebook) is recorded for that submission, and the batch goes on. A record is written with
``"gradebook": "pending"`` before its grades go to the gradebook and ``"written"`` after, and each
run first checks that the gradebook holds every reused record's grades, writing back any that are
missing (a crash between the two writes, a deleted row) without grading again. Students with no
folder for the assignment get no record: the summary lists them.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import io
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from autograder import feedback, records
from autograder.assignment import Assignment
from autograder.course import Course
from autograder.delegation import references
from autograder.library_view import assignment_library
from autograder.nbgrader_bridge import GradebookWriter, parse_timestamp
from autograder.rebuild import RefusedFile, read_submitted, rebuild
from autograder.sandbox.launcher import (Limits, Sandbox, SandboxRun, SandboxUnavailable,
                                         bubblewrap_problem)
from autograder.scoring import Scorer
from autograder.seeds import answer_digest, course_secret, derive_seed
from llm_keras.interrupts import stop_at_safe_points

RUN_STATUS = {"finished": "graded", "timeout": "timeout", "died": "kernel_died",
              "out_of_memory": "out_of_memory", "sandbox_error": "sandbox_error"}


@dataclasses.dataclass
class Options:
    backends: tuple[str, ...] = ("jax",)
    workers: int = 2
    limits: Limits = dataclasses.field(default_factory=Limits)
    sandboxed: bool = True
    force: bool = False
    public_data: Path | None = None
    progress: bool = True


@dataclasses.dataclass
class Summary:
    graded: dict = dataclasses.field(default_factory=dict)   # student -> record (this run)
    reused: dict = dataclasses.field(default_factory=dict)   # student -> record (earlier run)
    absent: list = dataclasses.field(default_factory=list)   # students with nothing submitted
    skipped: list = dataclasses.field(default_factory=list)  # messages: folders not graded
    repaired: list = dataclasses.field(default_factory=list)  # written back to the gradebook
    problems: dict = dataclasses.field(default_factory=dict)  # student -> what failed while saving
    seconds: float = 0.0

    @property
    def records(self) -> dict:
        return {**self.reused, **self.graded}


@dataclasses.dataclass
class Discovery:
    found: list      # (student, folder): ``<student>/<assignment>/`` or ``<student>/`` (notebooks)
    absent: list     # students whose folder holds nothing for this assignment: no record
    skipped: list    # messages: student folders that are links (never followed)


def discover(submissions: Path, assignment: str) -> Discovery:
    """The submissions of ``assignment`` in ``submissions`` (nbgrader's ``submitted/`` layout).

    A student folder that is a symbolic link is skipped with a message; a submission folder that
    is one is kept, so that its record says why it was refused.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"The submissions folder {submissions} does not exist.")
    result = Discovery([], [], [])
    for student in sorted(submissions.iterdir()):
        if student.name.startswith("."):
            continue
        if student.is_symlink():
            result.skipped.append(f"{student.name}: the student folder is a symbolic link, which "
                                  "the grader does not follow; copy the submission in instead")
            continue
        if not student.is_dir():
            continue
        folder = student / assignment
        try:
            notebooks = any(name.endswith(".ipynb") for name in os.listdir(student))
        except OSError as error:
            result.skipped.append(f"{student.name}: the student folder cannot be read "
                                  f"({error.strerror})")
            continue
        if folder.is_dir() or folder.is_symlink():
            result.found.append((student.name, folder))
        elif notebooks:
            result.found.append((student.name, student))
        else:
            result.absent.append(student.name)
    return result


def grade(course: Course, name: str, submissions: Path, options: Options) -> Summary:
    started = time.monotonic()
    assignment = Assignment.load(course, name)
    if options.sandboxed and (problem := bubblewrap_problem()):
        raise SandboxUnavailable(f"Cannot sandbox learner code: {problem}. Grading untrusted code "
                                 "without a sandbox is unsafe; pass --no-sandbox to do it anyway.")
    secret = course_secret(course.root)
    found = discover(submissions, name)
    summary = Summary(absent=found.absent, skipped=found.skipped)
    todo = []
    for student, folder in found.found:
        key = _fingerprint(folder, assignment, options)
        old = records.read(course.autograded(student, name))
        if (not options.force and old and key and old.get("fingerprint") == key
                and old.get("status") != "sandbox_error"):
            summary.reused[student] = old
        else:
            todo.append((student, folder, key))
    writer = GradebookWriter(course, assignment)
    try:
        _repair(course, writer, summary)
        if todo:
            _grade_all(course, assignment, secret, options, writer, todo, summary)
    finally:
        writer.close()
    summary.seconds = time.monotonic() - started
    return summary


def _fingerprint(folder: Path, assignment: Assignment, options: Options) -> str | None:
    """The submission's fingerprint, or None (graded again) if it cannot be taken."""
    try:
        return records.fingerprint(folder, assignment, options.backends, options.limits)
    except Exception:  # noqa: BLE001 - grading the submission records what is wrong with it
        return None


def _grade_all(course, assignment, secret, options, writer, todo, summary) -> None:
    grader = _BatchGrader(course, assignment, secret, options)
    with _progress(len(todo), assignment.name, options.progress) as bar:
        pool = concurrent.futures.ThreadPoolExecutor(options.workers, "grader")
        futures = [pool.submit(grader.grade_one, *job) for job in todo]
        try:
            for future in concurrent.futures.as_completed(futures):
                record = future.result()
                with stop_at_safe_points():  # a Ctrl-C waits for this record to be saved
                    problems = _save(course, writer, record)
                if problems:
                    summary.problems[record["student"]] = problems
                summary.graded[record["student"]] = record
                bar.update(1)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            grader.close()


def _save(course: Course, writer: GradebookWriter, record: dict) -> list[str]:
    """The single writer: rebuilt notebooks, feedback, the record (gradebook pending), the
    gradebook, the record again (gradebook written). Returns what failed; raises nothing else."""
    student, name = record["student"], record["assignment"]
    folder = course.autograded(student, name)
    problems = record.setdefault("problems", [])  # the grader's own failures (not the learner's)
    record["gradebook"] = "pending"
    try:
        for notebook, content in record.pop("_rebuilt", {}).items():
            records.write_json(folder / f"{notebook}.ipynb", content)
    except Exception as error:  # noqa: BLE001 - recorded for this submission only
        problems.append(f"the rebuilt notebook could not be written ({error!r})")
    try:
        feedback.write(record, course.feedback(student, name))
    except Exception as error:  # noqa: BLE001
        problems.append(f"the feedback could not be written ({error!r})")
    if not _write_record(folder, record, problems):
        return problems
    unwritten = []  # kept in the record as ``gradebook_problem`` until a run writes the grades
    _write_gradebook(writer, record, unwritten)
    _write_record(folder, record, problems)
    return problems + unwritten


def _write_record(folder: Path, record: dict, problems: list[str]) -> bool:
    try:
        records.write_json(folder / records.RECORD, record)
        return True
    except Exception as error:  # noqa: BLE001
        problems.append(f"the grading record could not be written ({error!r}); the submission is "
                        "graded again on the next run")
        return False


def _write_gradebook(writer: GradebookWriter, record: dict, problems: list[str]) -> bool:
    """Write the record's grades to the gradebook; a failure stays in the record as
    ``gradebook_problem`` (and is added to ``problems``), and the next run writes them again."""
    try:
        writer.write(record["student"], _scores(record), timestamp=record.get("timestamp"))
    except Exception as error:  # noqa: BLE001 - the writer rolled back: other submissions are safe
        record["gradebook_problem"] = (f"the grades could not be written to the gradebook "
                                       f"({error!r}); the next run writes them")
        problems.append(record["gradebook_problem"])
        return False
    record["gradebook"] = "written"
    record.pop("gradebook_problem", None)
    return True


def _scores(record: dict) -> dict:
    return feedback.gradebook_comments(record)  # the feedback's summary, cause and message


def _repair(course: Course, writer: GradebookWriter, summary: Summary) -> None:
    """Write back to the gradebook any reused record whose grades it does not hold (a crash
    between the record and the gradebook write, a deleted row), without grading again."""
    for student, record in summary.reused.items():
        try:
            if record.get("gradebook") == "written" and writer.holds(student, _scores(record)):
                continue
        except Exception:  # noqa: BLE001 - a gradebook that cannot be read is written again
            pass
        problems = []
        if _write_gradebook(writer, record, problems):
            summary.repaired.append(student)
        _write_record(course.autograded(student, record["assignment"]), record, problems)
        if problems:
            summary.problems[student] = problems


class _BatchGrader:
    """Grades one submission on every backend; owns a sandbox per backend per worker thread."""

    def __init__(self, course, assignment, secret, options):
        self.course, self.assignment, self.secret, self.options = course, assignment, secret, options
        self.scorers = {backend: Scorer(backend) for backend in options.backends}
        self.local = threading.local()
        self.sandboxes: list[Sandbox] = []
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        with self.lock:
            for sandbox in self.sandboxes:
                sandbox.close()
        for scorer in self.scorers.values():
            scorer.close()

    def _sandbox(self, backend: str) -> Sandbox:
        cache = self.local.__dict__.setdefault("sandboxes", {})
        sandbox = cache.get(backend)
        if sandbox is None or not sandbox.alive:
            if sandbox is not None:
                sandbox.close()
            # the sandbox imports a copy of llm_keras without the pieces this assignment grades
            sandbox = Sandbox(backend, self.options.limits, self.options.sandboxed,
                              self.options.public_data,
                              library=assignment_library(self.assignment))
            with self.lock:
                if self.closed:
                    raise SandboxUnavailable("grading was stopped")
                self.sandboxes.append(sandbox)
            sandbox.start()
            cache[backend] = sandbox
        return sandbox

    def _score(self, backend: str, tasks: list[dict]) -> list[dict]:
        """Score in the backend's trusted process, starting a new one if it crashed."""
        try:
            return self.scorers[backend].score(tasks)
        except concurrent.futures.process.BrokenProcessPool:
            with self.lock:
                self.scorers[backend].close()
                self.scorers[backend] = Scorer(backend)
            return self.scorers[backend].score(tasks)

    def grade_one(self, student: str, folder: Path, key: str) -> dict:
        """A record for one submission, whatever happens (a grader failure is ``sandbox_error``,
        which the next run grades again)."""
        try:
            return self._grade_one(student, folder, key)
        except Exception as error:  # noqa: BLE001 - one submission must never stop the batch
            if self.closed:
                raise
            return {"student": student, "assignment": self.assignment.name, "fingerprint": key,
                    "status": "sandbox_error", "score": 0.0, "max_score": self.assignment.max_score,
                    "messages": [f"The grader failed on this submission ({error!r}); it will be "
                                 "graded again on the next run."],
                    "exercises": [dict(_zero(e, "not graded: the grader failed"), by_backend={})
                                  for e in self.assignment.exercises],
                    "backends": {}, "_rebuilt": {}, "seconds": 0.0,
                    "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def _grade_one(self, student: str, folder: Path, key: str) -> dict:
        started = time.monotonic()
        name = self.assignment.name
        record = {"student": student, "assignment": name, "fingerprint": key, "status": "graded",
                  "messages": [], "score": 0.0, "max_score": self.assignment.max_score,
                  "exercises": [], "backends": {}, "_rebuilt": {}}
        record["timestamp"] = _timestamp(Path(folder), record["messages"])
        runs = {backend: {"status": [], "exercises": [], "cells": [], "output": "", "seconds": 0.0,
                          "versions": {}} for backend in self.options.backends}
        statuses = []
        for notebook, template in self.assignment.templates.items():
            exercises = [e for e in self.assignment.exercises if e.notebook == notebook]
            if not exercises:
                continue
            rebuilt = rebuild(template, folder, set(self.assignment.templates) - {notebook})
            record["messages"] += rebuilt.messages
            if rebuilt.status != "ok":
                statuses.append(rebuilt.status)
                for run in runs.values():
                    run["exercises"] += [_zero(e, rebuilt.messages[-1]) for e in exercises]
                continue
            record["_rebuilt"][notebook] = rebuilt.rebuilt
            digest = answer_digest(cell["source"] for cell in rebuilt.cells)
            record.setdefault("digests", {})[notebook] = digest
            job, payload, blobs = self._job(student, exercises, digest)
            for backend, run in runs.items():
                self._run(backend, rebuilt, exercises, job, payload, blobs, run)
                statuses += run["status"][-1:]
        for backend, run in runs.items():
            run["status"] = records.worst(run["status"])
            # what the sandbox said about the run as a whole (out of memory, ...), once per backend
            record["messages"] += [f"On {backend}: {m}" for m in dict.fromkeys(run.pop("notes", []))]
        record["backends"] = runs
        record["status"] = records.worst(statuses)
        record["exercises"] = _combine(self.assignment, runs)
        record["score"] = round(sum(e["points"] for e in record["exercises"]), 4)
        record["seconds"] = round(time.monotonic() - started, 3)
        record["graded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return record

    def _job(self, student, exercises, digest):
        """The probes' part of the job: sandbox source, graded names and inputs (npz) each."""
        job, blobs, payload = [], {}, bytearray()
        for exercise in exercises:
            blobs[exercise.name] = hidden_inputs(self.secret, self.assignment.name, student,
                                                 exercise, digest)
            job.append({"name": exercise.name, "source": exercise.probe.sandbox_source,
                        "graded": list(exercise.probe.exercise.graded),
                        "timeout": exercise.probe.exercise.timeout,
                        "inputs": [len(payload), len(blobs[exercise.name])]})
            payload += blobs[exercise.name]
        return job, bytes(payload), blobs

    def _run(self, backend, rebuilt, exercises, job, payload, blobs, run) -> None:
        started = time.monotonic()
        try:
            sandbox = self._sandbox(backend)
            result = sandbox.run(rebuilt.cells, job, payload)
            run["versions"] = sandbox.versions
        except SandboxUnavailable as error:
            result = SandboxRun("sandbox_error", message=str(error))
        status = RUN_STATUS.get(result.status, "kernel_died")
        run["status"].append(status)
        if result.message and result.status in ("out_of_memory", "timeout", "died"):
            run.setdefault("notes", []).append(result.message)  # sentences meant for the learner
        run["cells"] += result.cells
        run["output"] += result.output
        tasks = []
        for exercise in exercises:
            report, answer = result.exercises.get(exercise.name, (None, b""))
            sources = [rebuilt.answers.get(c, "") for c in exercise.probe.exercise.answer_cells]
            tasks.append({"path": str(exercise.probe.path), "points": exercise.points,
                          "inputs": blobs[exercise.name], "report": report, "payload": answer,
                          "static": references(sources, exercise.probe.exercise.graded,
                                               [cell["source"] for cell in rebuilt.cells]),
                          "status": status})
        run["exercises"] += self._score(backend, tasks)
        run["seconds"] = round(run["seconds"] + time.monotonic() - started, 3)


def hidden_inputs(secret: bytes, assignment: str, student: str, exercise, digest: str) -> bytes:
    """An exercise's hidden inputs (``.npz`` bytes), drawn from a seed that depends on the
    submission's rebuilt cells (``digest``): the same submission always gets the same inputs,
    a changed one new inputs."""
    seed = derive_seed(secret, assignment, student, exercise.name, digest)
    buffer = io.BytesIO()
    np.savez(buffer, **exercise.probe.inputs(np.random.default_rng(seed)))
    return buffer.getvalue()


def _timestamp(folder: Path, messages: list[str]) -> str | None:
    """The submission's ``timestamp.txt`` (nbgrader's), as nbgrader will parse it; a timestamp
    that is missing, a link or not a date is left out (the gradebook uses the grading time)."""
    try:
        text = read_submitted(folder, "timestamp.txt", 4096).decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return None
    except (OSError, RefusedFile) as error:
        messages.append(f"timestamp.txt was ignored: {error}.")
        return None
    try:
        return parse_timestamp(text)
    except ValueError as error:
        messages.append(f"timestamp.txt was ignored: {error}.")
        return None


def _zero(exercise, message: str) -> dict:
    return {"name": exercise.name, "max_points": exercise.points, "points": 0.0, "message": message,
            "tests": [{"name": check.name, "passed": False, "points": 0.0,
                       "max_points": round(exercise.points * check.weight /
                                           sum(c.weight for c in exercise.probe.checks), 4),
                       "message": message} for check in exercise.probe.checks]}


def _combine(assignment: Assignment, runs: dict) -> list[dict]:
    """Per exercise, the lowest score over the backends (a solution must work on each)."""
    combined = []
    for exercise in assignment.exercises:
        results = {b: next(e for e in run["exercises"] if e["name"] == exercise.name)
                   for b, run in runs.items()}
        backend, worst = min(results.items(), key=lambda item: item[1]["points"])
        message = worst["message"] or "; ".join(t["message"] for t in worst["tests"] if t["message"])
        if message and len(results) > 1 and any(r["points"] != worst["points"] for r in results.values()):
            message = f"on {backend}: {message}"
        combined.append({"name": exercise.name, "points": worst["points"],
                         "max_points": exercise.points, "message": message,
                         "by_backend": {b: r["points"] for b, r in results.items()}})
    return combined


class _progress:
    """A tqdm progress bar, or nothing."""

    def __init__(self, total: int, name: str, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=f"grading {name}", unit="submission", disable=not enabled)

    def __enter__(self):
        return self.bar

    def __exit__(self, *exc):
        self.bar.close()
