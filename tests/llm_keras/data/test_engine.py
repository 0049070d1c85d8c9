"""The engines run a list of tasks and return their results in the tasks' order (llm_keras.data.engine)."""

import os
import time

import pytest

from llm_keras.data.engine import DaskEngine, LocalEngine, make_engine


def slow_square_and_pid(x, delay):
    """A task whose first tasks finish last (so the order of completion is not the tasks')."""
    time.sleep(delay)
    return x * x, os.getpid()


def fails_on_three(x):
    if x == 3:
        raise ValueError(f"x={x} is not allowed")
    return x


def test_local_engine_runs_in_this_process_in_order():
    tasks = [(x, 0.0) for x in range(5)]
    results = LocalEngine().map(slow_square_and_pid, tasks, progress=False)
    assert [square for square, _ in results] == [0, 1, 4, 9, 16]
    assert {pid for _, pid in results} == {os.getpid()}


def test_dask_engine_returns_results_in_task_order_from_worker_processes():
    # Task 0 sleeps longest: it finishes last, yet its result comes first.
    tasks = [(x, 0.3 - 0.05 * x) for x in range(6)]
    with DaskEngine(workers=2) as engine:
        assert engine.workers == 2
        results = engine.map(slow_square_and_pid, tasks, progress=False)
        with pytest.raises(ValueError, match="x=3 is not allowed"):  # the task's own error
            engine.map(fails_on_three, [(x,) for x in range(5)], progress=False)
    assert [square for square, _ in results] == [x * x for x in range(6)]
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_make_engine_checks_its_options():
    assert isinstance(make_engine("local"), LocalEngine)
    with pytest.raises(ValueError, match="engine='ray' is not one of"):
        make_engine("ray")
    with pytest.raises(ValueError, match="options of engine='dask'"):
        make_engine("local", workers=2)
    with pytest.raises(ValueError, match="workers=0 must be a whole number >= 1"):
        DaskEngine(workers=0)


def test_the_pipeline_on_dask_writes_the_same_shards_and_report(tmp_path, data_dir):
    from llm_keras.data.pipeline import CurationSettings, curate
    from llm_keras.data.streaming import read_documents

    paragraphs = list(read_documents(data_dir / "shakespeare_gutenberg.txt", "paragraph"))
    raw = tmp_path / "raw.txt"
    raw.write_text("\n\n".join(paragraphs[:1500] + paragraphs[:200]) + "\n", encoding="utf-8")
    settings = CurationSettings(  # every step on (quality thresholds for verse)
        quality_settings={"min_words": 10, "c4_min_sentences": 1},
        part_documents=100,
        shard_tokens=50_000,
    )
    local = curate([raw], tmp_path / "local", settings, progress=False)
    with DaskEngine(workers=2) as engine:
        dask = curate([raw], tmp_path / "dask", settings, engine=engine, progress=False)
    assert dask.engine == "dask, 2 workers" and local.engine == "local"
    assert dask.counts() == local.counts()
    assert local.dropped["duplicate"]["documents"] >= 150
    assert local.dropped["gopher_word_count"]["documents"] >= 100, local.dropped
    written = sorted(
        p.relative_to(tmp_path / "local")
        for p in (tmp_path / "local").rglob("*")
        if p.is_file() and p.name != "report.json"
    )
    assert len(written) > 40 and any(p.suffix == ".bin" for p in written)
    for path in written:  # every shard, the manifest, the tokenizer, every part's output
        assert (tmp_path / "dask" / path).read_bytes() == (tmp_path / "local" / path).read_bytes()
