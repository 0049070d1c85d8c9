"""An assignment as the grader sees it: its release notebooks (templates) and its probes.

``Assignment.load(course, "week2")`` reads ``exercises/week2/*.ipynb`` (what learners were given)
and ``autograder/probes/week2/*.py``, checks that every probe names answer cells and a grade
cell that exist and library pieces that ``llm_keras`` defines, and takes each exercise's points
from its grade cell. Errors say what to fix.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from autograder.course import Course
from autograder.library_view import undefined
from autograder.probes import Probe, ProbeError, load_probe


@dataclasses.dataclass
class Template:
    """One release notebook: its cells and nbgrader metadata."""

    name: str
    notebook: dict
    answer_ids: list[str]
    points: dict[str, float]  # grade cell id -> points

    @classmethod
    def read(cls, path: Path) -> "Template":
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        answers, points = [], {}
        for cell in notebook["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution"):
                answers.append(meta["grade_id"])
            if meta.get("grade"):
                points[meta["grade_id"]] = float(meta.get("points", 0))
        return cls(Path(path).stem, notebook, answers, points)

    def code_cells(self):
        """(cell, nbgrader metadata) for every code cell, in order."""
        for cell in self.notebook["cells"]:
            if cell.get("cell_type") == "code":
                yield cell, cell.get("metadata", {}).get("nbgrader", {})


@dataclasses.dataclass
class GradedExercise:
    probe: Probe
    notebook: str
    points: float

    @property
    def name(self) -> str:
        return self.probe.exercise.name


@dataclasses.dataclass
class Assignment:
    name: str
    templates: dict[str, Template]
    exercises: list[GradedExercise]

    @property
    def max_score(self) -> float:
        return sum(exercise.points for exercise in self.exercises)

    @classmethod
    def load(cls, course: Course, name: str) -> "Assignment":
        release = course.release(name)
        paths = sorted(release.glob("*.ipynb"))
        if not paths:
            raise FileNotFoundError(
                f"No release notebooks in {release}: run `llm-course release {name}` first "
                f"(it generates them from {course.source(name)}).")
        templates = {path.stem: Template.read(path) for path in paths}
        folder = course.probe_folder(name)
        modules = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
        if not modules:
            raise FileNotFoundError(f"No probes for {name!r} in {folder}: write one module per "
                                    "exercise (autograder/README.md, 'The exercise contract').")
        exercises = [cls._graded(load_probe(path), templates) for path in modules]
        # the library pieces an exercise grades must exist, to be left out of the sandbox's copy
        problems = undefined({n for e in exercises for n in e.probe.exercise.graded})
        for exercise in exercises:
            for graded in exercise.probe.exercise.graded:
                if graded in problems:
                    raise ProbeError(f"{exercise.probe.path}: {problems[graded]}")
        # probes run in the order of their answer cells in the notebook
        order = {(n, cell): i for n, t in templates.items() for i, cell in enumerate(t.answer_ids)}
        exercises.sort(key=lambda e: (e.notebook, order[e.notebook, e.probe.exercise.answer_cells[0]]))
        names = [exercise.name for exercise in exercises]
        if len(set(names)) != len(names):
            raise ProbeError(f"Two probes of {name!r} declare the same exercise name: {names}")
        return cls(name, templates, exercises)

    @staticmethod
    def _graded(probe: Probe, templates: dict[str, Template]) -> GradedExercise:
        exercise = probe.exercise
        notebook = exercise.notebook or (next(iter(templates)) if len(templates) == 1 else "")
        if notebook not in templates:
            raise ProbeError(f"{probe.path}: say which notebook the exercise is in "
                             f"(Exercise(notebook=...), one of {sorted(templates)})")
        template = templates[notebook]
        for cell_id in exercise.answer_cells:
            if cell_id not in template.answer_ids:
                raise ProbeError(f"{probe.path}: answer cell {cell_id!r} is not an nbgrader "
                                 f"solution cell of {notebook}.ipynb (it has {template.answer_ids})")
        points = template.points.get(exercise.grade_cell)
        if points is None:
            raise ProbeError(f"{probe.path}: grade cell {exercise.grade_cell!r} is not an nbgrader "
                             f"grade cell of {notebook}.ipynb (it has {sorted(template.points)})")
        if points <= 0:
            raise ProbeError(f"{probe.path}: grade cell {exercise.grade_cell!r} is worth {points} "
                             "points; give it the exercise's points (more than 0)")
        return GradedExercise(probe, notebook, points)
