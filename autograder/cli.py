"""The instructor's commands, wired into ``llm-course`` by ``add_course_commands(subparsers)``.

    llm-course release ASSIGNMENT                    solutions/ -> exercises/ (+ gradebook)
    llm-course grade ASSIGNMENT SUBMISSIONS_DIR      grade a folder of submissions
    llm-course export [--to grades.csv]              nbgrader's CSV export of the gradebook
    llm-course feedback ASSIGNMENT                   rewrite the feedback files from the records
    llm-course similarity ASSIGNMENT SUBMISSIONS_DIR answers that look copied (changes no grade)

Every command takes ``--course DIR`` (the course root, default: the current folder).
Errors an instructor can cause are raised as ``ValueError``/``FileNotFoundError`` with a plain
sentence (``SandboxUnavailable``, ``NbgraderError`` and ``ProbeError`` are ``ValueError``s),
which ``llm_keras.cli`` prints without a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path

from autograder.course import BACKENDS, Course

DEFAULT_BACKENDS = ("jax",)


def add_course_commands(subparsers) -> None:
    """Add ``release``, ``grade``, ``export`` and ``feedback`` to an argparse subparsers object."""
    release = subparsers.add_parser("release", help="generate the release notebooks (exercises/) "
                                    "from the source notebooks (solutions/) with nbgrader")
    release.add_argument("assignment", help="assignment folder name, e.g. week1")
    _course_options(release)
    release.set_defaults(handler=release_command)

    grade = subparsers.add_parser("grade", help="grade a folder of submissions "
                                  "(SUBMISSIONS_DIR/<student>/<assignment>/*.ipynb)")
    grade.add_argument("assignment", help="assignment folder name, e.g. week1")
    grade.add_argument("submissions", type=Path, help="folder with one sub-folder per student "
                       "(nbgrader's submitted/ layout)")
    _course_options(grade)
    grade.add_argument("--backend", choices=(*BACKENDS, "all"), action="append",
                       help="Keras backend(s) to grade under (repeat, or 'all'); default: the "
                       "assignment's BACKENDS, else jax")
    grade.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--cell-timeout", type=float, default=30.0,
                       help="seconds per cell and per exercise check (default 30)")
    grade.add_argument("--submission-timeout", type=float, default=300.0,
                       help="seconds per submission and backend (default 300)")
    grade.add_argument("--memory", type=int, default=2048,
                       help="MiB of memory per submission (default 2048)")
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission, even those already graded unchanged")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run learner code WITHOUT isolation (only where bubblewrap cannot run "
                       "and you trust the submissions)")
    grade.add_argument("--data", type=Path,
                       help="public course data to mount read-only at /data (LLM_KERAS_DATA)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.set_defaults(handler=grade_command)

    export = subparsers.add_parser("export", help="export the gradebook to CSV (nbgrader's format)")
    export.add_argument("--to", type=Path, default=Path("grades.csv"), help="CSV file to write")
    _course_options(export)
    export.set_defaults(handler=export_command)

    feedback = subparsers.add_parser("feedback", help="rewrite feedback/<student>/<assignment>/ "
                                     "report.html and report.json from the grading records")
    feedback.add_argument("assignment")
    _course_options(feedback)
    feedback.set_defaults(handler=feedback_command)

    similarity = subparsers.add_parser("similarity", help="report answers that look copied, from "
                                       "each other or from the library (changes no grade)")
    similarity.add_argument("assignment")
    similarity.add_argument("submissions", type=Path, help="the folder given to `grade`")
    similarity.add_argument("--out", type=Path, default=Path("similarity.html"),
                            help="HTML report; the JSON goes beside it (default similarity.html)")
    similarity.add_argument("--threshold", type=float, default=0.5,
                            help="list pairs at least this similar, 0-1 (default 0.5)")
    similarity.add_argument("--max-common", type=int, default=10,
                            help="ignore code found in more than this many submissions (default 10)")
    similarity.add_argument("--no-progress", action="store_true", help="no progress bar")
    _course_options(similarity)
    similarity.set_defaults(handler=similarity_command)


def _course_options(parser) -> None:
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="course root: holds solutions/, exercises/, autograder/probes/ "
                        "(default: the current folder)")
    parser.add_argument("--probes", type=Path, help="probes folder (default: COURSE/autograder/probes)")
    parser.add_argument("--db", help="gradebook SQLAlchemy URL (default: sqlite:///COURSE/gradebook.db)")


def _course(args) -> Course:
    if not Path(args.course).is_dir():
        raise FileNotFoundError(f"The course folder {args.course} does not exist.")
    return Course(args.course, args.probes, args.db)


def release_command(args) -> int:
    from autograder.nbgrader_bridge import release

    course = _course(args)
    release(course, args.assignment)
    print(f"Released {args.assignment}: {course.release(args.assignment)} "
          f"(and its grade cells are in the gradebook {course.db_url})")
    return 0


def memory_limit_line(mebibytes: int) -> str:
    """One line saying how the sandbox will hold each submission to ``--memory``."""
    from autograder.sandbox.memory_cgroup import find_hierarchy

    hierarchy, why_not = find_hierarchy()
    if hierarchy is not None:
        return (f"Memory per submission: {mebibytes} MiB, a kernel limit (one cgroup per sandbox; "
                f"{hierarchy.describe()}).")
    return (f"Memory per submission: {mebibytes} MiB, watched every 50 ms, with an address-space "
            f"limit 4 GiB above it (no memory cgroup here: {why_not}).")


def grade_command(args) -> int:
    from autograder.grading import Options, grade
    from autograder.sandbox.launcher import Limits

    course = _course(args)
    backends = assignment_backends(course, args.assignment, args.backend)
    limits = Limits(cell_timeout=args.cell_timeout, submission_timeout=args.submission_timeout,
                    memory_bytes=args.memory << 20)
    options = Options(backends=backends, workers=max(1, args.workers), limits=limits,
                      sandboxed=not args.no_sandbox, force=args.force, public_data=args.data,
                      progress=not args.no_progress)
    if args.no_sandbox:
        print("WARNING: --no-sandbox: learner code runs with your permissions, network and files.")
    else:
        print(memory_limit_line(args.memory))
    try:
        summary = grade(course, args.assignment, args.submissions, options)
    except KeyboardInterrupt:
        print("llm-course: interrupted; the submissions graded so far are saved: run the same "
              "command again to grade the rest.", file=sys.stderr)
        return 130
    every = summary.records
    statuses = Counter(record["status"] for record in every.values())
    print(f"{len(summary.graded)} submission(s) graded, {len(summary.reused)} unchanged since the "
          f"last run, in {summary.seconds:.1f} s on {', '.join(backends)}.")
    for status, count in sorted(statuses.items()):
        print(f"  {status:<17}{count}")
    print(summary_notes(summary, args.assignment), end="")
    if every:
        scores = [record["score"] for record in every.values()]
        top = next(iter(every.values()))["max_score"]
        print(f"Mean score {sum(scores) / len(scores):.2f} / {top:g}. Records: "
              f"{course.root / 'autograded'}; feedback: {course.root / 'feedback'}; "
              f"gradebook: {course.db_url}")
    return 0


def summary_notes(summary, assignment: str) -> str:
    """The lines after the counts: who submitted nothing, what was skipped, repaired or failed."""
    lines = []
    if summary.absent:
        count = len(summary.absent)
        lines.append(f"{count} student{'s have' if count > 1 else ' has'} no submission for "
                     f"{assignment} (no record): {', '.join(summary.absent)}")
    lines += [f"Skipped {message}" for message in summary.skipped]
    if summary.repaired:
        lines.append(f"Wrote {len(summary.repaired)} earlier grade(s) missing from the gradebook "
                     f"back to it, without grading again: {', '.join(summary.repaired)}")
    for student, problems in sorted(summary.problems.items()):
        lines.append(f"Problem saving {student}: {'; '.join(problems)}")
    return "".join(line + "\n" for line in lines)


def export_command(args) -> int:
    from autograder.nbgrader_bridge import export_csv

    course = _course(args)
    export_csv(course, args.to)
    print(f"Wrote {args.to}")
    return 0


def feedback_command(args) -> int:
    from autograder import feedback, records

    course = _course(args)
    count = 0
    for folder in sorted((course.root / "autograded").glob(f"*/{args.assignment}")):
        record = records.read(folder)
        if record:
            feedback.write(record, course.feedback(record["student"], args.assignment))
            count += 1
    print(f"Wrote feedback for {count} submission(s) under {course.root / 'feedback'}")
    return 0


def similarity_command(args) -> int:
    from autograder import similarity

    report = similarity.similarity_report(_course(args), args.assignment, args.submissions,
                                          args.threshold, max_common=args.max_common,
                                          progress=not args.no_progress)
    html_path, json_path = similarity.write(report, args.out)
    print(f"{len(report['pairs'])} pair(s) at or above {args.threshold:g}, "
          f"{len(report['unreadable'])} unreadable notebook(s): {html_path}, {json_path}")
    return 0


def assignment_backends(course: Course, assignment: str, chosen) -> tuple[str, ...]:
    """--backend wins; else BACKENDS in the assignment's ``_assignment.py``; else jax."""
    if chosen:
        return BACKENDS if "all" in chosen else tuple(dict.fromkeys(chosen))
    settings = course.probe_folder(assignment) / "_assignment.py"
    if settings.is_file():
        spec = importlib.util.spec_from_file_location(f"_assignment_{assignment}", settings)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        backends = tuple(getattr(module, "BACKENDS", DEFAULT_BACKENDS))
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise ValueError(f"{settings}: unknown backend(s) {sorted(unknown)}; use {BACKENDS}")
        return backends
    return DEFAULT_BACKENDS


def main(argv=None) -> int:
    """Stand-alone entry point, ``python -m autograder.cli`` (the same as ``llm-course``)."""
    parser = argparse.ArgumentParser(prog="llm-course", description="Course tooling: grading.")
    add_course_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, FileNotFoundError) as error:
        print(f"llm-course: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
