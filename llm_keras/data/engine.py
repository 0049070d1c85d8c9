"""Where the curation pipeline's tasks run: here, or on a Dask cluster (week 1, "Data: from the web to token shards").

The pipeline (``llm_keras.data.pipeline``) cuts a corpus into parts and runs the same function on
every part: normalise part 3, filter part 7, tokenise part 12. Each task reads its input files and
writes its output files under the run's folder and returns a small summary (counts, digests). An
*engine* runs a list of such tasks and hands back their summaries in the order of the tasks:

- ``LocalEngine``: one after the other, in this process. The reference: everything else must give
  the same output.
- ``DaskEngine``: on the workers of a Dask cluster (``dask.distributed``). Without an address it
  starts a ``LocalCluster`` of ``workers`` processes on this machine; with one
  (``tcp://10.0.0.1:8786``) it sends the tasks to a cluster started elsewhere (``dask scheduler``
  on one machine, ``dask worker ADDRESS`` on each of the others). The code is the same in both
  cases, which is why the course uses Dask: pure Python, ``pip install "dask[distributed]"`` on any
  machine, and its local mode is the cluster API, not an imitation of it. NVIDIA's NeMo Curator
  built its fuzzy deduplication on Dask for the same reasons.

Because a task's output depends only on its input, and the engine returns the summaries in task
order whatever order the workers finish in, both engines write byte-identical shards and equal
reports. On a real cluster the run's folder must be on a file system that every worker sees (NFS,
a cluster file system): the tasks read and write there.

Example:
    >>> with DaskEngine(workers=2) as engine:  # doctest: +SKIP
    ...     engine.map(pow, [(2, 3), (3, 2)], desc="powers")
    [8, 9]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tqdm import tqdm

ENGINES = ("local", "dask")


class LocalEngine:
    """Runs the tasks in this process, one after the other.

    Example:
        >>> LocalEngine().map(pow, [(2, 3), (3, 2)], progress=False)
        [8, 9]
    """

    name = "local"
    workers = 1

    def map(
        self, function: Callable, tasks: Sequence[tuple], *, desc: str = "", progress: bool = True
    ) -> list:
        """``[function(*task) for task in tasks]``, with a progress bar of tasks done.

        Args:
            function: a module-level function (so that the Dask engine can send it to workers).
            tasks: the argument tuples, one per task.
            desc: the progress bar's label.
            progress: show the progress bar.

        Returns:
            The results, in the order of ``tasks``.
        """
        return [
            function(*task) for task in tqdm(tasks, desc=desc, unit="part", disable=not progress)
        ]

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return "LocalEngine()"


class DaskEngine(LocalEngine):
    """Runs the tasks on a Dask cluster: a ``LocalCluster`` here, or the one at ``scheduler``.

    Args:
        scheduler: the address of a running Dask scheduler (``"tcp://10.0.0.1:8786"``), or
            ``None`` to start a ``LocalCluster`` on this machine.
        workers: the number of worker processes of the ``LocalCluster`` (one thread each: the
            tasks are pure Python and hold the GIL). Ignored with ``scheduler``: a cluster has
            the workers it was started with.

    Raises:
        ValueError: ``workers`` is not a whole number >= 1.
        OSError: no scheduler answers at ``scheduler`` (within 30 seconds).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r} must be a whole number >= 1.")
        from dask.distributed import Client, LocalCluster

        self.scheduler = scheduler
        self._cluster = None
        if scheduler is None:
            # processes=True: each worker is its own Python process, as on a cluster.
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as error:
                raise OSError(
                    f"scheduler={scheduler!r}: no Dask scheduler answered ({error}). Start one "
                    f"with `dask scheduler` and workers with `dask worker {scheduler}`, or leave "
                    f"scheduler out to run a local cluster."
                ) from None
        self.workers = len(self._client.scheduler_info()["workers"]) if scheduler else workers

    def map(
        self, function: Callable, tasks: Sequence[tuple], *, desc: str = "", progress: bool = True
    ) -> list:
        """Like ``LocalEngine.map``, each task on a worker; a task's error is raised here."""
        from dask.distributed import as_completed

        futures = [self._client.submit(function, *task, pure=False) for task in tasks]
        with tqdm(total=len(futures), desc=desc, unit="part", disable=not progress) as bar:
            for future in as_completed(futures):
                future.result()  # raises the task's own exception, as the local engine would
                bar.update()
        return [future.result() for future in futures]

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __repr__(self) -> str:
        where = self.scheduler or "a LocalCluster"
        return f"DaskEngine({where}, {self.workers} workers)"


def make_engine(
    engine: str = "local", scheduler: str | None = None, workers: int | None = None
) -> LocalEngine:
    """The engine named ``engine``: ``"local"`` or ``"dask"``.

    Args:
        engine: ``"local"`` (this process) or ``"dask"``.
        scheduler: ``"dask"`` only: a scheduler's address; ``None`` for a LocalCluster.
        workers: ``"dask"`` only: the LocalCluster's processes (default 2).

    Raises:
        ValueError: an unknown engine, or ``scheduler``/``workers`` given to the local engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not one of {ENGINES}.")
    if engine == "local":
        if scheduler is not None or (workers is not None and workers != 1):
            raise ValueError(
                "scheduler and workers are options of engine='dask': the local engine runs "
                "in this process. Pass engine='dask' to run on several workers."
            )
        return LocalEngine()
    return DaskEngine(scheduler, 2 if workers is None else workers)
