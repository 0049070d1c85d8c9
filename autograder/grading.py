"""``llm-course grade``: grade a folder of submissions in parallel, resumably, with a progress bar.

For each submission (``SUBMISSIONS/<student>/<assignment>/``, nbgrader's layout) and backend:
rebuild (``rebuild``), run the cells and probes in a pre-warmed sandbox (``sandbox.launcher``),
score in a trusted per-backend process (``scoring``). Worker threads do that in parallel, one
sandbox per backend each; the main thread is the only writer of records, feedback and gradebook,
and writes each submission as soon as it is done.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import io
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from autograder import feedback, records
from autograder.assignment import Assignment
from autograder.course import Course
from autograder.delegation import references
from autograder.nbgrader_bridge import GradebookWriter
from autograder.rebuild import rebuild
from autograder.sandbox.launcher import (Limits, Sandbox, SandboxRun, SandboxUnavailable,
                                         bubblewrap_problem)
from autograder.scoring import Scorer
from autograder.seeds import course_secret, derive_seed

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
    seconds: float = 0.0

    @property
    def records(self) -> dict:
        return {**self.reused, **self.graded}


def discover(submissions: Path, assignment: str) -> list[tuple[str, Path]]:
    """(student, folder) for ``<student>/<assignment>/`` (or ``<student>/`` holding notebooks)."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"The submissions folder {submissions} does not exist.")
    found = []
    for student in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = student / assignment
        if folder.is_dir():
            found.append((student.name, folder))
        elif any(student.glob("*.ipynb")):
            found.append((student.name, student))
        else:
            found.append((student.name, folder))  # graded as invalid_notebook: nothing submitted
    return found


def grade(course: Course, name: str, submissions: Path, options: Options) -> Summary:
    started = time.monotonic()
    assignment = Assignment.load(course, name)
    if options.sandboxed and (problem := bubblewrap_problem()):
        raise SandboxUnavailable(f"Cannot sandbox learner code: {problem}. Grading untrusted code "
                                 "without a sandbox is unsafe; pass --no-sandbox to do it anyway.")
    secret = course_secret(course.root)
    summary = Summary()
    todo = []
    for student, folder in discover(submissions, name):
        key = records.fingerprint(folder, assignment, options.backends, options.limits)
        old = records.read(course.autograded(student, name))
        if not options.force and old and old.get("fingerprint") == key and old["status"] != "sandbox_error":
            summary.reused[student] = old
        else:
            todo.append((student, folder, key))
    if not todo:
        summary.seconds = time.monotonic() - started
        return summary
    writer = GradebookWriter(course, assignment)
    grader = _BatchGrader(course, assignment, secret, options)
    try:
        with _progress(len(todo), name, options.progress) as bar:
            pool = concurrent.futures.ThreadPoolExecutor(options.workers, "grader")
            futures = [pool.submit(grader.grade_one, *job) for job in todo]
            try:
                for future in concurrent.futures.as_completed(futures):
                    record = future.result()
                    _save(course, writer, record)
                    summary.graded[record["student"]] = record
                    bar.update(1)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
                grader.close()
    finally:
        writer.close()
    summary.seconds = time.monotonic() - started
    return summary


def _save(course: Course, writer: GradebookWriter, record: dict) -> None:
    """The single writer: record, rebuilt notebooks, feedback, gradebook."""
    student, name = record["student"], record["assignment"]
    folder = course.autograded(student, name)
    for notebook, content in record.pop("_rebuilt").items():
        records.write_json(folder / f"{notebook}.ipynb", content)
    records.write_json(folder / records.RECORD, record)
    feedback.write(record, course.feedback(student, name))
    writer.write(student, {e["name"]: (e["points"], e["message"]) for e in record["exercises"]},
                 timestamp=record.get("timestamp"))


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
            sandbox = Sandbox(backend, self.options.limits, self.options.sandboxed,
                              self.options.public_data)
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
        timestamp = Path(folder) / "timestamp.txt"
        if timestamp.is_file():
            record["timestamp"] = timestamp.read_text().strip()[:64]
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
            job, payload, blobs = self._job(student, exercises)
            for backend, run in runs.items():
                self._run(backend, rebuilt, exercises, job, payload, blobs, run)
                statuses += run["status"][-1:]
        for backend, run in runs.items():
            run["status"] = records.worst(run["status"])
        record["backends"] = runs
        record["status"] = records.worst(statuses)
        record["exercises"] = _combine(self.assignment, runs)
        record["score"] = round(sum(e["points"] for e in record["exercises"]), 4)
        record["seconds"] = round(time.monotonic() - started, 3)
        record["graded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return record

    def _job(self, student, exercises):
        """The probes' part of the job: sandbox source, graded names and inputs (npz) each."""
        job, blobs, payload = [], {}, bytearray()
        for exercise in exercises:
            seed = derive_seed(self.secret, self.assignment.name, student, exercise.name)
            arrays = exercise.probe.inputs(np.random.default_rng(seed))
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            blobs[exercise.name] = buffer.getvalue()
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
