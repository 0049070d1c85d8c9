"""Run each chapter's code in its own Jupyter kernel, so that every output in the PDF really ran.

One kernel per chapter (a chapter's cells share variables, chapters share nothing), started in
the repository's root with the Keras backend pinned (``KERAS_BACKEND``, jax by default) and on
CPU, so that the printed numbers do not depend on the machine that builds the book. Chapters
run in parallel (``jobs`` kernels at a time).

Executed notebooks are cached under ``<cache>/executed/``, keyed on the sha256 of the chapter's
code cells (their source and options, in order: an edit of the prose alone runs nothing again,
the cached outputs are put beside the new text), the backend, this module's preamble, the
figures' matplotlibrc, the code and notebooks any chapter can read (``llm_keras/**/*.py``,
``solutions/**/*.ipynb``), the repository's modules that the chapter's code imports
(``weasyprint_build.benchmark_runs`` writes the sentence on a benchmark's run), and every other
file of the repository that the chapter's code names in a string (``Path("docs/benchmarks.md")``:
the introduction's schedule reads it; ``"course/results/training.json"``: week 3 reads the training
benchmark's results) or whose name it builds in ``course/results/`` or ``course/figures/``
(``f"course/results/{name}.json"``: then every file there): a chapter is run again when any of
them changed, and not otherwise. (``--fresh`` re-runs everything.)
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from weasyprint_build.chapters import Chapter
from weasyprint_build.errors import BuildError

CACHE_VERSION = "2"  # 2: keyed on the code cells, not the whole chapter file
STYLE_DIR = Path(__file__).parent / "style"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
# Run first in every kernel, hidden: figures come out as SVG (vector, sharp at any zoom).
PREAMBLE = "%config InlineBackend.figure_formats = ['svg']"
ALLOWED_ERROR_TAG = "raises-exception"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# What every chapter's key covers (sources_digest): (folder, pattern).
_SOURCES = (("llm_keras", "*.py"), ("solutions", "*.ipynb"))
# Folders of files that chapters read by name (a benchmark's results, a committed figure): a
# chapter's key covers the files of these it names, or the whole folder when its code builds a
# name in it (f"course/results/{name}.json"), so that a new benchmark run re-runs only the
# chapters that read its file.
_READ_BY_NAME = ("course/results", "course/figures")
# A string literal that may be a path relative to the repository ("docs/benchmarks.md").
_PATH_LITERAL = re.compile(r"""["']([\w.-]+(?:/[\w.-]+)+)["']""")
# A folder globbed with literal strings: Path("course").glob("[0-9][0-9]-week*.md").
_GLOB_LITERAL = re.compile(r"""Path\(["']([\w./-]+)["']\)\.(r?glob)\(["']([^"']+)["']\)""")
# A module imported by its dotted name: ``from weasyprint_build.benchmark_runs import ...``.
_IMPORT = re.compile(r"^[ \t]*(?:from|import)[ \t]+([A-Za-z_]\w*(?:\.\w+)*)", re.MULTILINE)


def kernel_environment(backend: str, repo_root: Path) -> dict[str, str]:
    """The environment of a chapter's kernel: pinned backend, CPU only, fixed hash seed."""
    env = dict(os.environ)
    env.update(
        {
            "KERAS_BACKEND": backend,
            "JAX_PLATFORMS": "cpu",
            "CUDA_VISIBLE_DEVICES": "",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONHASHSEED": "0",
            "MATPLOTLIBRC": str(STYLE_DIR / "matplotlibrc"),
            # The repository (llm_keras) and this package's folder (weasyprint_build.glue).
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(repo_root), str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    return env


def sources_digest(repo_root: Path) -> str:
    """Hash of what any chapter's code can read besides itself: ``llm_keras``'s modules and the
    week notebooks of ``solutions/`` (their names and contents)."""
    digest = hashlib.sha256()
    for folder, pattern in _SOURCES:
        for path in sorted((repo_root / folder).rglob(pattern)):
            digest.update(path.relative_to(repo_root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def files_read_digest(chapter: Chapter, repo_root: Path) -> str:
    """Hash of the repository's files that the chapter's code names in a string literal
    (``Path("docs/benchmarks.md").read_text()``), globs with literal strings
    (``Path("course").glob("[0-9][0-9]-week*.md")``) or imports as a module
    (``from weasyprint_build.benchmark_runs import describe_run``): their names and contents;
    "" when it names none. A name that is not a file of the repository (a folder, a path the
    code creates) or that ``sources_digest`` already covers counts for nothing."""
    root = repo_root.resolve()
    names = set()
    for cell in chapter.notebook.cells:
        if cell.cell_type == "code":
            names.update(_PATH_LITERAL.findall(cell.source))
            names.update(_module_files(cell.source, root))
            for folder, glob, pattern in _GLOB_LITERAL.findall(cell.source):
                found = getattr(root / folder, glob)(pattern) if (root / folder).is_dir() else []
                names.update(path.relative_to(root).as_posix() for path in found)
            for folder in _READ_BY_NAME:  # a name built in the folder: all of its files
                if re.search(re.escape(folder) + r"/[\w.-]*[^\w.\s'\"/-]", cell.source) and (
                        root / folder).is_dir():  # fmt: skip
                    names.update(path.relative_to(root).as_posix()
                                 for path in (root / folder).rglob("*"))  # fmt: skip
    files = []
    for name in sorted(names):
        path = (root / name).resolve()
        covered = any(path.is_relative_to(root / folder) and path.match(pattern)
                      for folder, pattern in _SOURCES)  # fmt: skip
        if path.is_file() and path.is_relative_to(root) and not covered:
            files.append(name.encode() + b"\0" + path.read_bytes())
    return hashlib.sha256(b"\0".join(files)).hexdigest() if files else ""


def _module_files(source: str, root: Path) -> set[str]:
    """The repository's files of the modules that ``source`` imports by name (the module and
    the packages above it): ``weasyprint_build.benchmark_runs`` writes the chapter's sentence
    on a benchmark's run, so an edit of it must run the chapter again."""
    files = set()
    for name in _IMPORT.findall(source):
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            base = root.joinpath(*parts[:end])
            for path in (base.with_suffix(".py"), base / "__init__.py"):
                if path.is_file():
                    files.add(path.relative_to(root).as_posix())
    return files


def cache_key(chapter: Chapter, backend: str, sources: str = "") -> str:
    """Hash of what decides a chapter's outputs: its code cells (source and options, in order),
    the backend, the kernel's set-up and ``sources`` (``sources_digest``: the library and
    notebooks the chapter may read). The prose between the cells is not in it."""
    recipe = f"{CACHE_VERSION}|{backend}|{PREAMBLE}|{sources}|".encode()
    recipe += (STYLE_DIR / "matplotlibrc").read_bytes()
    # the chapter as the build read it, not the file now: an edit saved while the chapter ran
    # must not file the old outputs under the new code's key
    for cell in _code_cells(chapter.notebook):
        options = json.dumps(dict(cell.metadata), sort_keys=True, default=str)
        recipe += b"\0cell\0" + options.encode() + b"\0" + cell.source.encode("utf-8")
    return hashlib.sha256(recipe).hexdigest()[:20]


def _read_cached(path: Path, chapter: Chapter) -> nbformat.NotebookNode | None:
    """The cached run at ``path`` beside the chapter's text, or None (run it) if there is none
    or it cannot be read."""
    if not path.is_file():
        return None
    try:
        return outputs_beside_text(chapter, nbformat.read(path, as_version=4))
    except (OSError, ValueError, KeyError, IndexError):  # a damaged cache file: run again
        return None


def _code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def outputs_beside_text(chapter: Chapter, executed) -> nbformat.NotebookNode:
    """The chapter's notebook as read now, with the outputs of ``executed`` (a cached run of the
    same code cells) on its code cells: the prose is today's."""
    notebook = copy.deepcopy(chapter.notebook)
    ran, cells = _code_cells(executed), _code_cells(notebook)
    if len(ran) != len(cells) or any(a.source != b.source for a, b in zip(ran, cells)):
        raise ValueError(f"the cached run of {chapter.path.name} has other code cells")
    for cell, old in zip(cells, ran):
        cell.outputs, cell.execution_count = old.outputs, old.execution_count
        cell.metadata = old.metadata
    notebook.metadata = executed.metadata
    return notebook


def execute_chapters(
    chapters: list[Chapter],
    *,
    repo_root: Path,
    cache_dir: Path | None,
    backend: str = "jax",
    jobs: int = 2,
    timeout: int = 600,
    log: Callable[[str], None] = print,
    seconds: dict[Path, float] | None = None,
) -> dict[Path, nbformat.NotebookNode]:
    """Execute the chapters (or take them from the cache); returns ``{chapter path: notebook}``.

    ``seconds``, when given, receives ``{chapter path: seconds}`` for each chapter that ran."""
    results: dict[Path, nbformat.NotebookNode] = {}
    to_run = []
    sources = sources_digest(repo_root) if cache_dir is not None else ""
    # each chapter's key also covers the files its code names
    reads = {c.path: files_read_digest(c, repo_root) if cache_dir else "" for c in chapters}
    for chapter in chapters:
        cached = _cache_path(cache_dir, chapter, backend, sources + reads[chapter.path])
        if cached is not None and (executed := _read_cached(cached, chapter)) is not None:
            results[chapter.path] = executed
            log(f"code of {chapter.path.name}: unchanged, outputs from the cache")
        elif not _code_cells(chapter.notebook):
            results[chapter.path] = chapter.notebook
            log(f"code of {chapter.path.name}: no code cells")
        else:
            to_run.append(chapter)

    def run(chapter: Chapter) -> None:
        started = time.perf_counter()
        cells = sum(cell.cell_type == "code" for cell in chapter.notebook.cells)
        log(f"code of {chapter.path.name}: running ({cells} cells, KERAS_BACKEND={backend})")
        kernel_log = (cache_dir or repo_root / "build") / "kernels" / f"{chapter.path.stem}.log"
        notebook = execute_notebook(
            chapter, repo_root=repo_root, backend=backend, timeout=timeout,
            kernel_log=kernel_log, running=running,
        )
        cached = _cache_path(cache_dir, chapter, backend, sources + reads[chapter.path])
        if cached is not None:
            for old in cached.parent.glob(f"{chapter.path.stem}-*.ipynb"):
                old.unlink()
            cached.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, cached)
        results[chapter.path] = notebook
        took = time.perf_counter() - started
        if seconds is not None:
            seconds[chapter.path] = took
        log(f"code of {chapter.path.name}: ran in {took:.1f} s")

    running: set[NotebookClient] = set()  # the clients whose kernels run a chapter now
    if to_run:
        pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(to_run))))
        futures = [pool.submit(run, chapter) for chapter in to_run]
        try:
            # (a bare ``future.result()`` would hold a Ctrl-C until that chapter ended)
            while not all(future.done() for future in futures):
                wait(futures, timeout=0.5)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop now; what finished is cached
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_kernels(futures, running)
            raise
        pool.shutdown()
        for future in futures:
            future.result()  # re-raises the first BuildError (the others' chapters are cached)
    return results


def _stop_kernels(futures, running: set[NotebookClient]) -> None:
    """Kill the kernels of the chapters still running (each with what its code started: a
    chapter may train a model in a subprocess) and wait until their threads have ended.

    A kernel runs in a session of its own (jupyter_client starts it so), so the terminal's
    Ctrl-C does not reach it, and the build would otherwise wait for the chapter to finish."""
    while not all(future.done() for future in futures):
        for client in list(running):  # again each time: a kernel may have started since
            _kill_kernel(client)
        wait(futures, timeout=0.5)


def _kill_kernel(client: NotebookClient) -> None:
    process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
    if process is None or process.poll() is not None:
        return
    try:
        group = os.getpgid(process.pid)
        if group != os.getpgrp():  # its own process group: the kernel and its children
            os.killpg(group, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:  # it ended meanwhile
        pass


def execute_notebook(
    chapter: Chapter,
    *,
    repo_root: Path,
    backend: str,
    timeout: int,
    kernel_log: Path,
    running: set[NotebookClient] | None = None,
):
    """Run one chapter's notebook in a fresh kernel and return it with its outputs.

    The kernel process's own messages (not the cells' output) go to ``kernel_log``. ``running``,
    when given, holds the notebook's client while it runs (the build stops its kernel on Ctrl-C).
    """
    notebook = copy.deepcopy(chapter.notebook)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(PREAMBLE))
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(repo_root)}},
    )
    kernel_log.parent.mkdir(parents=True, exist_ok=True)
    running = set() if running is None else running
    running.add(client)
    try:
        with open(kernel_log, "w", encoding="utf-8") as stderr:
            client.execute(
                env=kernel_environment(backend, repo_root), cwd=str(repo_root), stderr=stderr
            )
    except CellExecutionError as error:
        where = chapter.where(_failed_cell_line(chapter, notebook))
        raise BuildError(
            f"{where}: a code cell raised {error.ename}: {_ANSI.sub('', str(error.evalue))}\n"
            f"Fix the code, or tag the cell {ALLOWED_ERROR_TAG} if the error is meant to be shown. "
            f"The end of the traceback:\n{_traceback_tail(str(error))}"
        ) from None
    except DeadKernelError as error:
        raise BuildError(
            f"{chapter.where()}: the kernel died while running the chapter ({error}); "
            f"out of memory? Its messages are in {kernel_log}."
        ) from None
    except TimeoutError as error:
        raise BuildError(
            f"{chapter.where()}: a cell ran longer than {timeout} s ({error}). "
            "Make the example smaller: the build runs on a CPU."
        ) from None
    except Exception as error:
        if "No such kernel" in str(error):
            raise BuildError(
                "No Jupyter kernel named python3: install ipykernel into this "
                "environment (scripts/install does)."
            ) from None
        raise
    finally:
        running.discard(client)
    notebook.cells.pop(0)  # the preamble
    return notebook


def _cache_path(
    cache_dir: Path | None, chapter: Chapter, backend: str, sources: str
) -> Path | None:
    if cache_dir is None:
        return None
    key = cache_key(chapter, backend, sources)
    return cache_dir / "executed" / f"{chapter.path.stem}-{key}.ipynb"


def _failed_cell_line(chapter: Chapter, notebook) -> int | None:
    """The chapter line of the first cell with an error output (cell 0 is the preamble)."""
    for cell, line in zip(notebook.cells[1:], chapter.cell_lines, strict=True):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return line
    return None


def _traceback_tail(text: str, lines: int = 12) -> str:
    return "\n".join(_ANSI.sub("", text).strip().splitlines()[-lines:])
