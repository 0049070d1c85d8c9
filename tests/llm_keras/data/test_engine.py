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
