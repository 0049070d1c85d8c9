"""The sentence that says which run of a benchmark a chapter's results section shows.

The fine-tuning and alignment chapters read a benchmark's results file (``course/results/*.json``)
and say when, where and under what load its run was made. A benchmark rerun for some stages keeps
the other stages' rows from the earlier run of the same settings, each marked with its
``"run_date"`` (``benchmarks/finetuning.py``'s ``with_recorded_stages``); the sentence names
those rows and their date, so that no row is dated wrongly.
"""

from __future__ import annotations

import datetime


def describe_run(run: dict) -> str:
    """"The run shown was made on <date>, with the <backend> backend ..., load average ...,
    Keras <version>. The wall times depend on that load.", then a sentence per earlier date
    naming the rows that run made ("on 2026-12-04"; a run of the same day as the one shown:
    "at 01:22 UTC the same day")."""
    quick = " with its `--quick` settings (smaller runs)" if run.get("quick") else ""
    text = (
        f"The run shown was made on {run['date'][:10]}{quick}, with the {run['backend']} backend "
        f"on the {run['device'].upper()} of a machine with {run['machine']}, shared with other "
        f"jobs (load average {run['load_average_start'][0]:.1f} at the start and "
        f"{run['load_average_end'][0]:.1f} at the end), Keras {run['keras_version']}. The wall "
        "times depend on that load."
    )
    shown = _utc(run["date"])
    earlier: dict[str, list[str]] = {}  # when (a date, or a time of the run's day) -> rows
    for row in run["stages"]:
        if row.get("run_date"):
            made = _utc(row["run_date"])
            when = made.isoformat() if made.date() == shown.date() else made.date().isoformat()
            earlier.setdefault(when, []).append(f"`{row['stage']}`")
    for when, names in sorted(earlier.items()):
        rows = f"The rows {', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else \
            f"The row {names[0]}"
        # a run of the shown run's day is said so: "on 2026-12-05" read as another day's run
        said = f"at {when[11:16]} UTC the same day" if "T" in when else f"on {when}"
        text += f" {rows} come{'s' if len(names) == 1 else ''} from an earlier run of the same " \
                f"settings, {said} (the benchmark reran the others)."
    return text


def _utc(iso: str) -> datetime.datetime:
    """A results file's date (ISO 8601, ``datetime.isoformat()``; UTC when it has no offset)."""
    made = datetime.datetime.fromisoformat(iso)
    if made.tzinfo is None:
        return made.replace(tzinfo=datetime.UTC)
    return made.astimezone(datetime.UTC)
