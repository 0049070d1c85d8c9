"""The training benchmark's results file, ``course/results/training.json``, which chapter 3's
results section reads: the committed file is whole and consistent, and ``write_results`` writes
what its docstring says (ratios, NaN as null, the run's machine and load)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.course.benchmark_scripts import load_benchmark

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "course" / "results" / "training.json"
TOKENS_PER_STEP = 12 * 64  # the shakespeare-char-cpu preset: batch 12, context 64


def benchmark_module():
    return load_benchmark("training")


def row(key, tokens_per_second, loss):
    return {"key": key, "run": key, "tokens_per_second": tokens_per_second,
            "ms_per_step": 1000 * TOKENS_PER_STEP / tokens_per_second, "final_val_loss": loss,
            "wall_seconds": float("nan") if key == "floor" else 100.0, "steps": 2000,
            "load_average_start": [1.0, 1.0, 1.0], "evaluations": [],
            "train_curve": []}  # fmt: skip


def test_write_results_adds_the_ratios_and_writes_nan_as_null(tmp_path):
    training = benchmark_module()
    record = {"schema_version": 1, "date": "2026-12-04T00:00:00+00:00", "machine": "test CPU",
              "cpu_count": 2, "load_average_start": [3.0, 2.0, 1.0],
              "settings": {"steps": 2000, "seed": 1337}}  # fmt: skip
    rows = [row("jax", 15000.0, 1.88), row("pytorch", 20000.0, 1.87),
            row("floor", 30000.0, float("nan"))]  # fmt: skip
    path = tmp_path / "results" / "training.json"
    training.write_results(path, record, rows, complete=True)
    document = json.loads(path.read_text())  # strict JSON: no NaN
    assert document["complete"] is True
    assert document["machine"] == "test CPU" and document["load_average_start"] == [3.0, 2.0, 1.0]
    assert len(document["load_average_end"]) == 3
    by_key = {r["key"]: r for r in document["rows"]}
    assert by_key["jax"]["vs_plain_pytorch"] == pytest.approx(0.75)
    assert by_key["jax"]["vs_floor"] == pytest.approx(0.5)
    assert by_key["pytorch"]["vs_floor"] == pytest.approx(2 / 3)
    assert by_key["floor"]["vs_plain_pytorch"] == pytest.approx(1.5)
    assert by_key["floor"]["final_val_loss"] is None and by_key["floor"]["wall_seconds"] is None
    assert not path.with_suffix(".json.partial").exists()
    # A partial run (no PyTorch row yet) has no ratio to it, and says it is not complete.
    training.write_results(path, record, rows[:1], complete=False)
    document = json.loads(path.read_text())
    assert document["complete"] is False
    assert document["rows"][0]["vs_plain_pytorch"] is None
    assert document["rows"][0]["vs_floor"] is None


def test_the_committed_results_hold_every_run_consistently():
    document = json.loads(RESULTS.read_text())
    assert document["schema_version"] == 1
    assert document["complete"] is True
    assert document["machine"] and document["cpu_count"] >= 1
    for key in ("load_average_start", "load_average_end"):
        assert len(document[key]) == 3 and all(0 <= x < 1000 for x in document[key])
    settings = document["settings"]
    assert settings["preset"] == "shakespeare-char-cpu" and settings["seed"] == 1337
    rows = {r["key"]: r for r in document["rows"]}
    assert {"jax", "tensorflow", "torch", "pytorch", "floor"} <= set(rows)
    pytorch, floor = rows["pytorch"]["tokens_per_second"], rows["floor"]["tokens_per_second"]
    for key, r in rows.items():
        assert r["steps"] == settings["steps"]
        speed = r["tokens_per_second"]
        assert math.isfinite(speed) and speed > 0
        assert r["ms_per_step"] == pytest.approx(1000 * TOKENS_PER_STEP / speed, rel=1e-9)
        assert r["vs_plain_pytorch"] == pytest.approx(speed / pytorch, rel=1e-12)
        assert r["vs_floor"] == pytest.approx(speed / floor, rel=1e-12)
        assert len(r["load_average_start"]) == 3
        if key == "floor":  # the products alone: no model, no loss
            assert r["final_val_loss"] is None
            continue
        # A trained model: far below a uniform guess (ln 65 = 4.17), near nanoGPT's 1.88.
        assert 1.5 < r["final_val_loss"] < 2.5
        assert math.isfinite(r["wall_seconds"]) and r["wall_seconds"] > 0
        assert [e["step"] for e in r["evaluations"]][-1] == settings["steps"]
        assert all(math.isfinite(e["val_loss"]) for e in r["evaluations"])
        assert r["train_curve"][-1][0] == settings["steps"]
    # A program that computes its products with PyTorch's routines (the plain program, the
    # PyTorch backend) takes no step faster than those products alone; XLA (JAX, TensorFlow)
    # has routines of its own and may pass the floor (TensorFlow did on 5 December: 1.10).
    assert max(rows[key]["vs_floor"] for key in ("torch", "pytorch")) < 1.0


def test_chapter_3_reads_the_speeds_of_the_backends_from_the_results_file():
    """The week 3 chapter's backend figures come from the file, none typed into its text: no
    tokens/s of this run or of docs/benchmarks.md's quiet run (20,307, 15,625...) in any form."""
    chapter = (REPO / "course" / "03-week3-pretraining-a-gpt.md").read_text()
    assert '"course/results/training.json"' in chapter
    rows = json.loads(RESULTS.read_text())["rows"]
    typed = [f"{r['tokens_per_second']:,.0f}" for r in rows]
    typed += ["20,000", "20,307", "15,600", "15,625", "13,700", "13,733", "21,168"]
    assert [number for number in typed if number in chapter] == []


def test_a_run_stopped_half_way_leaves_the_course_file_as_it_was(tmp_path, monkeypatch):
    # A run of every row replaces the course's file only at its end; until then its progress is
    # written beside the curves, so a run killed after two rows leaves the book's figures (the
    # stopped run of 5 December had overwritten them with a half file that chapter 3 could not read).
    training = benchmark_module()
    course_file = tmp_path / "course" / "training.json"
    course_file.parent.mkdir()
    course_file.write_text('{"the committed run": true}\n')
    out = tmp_path / "out"
    monkeypatch.setattr(training, "REPO", tmp_path)
    monkeypatch.setattr(training, "DEFAULT_RESULTS", course_file)
    monkeypatch.setattr(training, "plot", lambda results, path: None)
    speeds = {"jax": 15000.0, "tensorflow": 19000.0, "torch": 11000.0, "pytorch": 16000.0,
              "floor": 26000.0}  # fmt: skip
    made = []

    def fake_worker(run, args, stop_after=None):
        if stop_after is not None and len(made) == stop_after:
            raise KeyboardInterrupt
        made.append(run)
        loss = float("nan") if run == "floor" else 1.88
        return {k: v for k, v in row(run, speeds[run], loss).items() if k != "key"}

    monkeypatch.setattr(training, "run_worker", lambda run, args: fake_worker(run, args, 2))
    monkeypatch.setattr("sys.argv", ["training.py", "--out", str(out)])
    with pytest.raises(KeyboardInterrupt):
        training.main()
    assert course_file.read_text() == '{"the committed run": true}\n'
    progress = json.loads((out / "training_results.partial.json").read_text())
    assert progress["complete"] is False
    assert [r["key"] for r in progress["rows"]] == ["jax", "tensorflow"]

    made.clear()
    monkeypatch.setattr(training, "run_worker", lambda run, args: fake_worker(run, args))
    training.main()
    document = json.loads(course_file.read_text())
    assert document["complete"] is True
    assert [r["key"] for r in document["rows"]] == list(training.RUNS)
    assert {r["key"]: r["vs_plain_pytorch"] for r in document["rows"]}["jax"] == pytest.approx(
        15000 / 16000)
    assert not (out / "training_results.partial.json").exists()

    # A file named with --results is written after every row, as before.
    named = tmp_path / "named.json"
    made.clear()
    monkeypatch.setattr(training, "run_worker", lambda run, args: fake_worker(run, args, 3))
    monkeypatch.setattr("sys.argv", ["training.py", "--out", str(out), "--results", str(named)])
    with pytest.raises(KeyboardInterrupt):
        training.main()
    assert [r["key"] for r in json.loads(named.read_text())["rows"]] == ["jax", "tensorflow",
                                                                        "torch"]  # fmt: skip
