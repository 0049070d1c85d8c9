"""The curation pipeline: raw text files in, token shards out (week 1, "Data: from the web to token shards").

``curate(inputs, out_dir)`` runs these steps in order; each one is counted in a
``CurationReport`` (documents and UTF-8 bytes in and out, and dropped per reason):

1. ``read``: the raw files, one document per line, paragraph or file
   (``streaming.read_documents``);
2. ``normalise``: line ends and Unicode (``cleaning.normalize_text``), then empty, near-empty,
   too short and too long documents dropped (``cleaning``'s reasons);
3. ``exact_dedup``: a document equal to an earlier one is dropped (``duplicate``);
4. ``quality``: Gopher's and C4's heuristics (``quality``; reasons ``gopher_*``, ``c4_*``);
5. ``language``: documents in a language not asked for (``language``);
6. ``pii``: e-mail addresses, phone numbers and IP addresses replaced by ``<EMAIL>``,
   ``<PHONE>``, ``<IP>`` (``pii``); nothing is dropped, the replacements are counted;
7. ``near_dedup``: MinHash signatures and LSH across the corpus (``minhash``, ``lsh``): of each
   cluster of near-duplicates the first is kept (``near_duplicate``);
8. ``tokenise``: the kept documents as token ids, with a separator between documents
   (``shards``);
9. ``shards``: the ids cut into fixed-size binary shards with a manifest (``shards``).

How the work is cut, and why a run resumes. The documents are read into *parts* of
``part_documents`` documents each. Steps 2, 4 to 6 (with the MinHash signatures of step 7) and 8
work on one part at a time, each part on its own: an engine (``llm_keras.data.engine``) runs these
tasks one after the other here, or on the workers of a Dask cluster. Steps 3 and 7 need the whole
corpus, and run here on little data: a 16-byte digest per document, a signature per document.
Every task writes its output under ``OUT/work/`` (the data first, then a small JSON summary that
marks the part as done, both atomically), and the shards are written one by one. A run that is
killed and started again with ``resume=True`` skips every part and every shard already done. The
output depends only on the input and the settings, never on the engine or the number of workers:
this is how datatrove and NeMo Curator cut their pipelines too (tasks that each write their own
files, then a merge into shards).

The run's folder:

    OUT/curate.json       the settings and the inputs (size, SHA-256): what --resume checks
    OUT/work/             each step's output per part (kept after the run: delete it to save room)
    OUT/tokenizer/        the tokenizer of the shards
    OUT/shard-*.bin       the token shards, and OUT/manifest.json (``shards``)
    OUT/report.json       the ``CurationReport`` (written last: its presence means done)

Example:
    >>> report = curate(["raw.txt"], "curated", CurationSettings(unit="paragraph"))  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from llm_keras.config_dict import ConfigDict
from llm_keras.data.cleaning import UNICODE_FORMS, CleaningReport, clean_documents, normalize_text
from llm_keras.data.download import file_digest
from llm_keras.data.engine import LocalEngine
from llm_keras.data.shards import (
    DOCUMENT_BREAK,
    TOKENIZER_FOLDER,
    separator_ids,
    shard_tokens,
    write_manifest,
    write_shard,
)
from llm_keras.data.streaming import read_documents
from llm_keras.files import atomic_output
from llm_keras.tokenizers.base import FILE_NAME as TOKENIZER_FILE

STEPS = (
    "read",
    "normalise",
    "exact_dedup",
    "quality",
    "language",
    "pii",
    "near_dedup",
    "tokenise",
    "shards",
)
UNITS = ("line", "paragraph", "file")
RUN_FILE = "curate.json"
REPORT_FILE = "report.json"
WORK = "work"


@dataclasses.dataclass
class CurationSettings(ConfigDict):
    """What the pipeline keeps, and how it cuts the work.

    Args:
        unit: what one document is: ``"line"``, ``"paragraph"`` (lines up to a blank line) or
            ``"file"`` (a whole file).
        encoding_errors: ``"strict"`` (a file that is not UTF-8 is an error) or ``"replace"``.
        unicode_form: ``"NFC"``, ``"NFKC"`` or ``None``; see ``cleaning.normalize_text``.
        min_nonspace_chars, min_chars, max_chars: the length filters of ``clean_documents``.
        quality: apply the Gopher and C4 heuristics.
        quality_settings: thresholds of ``quality.QualitySettings`` to change from the
            published ones, e.g. ``{"min_words": 10}`` for paragraphs of verse (a rule is off
            when its threshold is ``None``).
        languages: the languages to keep (ISO 639-1 codes, among those of
            ``language.LanguageIdentifier``); empty: no language filter.
        min_language_score: the probability of its language a document needs
            (``language.LanguageSettings``).
        pii: replace e-mail addresses, phone numbers and IP addresses by placeholders.
        near_dup_threshold: the Jaccard similarity above which two documents are
            near-duplicates (LSH's bands and rows are chosen for it); ``None``: no near-dedup.
        num_perm: MinHash permutations (the signature's length).
        shingle_size: words per shingle.
        seed: the MinHash permutations' seed.
        tokenizer: ``"char"`` (a character tokenizer of the kept documents' characters) or the
            path of a saved tokenizer folder.
        shard_tokens: token ids per shard (the last shard holds the rest).
        part_documents: documents per part, the unit of work of the engines and of resuming.
    """

    unit: str = "paragraph"
    encoding_errors: str = "strict"
    unicode_form: str | None = "NFC"
    min_nonspace_chars: int = 1
    min_chars: int = 0
    max_chars: int | None = None
    quality: bool = True
    quality_settings: dict = dataclasses.field(default_factory=dict)
    languages: tuple[str, ...] = ("en",)
    min_language_score: float = 0.5
    pii: bool = True
    near_dup_threshold: float | None = 0.8
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    tokenizer: str = "char"
    shard_tokens: int = 1_000_000
    part_documents: int = 2_000

    def __post_init__(self):
        self.languages = tuple(self.languages)  # a list when read back from JSON
        self.tokenizer = str(self.tokenizer)
        if self.unit not in UNITS:
            raise ValueError(f"unit={self.unit!r} is not one of {UNITS}.")
        if self.encoding_errors not in ("strict", "replace"):
            raise ValueError(
                f"encoding_errors={self.encoding_errors!r} must be 'strict' or 'replace'."
            )
        if self.unicode_form not in UNICODE_FORMS:
            raise ValueError(f"unicode_form={self.unicode_form!r} is not one of {UNICODE_FORMS}.")
        for name in ("min_nonspace_chars", "min_chars"):
            _check_whole(name, getattr(self, name), 0)
        if self.max_chars is not None:
            _check_whole("max_chars", self.max_chars, max(1, self.min_chars))
        for name in ("num_perm", "shingle_size", "shard_tokens", "part_documents"):
            _check_whole(name, getattr(self, name), 1)
        _check_whole("seed", self.seed, 0)
        threshold = self.near_dup_threshold
        if threshold is not None and not (
            isinstance(threshold, (int, float)) and 0 < threshold < 1
        ):
            raise ValueError(
                f"near_dup_threshold={threshold!r} must be a Jaccard similarity strictly between "
                f"0 and 1 (0.8 is usual), or None to skip near-duplicate removal."
            )
        if not isinstance(self.quality_settings, dict):  # (a ValueError: the CLI prints it)
            raise ValueError(  # noqa: TRY004
                f"quality_settings={self.quality_settings!r} must be a dict of "
                f"QualitySettings fields, e.g. {{'min_words': 10}}."
            )
        if self.quality_settings:
            _quality_settings(self.quality_settings)  # an unknown field or bad value is named
        for language in self.languages:
            if not (isinstance(language, str) and len(language) == 2 and language.isalpha()):
                raise ValueError(
                    f"languages={language!r}: each language is a two-letter ISO 639-1 code "
                    f"such as 'en'."
                )


def _check_whole(name: str, value, lowest: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ValueError(f"{name}={value!r} must be a whole number >= {lowest}.")


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CurationReport(ConfigDict):
    """What each step of a curation run saw, kept and dropped, and how long it took.

    Attributes:
        steps: per step of ``STEPS`` that ran: ``{"documents_in", "bytes_in",
            "documents_out", "bytes_out"}`` (bytes: UTF-8 bytes of the documents' text; for
            ``tokenise``, ``tokens_out`` too).
        dropped: per drop reason that dropped a document, in the order of the steps:
            ``{"documents", "bytes"}``.
        pii: replacements per placeholder (``"<EMAIL>"``...) and ``"documents"`` changed.
        near_duplicates: ``{"clusters", "bands", "rows", "examples"}``: clusters of more than
            one document, the LSH parameters, and a few (kept, dropped) pairs of texts.
        shards: ``{"files", "tokens", "vocab_size"}``.
        seconds: wall-clock seconds per stage: ``read``, ``normalise``, ``exact_dedup``,
            ``filter`` (quality, language, PII and the MinHash signatures, one task per part),
            ``near_dedup``, ``tokenise``, ``shards`` (they differ from run to run: left out of
            ``counts()``).
        engine: the engine that ran the parts (``"local"`` or ``"dask, 2 workers"``).
    """

    steps: dict = dataclasses.field(default_factory=dict)
    dropped: dict = dataclasses.field(default_factory=dict)
    pii: dict = dataclasses.field(default_factory=dict)
    near_duplicates: dict = dataclasses.field(default_factory=dict)
    shards: dict = dataclasses.field(default_factory=dict)
    seconds: dict = dataclasses.field(default_factory=dict)
    engine: str = "local"

    def counts(self) -> dict:
        """The report without ``seconds`` and ``engine``: equal for every engine on one input."""
        counts = self.to_dict()
        del counts["seconds"], counts["engine"]
        return counts

    def documents_per_second(self) -> dict:
        """Per timed stage and for the whole pipeline (``"total"``): documents in per second.

        The stages are the keys of ``seconds``: the steps, except that ``filter`` is quality,
        language, PII and the MinHash signatures together (one task per part), ``tokenise``
        includes making the tokenizer, and ``shards`` counts the documents tokenised.
        """
        rows = {"filter": ("quality", "documents_in"), "shards": ("tokenise", "documents_out")}
        rates = {}
        for stage, seconds in self.seconds.items():
            step, column = rows.get(stage, (stage, "documents_in"))
            if step in self.steps and seconds > 0:
                rates[stage] = self.steps[step][column] / seconds
        total = sum(self.seconds.values())
        if total > 0 and "read" in self.steps:
            rates["total"] = self.steps["read"]["documents_out"] / total
        return rates

    def __str__(self) -> str:
        header = (
            f"{'step':<12} {'documents in':>13} {'out':>10} {'MB in':>9} {'MB out':>9} {'s':>7}"
        )
        lines = [header]
        for step, row in self.steps.items():
            seconds = f"{self.seconds[step]:.1f}" if step in self.seconds else ""
            lines.append(
                f"{step:<12} {row['documents_in']:>13,} {row['documents_out']:>10,} "
                f"{row['bytes_in'] / 1e6:>9.2f} {row['bytes_out'] / 1e6:>9.2f} {seconds:>7}"
            )
        if self.seconds:
            lines.append(
                f"(quality, language, PII and the MinHash signatures: one task per part, "
                f"{self.seconds.get('filter', 0):.1f} s; shards {self.seconds.get('shards', 0):.1f}"
                f" s; in all {sum(self.seconds.values()):.1f} s)"
            )
        read = self.steps.get("read", {"documents_out": 0, "bytes_out": 0})
        lines += ["", f"{'dropped':<22} {'documents':>10} {'share':>7} {'MB':>9} {'share':>7}"]
        for reason, row in self.dropped.items():
            lines.append(
                f"{reason:<22} {row['documents']:>10,} {_share(row['documents'], read['documents_out']):>7} "
                f"{row['bytes'] / 1e6:>9.2f} {_share(row['bytes'], read['bytes_out']):>7}"
            )
        last = self.steps.get("near_dedup") or next(reversed(self.steps.values()), None)
        if last is not None:
            lines.append(
                f"{'kept':<22} {last['documents_out']:>10,} "
                f"{_share(last['documents_out'], read['documents_out']):>7} "
                f"{last['bytes_out'] / 1e6:>9.2f} {_share(last['bytes_out'], read['bytes_out']):>7}"
            )
        if self.pii:
            found = ", ".join(
                f"{count:,} {name}" for name, count in self.pii.items() if name != "documents"
            )
            lines.append(f"PII replaced in {self.pii['documents']:,} documents: {found}")
        if self.shards:
            lines.append(
                f"{self.shards['tokens']:,} tokens in {self.shards['files']} shards "
                f"(vocabulary {self.shards['vocab_size']:,}); engine: {self.engine}"
            )
        return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _step(
    report: CurationReport,
    step: str,
    documents_in: int,
    bytes_in: int,
    documents_out: int,
    bytes_out: int,
    **extra,
) -> None:
    report.steps[step] = {
        "documents_in": documents_in,
        "bytes_in": bytes_in,
        "documents_out": documents_out,
        "bytes_out": bytes_out,
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def curate(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    settings: CurationSettings | None = None,
    *,
    engine: LocalEngine | None = None,
    resume: bool = False,
    progress: bool = True,
) -> CurationReport:
    """Run the curation pipeline on raw text files; write shards, a manifest and a report.

    Args:
        inputs: UTF-8 text files, or folders (their ``*.txt`` files, sorted, at any depth).
        out_dir: the run's folder: new, empty, or (with ``resume``) a run of the same inputs
            and settings.
        settings: a ``CurationSettings`` (default: its defaults).
        engine: where the per-part tasks run: ``LocalEngine()`` (default) or a ``DaskEngine``.
        resume: go on with the run in ``out_dir``, skipping what is done.
        progress: show progress bars.

    Returns:
        The ``CurationReport``, also written to ``out_dir/report.json``.

    Raises:
        ValueError: a missing input, a file that is not UTF-8, an ``out_dir`` that holds
            something else (another run, other files), ``resume`` without a run to resume.
    """
    settings = CurationSettings() if settings is None else settings
    engine = LocalEngine() if engine is None else engine
    out = Path(out_dir)
    files = input_files(inputs)
    _check_languages(settings)
    run = {
        "settings": settings.to_dict(),
        "inputs": [_describe(file, settings.encoding_errors) for file in files],
        "tokenizer": _tokenizer_digest(settings.tokenizer),
    }
    _prepare(out, run, resume)
    work = out / WORK
    report = CurationReport(engine=_engine_name(engine))
    stages = _Stages(work, settings, engine, report, progress)

    parts = stages.timed("read", lambda: _read(files, work, settings, report, progress))
    normalised = stages.timed("normalise", lambda: stages.map("normalise", _normalise_part, parts))
    duplicates = stages.timed("exact_dedup", lambda: _exact_dedup(normalised, report))
    filtered = stages.timed("filter", lambda: stages.map("filter", _filter_part, parts, duplicates))
    _count_filters(normalised, duplicates, filtered, settings, report)
    near = stages.timed("near_dedup", lambda: _near_dedup(work, filtered, settings, report))

    def tokenise():
        _prepare_tokenizer(out, filtered, settings)
        return stages.map("tokenise", _tokenise_part, parts, near)

    tokenised = stages.timed("tokenise", tokenise)
    stages.timed("shards", lambda: _write_shards(out, work, tokenised, settings, report, progress))
    with atomic_output(out / REPORT_FILE, "w", encoding="utf-8") as file:
        json.dump(report.to_dict(), file, indent=1, ensure_ascii=False)
    return report


def input_files(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """The files named by ``inputs``: each file itself, each folder's ``*.txt`` (sorted).

    Raises:
        ValueError: no inputs, an input that does not exist, a folder without ``.txt`` files.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise ValueError("inputs is empty: give at least one raw text file or folder.")
    files = []
    for given in map(Path, inputs):
        if given.is_file():
            files.append(given)
        elif given.is_dir():
            found = sorted(path for path in given.rglob("*.txt") if path.is_file())
            if not found:
                raise ValueError(f"{given} holds no .txt file: give the raw text files themselves.")
            files += found
        else:
            raise ValueError(
                f"{given} is not a file or folder: give the path of a raw UTF-8 "
                f"text file (or a folder of .txt files)."
            )
    return files


def _describe(path: Path, encoding_errors: str) -> dict:
    """The file's path, size and SHA-256; a file that is not UTF-8 is an error now, before the
    run's folder is touched."""
    collections.deque(read_documents(path, encoding_errors=encoding_errors), maxlen=0)
    size, sha256 = file_digest(path)
    return {"path": str(path.resolve()), "bytes": size, "sha256": sha256}


def _check_languages(settings: CurationSettings) -> None:
    """Every language to keep is one the shipped identifier tells (else all would be dropped)."""
    if settings.languages:
        from llm_keras.data.language import shipped_identifier

        _language_settings(settings)  # min_language_score checked
        known = shipped_identifier().languages
        unknown = [code for code in settings.languages if code not in known]
        if unknown:
            raise ValueError(
                f"languages={','.join(unknown)!r}: the language identifier knows "
                f"{', '.join(known)}; keep some of those, or filter no language."
            )


def _tokenizer_digest(tokenizer: str) -> str | None:
    """The SHA-256 of the saved tokenizer ``tokenizer`` (loaded once, to fail now if it is not
    one), or ``None`` for ``"char"``."""
    if tokenizer == "char":
        return None
    from llm_keras.tokenizers import Tokenizer

    Tokenizer.load(tokenizer)
    path = Path(tokenizer)
    return file_digest(path / TOKENIZER_FILE if path.is_dir() else path)[1]


def _prepare(out: Path, run: dict, resume: bool) -> None:
    """Start a run in ``out``, or check that the run there is this one (``resume``)."""
    run_file = out / RUN_FILE
    run = json.loads(json.dumps(run))  # as read back: tuples become lists
    if run_file.is_file():
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        if not resume:
            raise ValueError(
                f"out_dir={str(out)!r} holds a curation run already: pass resume=True to go on "
                f"with it, or choose another out_dir."
            )
        if previous != run:
            what = next(
                key for key in ("settings", "inputs", "tokenizer") if previous.get(key) != run[key]
            )
            raise ValueError(
                f"out_dir={str(out)!r} holds a run with other {what}: resume it with the same "
                f"inputs and settings, or choose another out_dir."
            )
        for stray in out.rglob(".*.part"):  # temporary files of a killed run
            stray.unlink()
        return
    if resume:
        raise ValueError(
            f"resume=True, but out_dir={str(out)!r} holds no curation run to resume "
            f"(no {RUN_FILE}): leave out resume=True to start one."
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(
            f"out_dir={str(out)!r} is not an empty folder: choose a new or empty "
            f"folder for the run."
        )
    (out / WORK).mkdir(parents=True, exist_ok=True)
    with atomic_output(run_file, "w", encoding="utf-8") as file:
        json.dump(run, file, indent=1)


def _engine_name(engine) -> str:
    return (
        engine.name
        if engine.workers == 1 and engine.name == "local"
        else (f"{engine.name}, {engine.workers} workers")
    )


class _Stages:
    """Runs each step's parts on the engine (skipping parts done) and times the steps."""

    def __init__(self, work: Path, settings: CurationSettings, engine, report, progress):
        self.work, self.settings, self.engine = work, settings, engine
        self.report, self.progress = report, progress

    def timed(self, step: str, function):
        start = time.perf_counter()
        result = function()
        self.report.seconds[step] = round(time.perf_counter() - start, 3)
        return result

    def map(self, step: str, function, parts: int, per_part: list | None = None) -> list[dict]:
        """The summaries of ``function(work, step, part, settings[, per_part[part]])`` for every
        part; parts whose summary exists already are read back, not run again."""
        folder = self.work / step
        folder.mkdir(exist_ok=True)
        results: list = [None] * parts
        tasks, todo = [], []
        for part in range(parts):
            summary = _summary_path(self.work, step, part)
            if summary.is_file():
                results[part] = json.loads(summary.read_text(encoding="utf-8"))
            else:
                extra = () if per_part is None else (per_part[part],)
                tasks.append((str(self.work), part, self.settings.to_dict(), *extra))
                todo.append(part)
        for part, result in zip(
            todo, self.engine.map(function, tasks, desc=step, progress=self.progress)
        ):
            results[part] = result
        return results


def _part_path(work, step: str, part: int, suffix: str) -> Path:
    return Path(work) / step / f"part-{part:05d}{suffix}"


def _summary_path(work, step: str, part: int) -> Path:
    return _part_path(work, step, part, ".json")


def _write_lines(path: Path, records) -> None:
    with atomic_output(path, "w", encoding="utf-8", newline="\n") as file:
        for record in records:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read_lines(path: Path) -> list:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def _finish_part(work, step: str, part: int, summary: dict) -> dict:
    """Write the part's summary (the mark that it is done) and return it."""
    with atomic_output(_summary_path(work, step, part), "w", encoding="utf-8") as file:
        json.dump(summary, file)
    return summary


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


# --- 1. read ---------------------------------------------------------------------------------


def _read(files: list[Path], work: Path, settings: CurationSettings, report, progress) -> int:
    """Cut the inputs' documents into part files; returns the number of parts."""
    done = work / "read" / "done.json"
    if done.is_file():
        summary = json.loads(done.read_text(encoding="utf-8"))
    else:
        (work / "read").mkdir(exist_ok=True)
        summary = {"parts": 0, "documents": 0, "bytes": 0}
        part: list[str] = []
        for document in _documents(files, settings, progress):
            part.append(document)
            summary["documents"] += 1
            summary["bytes"] += _bytes(document)
            if len(part) == settings.part_documents:
                _write_lines(_part_path(work, "read", summary["parts"], ".jsonl"), part)
                summary["parts"] += 1
                part = []
        if part or summary["parts"] == 0:
            _write_lines(_part_path(work, "read", summary["parts"], ".jsonl"), part)
            summary["parts"] += 1
        with atomic_output(done, "w", encoding="utf-8") as file:
            json.dump(summary, file)
    _step(
        report,
        "read",
        summary["documents"],
        summary["bytes"],
        summary["documents"],
        summary["bytes"],
    )
    return summary["parts"]


def _documents(files: list[Path], settings: CurationSettings, progress: bool):
    for path in files:
        if settings.unit == "file":  # (checked to be UTF-8 by _describe)
            yield path.read_text(encoding="utf-8", errors=settings.encoding_errors)
        else:
            yield from read_documents(
                path, settings.unit, encoding_errors=settings.encoding_errors, progress=progress
            )


# --- 2. normalise (a task per part) ----------------------------------------------------------


def _normalise_part(work: str, part: int, settings: dict) -> dict:
    """Normalise a part's documents and drop the too short or long; digest those kept.

    Writes ``normalise/part-N.jsonl`` (``[index, text]`` per kept document). Its summary:
    ``documents``, ``bytes`` (in), ``kept``: ``[index, bytes, digest]`` per kept document,
    ``dropped``: ``{reason: [documents, bytes]}``.
    """
    settings = CurationSettings.from_dict(settings)
    documents = _read_lines(_part_path(work, "read", part, ".jsonl"))
    kept, records, dropped = [], [], {}
    for index, raw in enumerate(documents):
        text = normalize_text(raw, settings.unicode_form)
        reason = length_drop_reason(text, settings)
        if reason is not None:
            _count(dropped, reason, _bytes(text))
            continue
        data = text.encode("utf-8")
        records.append([index, text])
        kept.append([index, len(data), hashlib.blake2b(data, digest_size=16).hexdigest()])
    _write_lines(_part_path(work, "normalise", part, ".jsonl"), records)
    return _finish_part(
        work,
        "normalise",
        part,
        {
            "documents": len(documents),
            "bytes": sum(map(_bytes, documents)),
            "kept": kept,
            "dropped": dropped,
        },
    )


def length_drop_reason(text: str, settings: CurationSettings) -> str | None:
    """The length filter of ``clean_documents`` that drops ``text`` (normalised), or ``None``."""
    report = CleaningReport()
    options = {
        "min_nonspace_chars": settings.min_nonspace_chars,
        "min_chars": settings.min_chars,
        "max_chars": settings.max_chars,
    }
    for _ in clean_documents(
        [text], unicode_form=None, deduplicate=False, report=report, **options
    ):
        return None
    return next(reason for reason, count in report.dropped.items() if count)


def _count(dropped: dict, reason: str, size: int) -> None:
    documents, bytes_ = dropped.get(reason, (0, 0))
    dropped[reason] = [documents + 1, bytes_ + size]


# --- 3. exact dedup (here, on the digests) ---------------------------------------------------


def _exact_dedup(normalised: list[dict], report: CurationReport) -> list[list[int]]:
    """Per part, the indices of documents whose digest an earlier document had."""
    seen: set[str] = set()
    duplicates = []
    for summary in normalised:
        part = []
        for index, _, digest in summary["kept"]:
            if digest in seen:
                part.append(index)
            else:
                seen.add(digest)
        duplicates.append(part)
    return duplicates


# --- 4-6. quality, language, PII, and the MinHash signatures (a task per part) ---------------


def _filter_part(work: str, part: int, settings: dict, duplicates: list[int]) -> dict:
    """Quality, language and PII on a part's unique documents; their MinHash signatures.

    Writes ``filter/part-N.jsonl`` (``[index, text]`` per kept document, PII replaced) and
    ``filter/part-N.npy`` (the signatures, ``(kept, num_perm)`` uint64, when near-dedup is on).
    Its summary: ``kept``: ``[index, bytes]`` per kept document, ``dropped`` per step and reason,
    ``pii`` counts, ``characters``: the kept documents' distinct characters.
    """
    settings = CurationSettings.from_dict(settings)
    skip = set(duplicates)
    documents = [
        (index, text)
        for index, text in _read_lines(_part_path(work, "normalise", part, ".jsonl"))
        if index not in skip
    ]
    steps = {"quality": {}, "language": {}, "pii": {}}
    records, kept, pii, characters = [], [], {}, set()
    for index, text in documents:
        reason = quality_drop_reason(text, settings)
        if reason is not None:
            _count(steps["quality"], reason, _bytes(text))
            continue
        reason = language_drop_reason(text, settings)
        if reason is not None:
            _count(steps["language"], reason, _bytes(text))
            continue
        if settings.pii:
            text = _scrub(text, pii)
        records.append([index, text])
        kept.append([index, _bytes(text)])
        characters.update(text)
    _write_lines(_part_path(work, "filter", part, ".jsonl"), records)
    if settings.near_dup_threshold is not None:
        signatures = minhash_signatures([text for _, text in records], settings)
        with atomic_output(_part_path(work, "filter", part, ".npy")) as file:
            np.save(file, signatures)
    return _finish_part(
        work,
        "filter",
        part,
        {
            "kept": kept,
            "dropped": steps,
            "pii": pii,
            "characters": "".join(sorted(characters)),
        },
    )


def quality_drop_reason(text: str, settings: CurationSettings) -> str | None:
    """The first Gopher or C4 rule that drops ``text`` (``quality``), or ``None``."""
    if not settings.quality:
        return None
    from llm_keras.data.quality import quality_drop_reason

    return quality_drop_reason(text, _quality_settings(settings.quality_settings))


def _quality_settings(overrides: dict):
    """``quality.QualitySettings`` with ``overrides`` (built once per process and overrides)."""
    return _quality_settings_of(json.dumps(overrides, sort_keys=True))


@lru_cache(maxsize=4)
def _quality_settings_of(overrides: str):
    from llm_keras.data.quality import QualitySettings

    return QualitySettings.from_dict({**QualitySettings().to_dict(), **json.loads(overrides)})


def language_drop_reason(text: str, settings: CurationSettings) -> str | None:
    """``"language"`` when ``text``'s most likely language is not in ``settings.languages`` or
    is less likely than ``min_language_score`` (``language.language_drop_reason``)."""
    if not settings.languages:
        return None
    from llm_keras.data import language

    return language.language_drop_reason(text, _language_settings(settings))


def _language_settings(settings: CurationSettings):
    from llm_keras.data.language import LanguageSettings

    return LanguageSettings(settings.languages, settings.min_language_score)


def _scrub(text: str, pii: dict) -> str:
    from llm_keras.data.pii import scrub_pii

    scrubbed, counts = scrub_pii(text)
    if scrubbed != text:
        pii["documents"] = pii.get("documents", 0) + 1
    for placeholder, count in counts.items():
        pii[placeholder] = pii.get(placeholder, 0) + count
    return scrubbed


def minhash_signatures(texts: list[str], settings: CurationSettings) -> np.ndarray:
    """The MinHash signatures of ``texts``' word shingles: ``(len(texts), num_perm)`` uint64."""
    from llm_keras.data.minhash import MinHasher, shingles

    hasher = MinHasher(num_perm=settings.num_perm, seed=settings.seed)
    return hasher.signatures(shingles(text, n=settings.shingle_size, unit="word") for text in texts)


def _count_filters(
    normalised: list[dict],
    duplicates: list[list[int]],
    filtered: list[dict],
    settings: CurationSettings,
    report: CurationReport,
) -> None:
    """The rows of steps 2 to 6 and their drops, from the parts' summaries."""
    kept = [row for summary in normalised for row in summary["kept"]]
    _step(
        report,
        "normalise",
        **_out(report, "read"),
        documents_out=len(kept),
        bytes_out=sum(size for _, size, _ in kept),
    )  # normalisation changes the bytes too
    _add_drops(report, _merge(summary["dropped"] for summary in normalised))
    sizes = [{index: size for index, size, _ in summary["kept"]} for summary in normalised]
    duplicate_bytes = sum(
        sizes[part][index] for part, indices in enumerate(duplicates) for index in indices
    )
    _filter_step(
        report,
        "exact_dedup",
        "normalise",
        {"duplicate": [sum(map(len, duplicates)), duplicate_bytes]},
    )
    _filter_step(
        report,
        "quality",
        "exact_dedup",
        _merge(summary["dropped"]["quality"] for summary in filtered),
    )
    _filter_step(
        report,
        "language",
        "quality",
        _merge(summary["dropped"]["language"] for summary in filtered),
    )
    _step(
        report,
        "pii",
        **_out(report, "language"),
        documents_out=report.steps["language"]["documents_out"],
        bytes_out=sum(size for summary in filtered for _, size in summary["kept"]),
    )
    if settings.pii:
        pii = _merge_counts(summary["pii"] for summary in filtered)
        report.pii = {"documents": pii.pop("documents", 0), **dict(sorted(pii.items()))}


def _out(report: CurationReport, step: str) -> dict:
    """What ``step`` handed on, as the next step's ``documents_in`` and ``bytes_in``."""
    row = report.steps[step]
    return {"documents_in": row["documents_out"], "bytes_in": row["bytes_out"]}


def _filter_step(report: CurationReport, step: str, previous: str, dropped: dict) -> None:
    """A step that only drops documents: its row and its drops."""
    given = _out(report, previous)
    _step(
        report,
        step,
        **given,
        documents_out=given["documents_in"] - sum(d for d, _ in dropped.values()),
        bytes_out=given["bytes_in"] - sum(b for _, b in dropped.values()),
    )
    _add_drops(report, dropped)


def _add_drops(report: CurationReport, dropped: dict) -> None:
    for reason, (documents, size) in dropped.items():
        if documents:  # the report lists the reasons that dropped something
            row = report.dropped.setdefault(reason, {"documents": 0, "bytes": 0})
            row["documents"] += documents
            row["bytes"] += size


def _merge(dropped) -> dict:
    """The sum of per-part ``{reason: [documents, bytes]}``."""
    merged: dict = {}
    for part in dropped:
        for reason, (documents, size) in part.items():
            total = merged.setdefault(reason, [0, 0])
            total[0] += documents
            total[1] += size
    return merged


def _merge_counts(counts) -> dict:
    merged: dict = {}
    for part in counts:
        for name, count in part.items():
            merged[name] = merged.get(name, 0) + count
    return merged


# --- 7. near-dedup (here, on the signatures) -------------------------------------------------


def _near_dedup(
    work: Path, filtered: list[dict], settings: CurationSettings, report: CurationReport
) -> list[list[int]]:
    """Per part, the positions (in its ``filter`` output) of the near-duplicates to drop."""
    drop: list[list[int]] = [[] for _ in filtered]
    if settings.near_dup_threshold is None:
        _filter_step(report, "near_dedup", "pii", {})
        return drop
    from llm_keras.data.lsh import (
        DROP_REASON,
        candidate_pairs,
        connected_components,
        lsh_parameters,
    )

    where = [
        (part, position)
        for part, summary in enumerate(filtered)
        for position in range(len(summary["kept"]))
    ]  # document -> (part, position)
    signatures = np.zeros((0, settings.num_perm), np.uint64)
    if where:
        signatures = np.concatenate(
            [np.load(_part_path(work, "filter", part, ".npy")) for part in range(len(filtered))]
        )
    bands, rows = lsh_parameters(settings.near_dup_threshold, settings.num_perm)
    # As lsh.near_duplicates does, on the signatures the parts' tasks computed:
    clusters = connected_components(len(where), candidate_pairs(signatures, bands, rows))
    gone = gone_bytes = 0
    for cluster in clusters:
        for document in cluster[1:]:
            part, position = where[document]
            drop[part].append(position)
            gone += 1
            gone_bytes += filtered[part]["kept"][position][1]
    _filter_step(report, "near_dedup", "pii", {DROP_REASON: [gone, gone_bytes]})
    report.near_duplicates = {
        "clusters": len(clusters),
        "bands": bands,
        "rows": rows,
        "examples": _examples(work, clusters, where, filtered),
    }
    return [sorted(positions) for positions in drop]


def _examples(
    work: Path, clusters: list[list[int]], where: list, filtered: list[dict], count: int = 3
) -> list[dict]:
    """The kept and the first dropped document (300 characters) of the ``count`` clusters
    whose kept document is longest (the short ones are headings and stage directions)."""

    def size(document):
        part, position = where[document]
        return filtered[part]["kept"][position][1]

    def text(document):
        part, position = where[document]
        return _read_lines(_part_path(work, "filter", part, ".jsonl"))[position][1][:300]

    longest = sorted(clusters, key=lambda cluster: (-size(cluster[0]), cluster[0]))[:count]
    return [{"kept": text(cluster[0]), "dropped": text(cluster[1])} for cluster in longest]


# --- 8. tokenise (a task per part) -----------------------------------------------------------


def _prepare_tokenizer(out: Path, filtered: list[dict], settings: CurationSettings) -> None:
    """Save the shards' tokenizer in ``out/tokenizer``: a character tokenizer of the
    characters of the documents that passed the filters (and of the separator), or a copy of
    the saved tokenizer ``settings.tokenizer``."""
    from llm_keras.tokenizers import CharTokenizer, Tokenizer

    if settings.tokenizer == "char":
        characters = set("".join(summary["characters"] for summary in filtered))
        tokenizer = CharTokenizer(sorted(characters | set(DOCUMENT_BREAK)))
    else:
        tokenizer = Tokenizer.load(settings.tokenizer)
    tokenizer.save(out / TOKENIZER_FOLDER)


def _tokenise_part(work: str, part: int, settings: dict, near_duplicates: list[int]) -> dict:
    """Tokenise a part's kept documents into ``tokenise/part-N.npy`` (int64 ids, the separator
    after each document); its summary: ``documents``, ``bytes``, ``tokens``."""
    skip = set(near_duplicates)
    texts = [
        text
        for position, (_, text) in enumerate(
            _read_lines(_part_path(work, "filter", part, ".jsonl"))
        )
        if position not in skip
    ]
    tokenizer = _load_tokenizer(Path(work).parent / TOKENIZER_FOLDER)
    separator = separator_ids(tokenizer)
    ids = np.fromiter(
        (i for text in texts for i in (*tokenizer.encode(text), *separator)), dtype=np.int64
    )
    with atomic_output(_part_path(work, "tokenise", part, ".npy")) as file:
        np.save(file, ids)
    return _finish_part(
        work,
        "tokenise",
        part,
        {
            "documents": len(texts),
            "bytes": sum(map(_bytes, texts)),
            "tokens": int(ids.size),
        },
    )


def _load_tokenizer(folder: Path):
    """The saved tokenizer in ``folder``, loaded once per process and file content."""
    content = (folder / TOKENIZER_FILE).read_bytes()
    return _tokenizer_of(str(folder), hashlib.sha256(content).hexdigest())


@lru_cache(maxsize=4)
def _tokenizer_of(folder: str, sha256: str):
    from llm_keras.tokenizers import Tokenizer

    return Tokenizer.load(folder)


# --- 9. shards -------------------------------------------------------------------------------


def _write_shards(
    out: Path,
    work: Path,
    tokenised: list[dict],
    settings: CurationSettings,
    report: CurationReport,
    progress: bool,
) -> None:
    """Cut the parts' ids, in order, into shards of ``shard_tokens`` ids (``shards``' format),
    keeping the shards a killed run wrote whole; then the manifest."""
    tokenizer = _load_tokenizer(out / TOKENIZER_FOLDER)
    counts = [summary["tokens"] for summary in tokenised]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # part -> its first id
    total = int(starts[-1])
    shards = []
    bounds = range(0, max(total, 1), settings.shard_tokens)
    for number, first in enumerate(tqdm(bounds, desc="shards", unit="shard", disable=not progress)):
        last = min(first + settings.shard_tokens, total)
        path = out / f"shard-{number:05d}.bin"
        if path.is_file() and shard_tokens(path) == last - first:
            shards.append(
                {"file": path.name, "tokens": last - first, "sha256": file_digest(path)[1]}
            )
        else:
            shards.append(
                write_shard(path, _stream_slice(work, starts, first, last), tokenizer.vocab_size)
            )
    write_manifest(out, tokenizer, shards)
    _filter_step(report, "tokenise", "near_dedup", {})
    report.steps["tokenise"]["tokens_out"] = total
    report.shards = {"files": len(shards), "tokens": total, "vocab_size": tokenizer.vocab_size}


def _stream_slice(work: Path, starts: np.ndarray, first: int, last: int) -> np.ndarray:
    """Ids ``first:last`` of the parts' ids put end to end (each part memory-mapped)."""
    pieces = []
    for part in range(len(starts) - 1):
        low, high = max(first, starts[part]), min(last, starts[part + 1])
        if low < high:
            ids = np.load(_part_path(work, "tokenise", part, ".npy"), mmap_mode="r")
            pieces.append(np.asarray(ids[low - starts[part] : high - starts[part]]))
    return np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
