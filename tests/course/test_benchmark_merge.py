"""Rerunning some stages of a benchmark keeps the others' rows: ``with_recorded_stages``, which
``benchmarks/finetuning.py --merge`` and ``benchmarks/alignment.py --stages`` both use."""

from __future__ import annotations

import json

from tests.course.benchmark_scripts import load_benchmark

ORDER = ["pretrain", "sft", "reward", "dpo", "grpo"]


def benchmark_module():
    return load_benchmark("finetuning")


def run(date, stages, settings=None, curves=None):
    return {"key": "jax-cpu", "date": date, "settings": settings or {"steps": (800, 16)},
            "stages": [{"stage": name, "after": after} for name, after in stages],
            "curves": curves or {}}  # fmt: skip


def recorded_in(tmp_path, record):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"runs": {record["key"]: record}}), encoding="utf-8")
    return path


def test_rows_not_rerun_are_kept_with_the_date_of_their_run(tmp_path):
    merge = benchmark_module().with_recorded_stages
    first = run("2026-12-04", [("pretrain", 1.87), ("sft", 0.13), ("dpo", 0.14), ("grpo", 0.12)],
                curves={"dpo": [1, 2], "grpo": [3, 4]})  # fmt: skip
    path = recorded_in(tmp_path, first)
    second = run("2026-12-05", [("grpo", 0.41), ("pretrain", 1.87), ("reward", 0.92)],
                 curves={"grpo": [5, 6]})  # fmt: skip
    merged = merge(path, second, ORDER)
    rows = [(row["stage"], row["after"], row.get("run_date")) for row in merged["stages"]]
    assert rows == [("pretrain", 1.87, None), ("sft", 0.13, "2026-12-04"),
                    ("reward", 0.92, None), ("dpo", 0.14, "2026-12-04"),
                    ("grpo", 0.41, None)]  # fmt: skip
    assert merged["date"] == "2026-12-05"
    assert merged["curves"] == {"dpo": [1, 2], "grpo": [5, 6]}
    # A third run keeps the first run's date on the rows neither later run made.
    third = run("2026-12-06", [("reward", 0.93)])
    again = merge(recorded_in(tmp_path, merged), third, ORDER)
    dates = {row["stage"]: row.get("run_date") for row in again["stages"]}
    assert dates == {"pretrain": "2026-12-05", "sft": "2026-12-04", "reward": None,
                     "dpo": "2026-12-04", "grpo": "2026-12-05"}  # fmt: skip


def test_no_merge_with_a_run_of_other_settings_or_none(tmp_path):
    merge = benchmark_module().with_recorded_stages
    path = recorded_in(tmp_path, run("2026-12-04", [("sft", 0.13)], settings={"steps": (400, 16)}))
    assert merge(path, run("2026-12-05", [("dpo", 0.2)]), ORDER) is None
    assert merge(tmp_path / "missing.json", run("2026-12-05", [("dpo", 0.2)]), ORDER) is None
    # The same settings, read back from JSON (a tuple becomes a list), do merge.
    path = recorded_in(tmp_path, run("2026-12-04", [("sft", 0.13)]))
    merged = merge(path, run("2026-12-05", [("dpo", 0.2)]), ORDER)
    assert [row["stage"] for row in merged["stages"]] == ["sft", "dpo"]


def test_the_chapters_sentence_names_the_rows_of_earlier_runs():
    from weasyprint_build.benchmark_runs import describe_run

    run = {"date": "2026-12-05T01:22:38+00:00", "backend": "jax", "device": "cpu",
           "machine": "AMD EPYC, 2 cores", "load_average_start": [5.6, 5, 4],
           "load_average_end": [6.74, 6, 5], "keras_version": "3.15.1",
           "stages": [{"stage": "pretrain"}, {"stage": "sft"},
                      {"stage": "dpo", "run_date": "2026-12-04T08:11:59+00:00"},
                      {"stage": "grpo", "run_date": "2026-12-04T08:11:59+00:00"},
                      {"stage": "reward", "run_date": "2026-12-03T10:00:00+00:00"}]}  # fmt: skip
    text = describe_run(run)
    assert text.startswith("The run shown was made on 2026-12-05, with the jax backend on the "
                           "CPU of a machine with AMD EPYC, 2 cores, shared with other jobs "
                           "(load average 5.6 at the start and 6.7 at the end), Keras 3.15.1.")
    assert text.endswith(
        " Some rows come from earlier runs of the same settings: `reward` from one on "
        "2026-12-03; `dpo` and `grpo` from one on 2026-12-04. The benchmark reran the others."
    )
    one_run = describe_run({**run, "stages": run["stages"][:4]})
    assert one_run.endswith(" The rows `dpo` and `grpo` come from an earlier run of the same "
                            "settings, on 2026-12-04 (the benchmark reran the others).")
    assert "earlier run" not in describe_run({**run, "stages": run["stages"][:2]})
