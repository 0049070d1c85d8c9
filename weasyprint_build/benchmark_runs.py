"""The sentences that say which run of a benchmark a chapter's results section shows, and what
a table of every run leaves out.

The fine-tuning and alignment chapters read a benchmark's results file (``course/results/*.json``)
and say when, where and under what load its run was made. A benchmark rerun for some stages keeps
the other stages' rows from the earlier run of the same settings, each marked with its
``"run_date"`` (``benchmarks/finetuning.py``'s ``with_recorded_stages``); the sentence names
those rows and their date, so that no row is dated wrongly.
"""

from __future__ import annotations

import datetime

from autograder.wording import series


def describe_run(run: dict) -> str:
    """"The run shown was made on <date>, with the <backend> backend ..., load average ...,
    Keras <version>. The wall times depend on that load.", then which rows an earlier run made:
    "The rows `dpo` and `grpo` come from an earlier run of the same settings, on 2026-12-04 (the
    benchmark reran the others)." or, for runs of several dates, "Some rows come from earlier
    runs of the same settings: `dpo` from one on 2026-12-04; `reward` from one at 01:22 UTC
    on 2026-12-05. The benchmark reran the others." A run of the shown run's day gets its time
    too: a date alone reads as the day of the run shown."""
    quick = " with its `--quick` settings (smaller runs)" if run.get("quick") else ""
    text = (
        f"The run shown was made on {run['date'][:10]}{quick}, with the {run['backend']} backend "
        f"on the {run['device'].upper()} of a machine with {run['machine']}, shared with other "
        f"jobs (load average {run['load_average_start'][0]:.1f} at the start and "
        f"{run['load_average_end'][0]:.1f} at the end), Keras {run['keras_version']}. The wall "
        "times depend on that load."
    )
    shown = _utc(run["date"])
    earlier: dict[str, list[str]] = {}  # when ("on 2026-12-04", "at 01:22 UTC on ...") -> rows
    for row in sorted(run["stages"], key=lambda row: _utc(row.get("run_date") or run["date"])):
        if row.get("run_date"):
            made = _utc(row["run_date"])
            day = made.date().isoformat()
            when = f"at {made:%H:%M} UTC on {day}" if made.date() == shown.date() else f"on {day}"
            earlier.setdefault(when, []).append(f"`{row['stage']}`")
    if len(earlier) == 1:
        (when, names), = earlier.items()
        rows = f"The rows {series(names)} come" if len(names) > 1 else f"The row {names[0]} comes"
        text += f" {rows} from an earlier run of the same settings, {when} (the benchmark " \
                "reran the others)."
    elif earlier:
        runs = [f"{series(names)} from one {when}" for when, names in earlier.items()]
        text += " Some rows come from earlier runs of the same settings: " \
                f"{'; '.join(runs)}. The benchmark reran the others."
    return text


def about_the_runs(runs: list[dict]) -> list[str]:
    """Sentences on a table with one column per run (the alignment chapter's): which runs used
    ``--quick``, and which stages each run lacks (a dash in the table), "stages the benchmark
    gained after those runs were made" when every missing stage's first row is newer than the
    runs that lack it. ``runs`` in the table's order; [] when there is nothing to say."""
    notes = []
    quick = [run for run in runs if run.get("quick")]
    if quick:
        notes.append(
            f"{_keys(quick)} ran with `--quick`, the benchmark's smaller setting (fewer steps "
            "in every stage, fewer held-out prompts): their base model is weaker (a higher loss "
            "in the `pretrain` row), so these columns show that every stage runs on that "
            "backend, not how far it gets.")  # fmt: skip
    names = list(dict.fromkeys(row["stage"] for run in runs for row in run["stages"]))
    first_made: dict[str, datetime.datetime] = {}  # stage -> when its first row was made
    for run in runs:
        for row in run["stages"]:
            when = _utc(row.get("run_date") or run["date"])
            first_made[row["stage"]] = min(first_made.get(row["stage"], when), when)
    lacking: dict[tuple[str, ...], list[dict]] = {}  # the stages a run lacks -> the runs
    for run in runs:
        made = {row["stage"] for row in run["stages"]}
        if missing := tuple(name for name in names if name not in made):
            lacking.setdefault(missing, []).append(run)
    if lacking:
        older = all(_utc(run["date"]) < first_made[name]
                    for missing, lack in lacking.items() for run in lack for name in missing)
        notes.append(
            "A dash marks a stage a run did not make: "
            + "; ".join(f"{_keys(lack)} {'lack' if len(lack) > 1 else 'lacks'} "
                        f"{series([f'`{name}`' for name in missing])}"
                        for missing, lack in lacking.items())
            + (", stages the benchmark gained after those runs were made." if older else "."))
    return notes


def _keys(runs: list[dict]) -> str:
    return series([f"`{run['key']}`" for run in runs])


def _utc(iso: str) -> datetime.datetime:
    """A results file's date (ISO 8601, ``datetime.isoformat()``; UTC when it has no offset)."""
    made = datetime.datetime.fromisoformat(iso)
    if made.tzinfo is None:
        return made.replace(tzinfo=datetime.UTC)
    return made.astimezone(datetime.UTC)
