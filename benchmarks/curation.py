"""Curation benchmark (week 1, issue 16): documents per second of each step of ``llm-keras data curate``.

    .venv/bin/python benchmarks/curation.py [--data ../shared/data] [--workers 1,2,4] [--out FILE]
        [--no-quality] [--languages any] [--no-pii]

Runs ``llm_keras.data.pipeline.curate`` with its default settings (paragraphs, quality, language
``en``, PII, near-dedup at Jaccard 0.8 with 128 permutations, a character tokenizer, shards of
1,000,000 ids) but for two quality thresholds set for verse (``VERSE``: at least 10 words and 1
sentence; ``--quality-settings`` changes them; ``--no-quality``, ``--languages any`` and
``--no-pii`` switch steps off, as they do for ``llm-keras data curate``) on two corpora:

- ``gutenberg``: the shipped ``shakespeare_gutenberg.txt`` (5.1 MB, 42 plays and poems);
- ``gutenberg_planted``: the same paragraphs with near-duplicates planted in it
  (``planted.planted_near_duplicates``: as many copies as paragraphs, of paragraphs drawn at
  random, 5 % of their words edited, shuffled among them), twice as many documents, so that
  exact and near dedup have work to do.

Each corpus is curated once by the local engine (this process) and once by the Dask engine on a
``LocalCluster`` of 1, 2 and 4 worker processes (``--workers``), each run into a fresh folder. The
shards of every run are compared with the local run's (their SHA-256 must be equal: the benchmark
stops otherwise). For each run: the seconds and documents per second of each step (documents in
divided by the step's seconds) and of the whole pipeline (documents read divided by the total),
plus the seconds the Dask cluster took to start. The table is printed and the results go to
``--out`` (default ``course/results/curation.json``, read by the week 1 chapter and
docs/data.md), with the machine and its load average at the start and the end: the course's CPU
machine is shared, and the times depend on its load.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from finetuning import load_line, uptime
from machine_info import describe_machine

REPO = Path(__file__).resolve().parent.parent
# Gopher's 50 words and C4's 5 sentences are for web pages: they drop 82% and 11% of the
# Gutenberg paragraphs (speeches and stanzas); these thresholds keep a third of them.
VERSE = {"min_words": 10, "c4_min_sentences": 1}
sys.path.insert(0, str(REPO))

from llm_keras.data.engine import DaskEngine, LocalEngine
from llm_keras.data.pipeline import CurationSettings, curate


def corpora(data: Path, folder: Path) -> dict[str, Path]:
    """The benchmark's raw files: the Gutenberg corpus, and a copy with planted near-duplicates."""
    from llm_keras.data.corpora import corpus_path
    from llm_keras.data.planted import planted_near_duplicates
    from llm_keras.data.streaming import read_documents

    gutenberg = corpus_path("shakespeare_gutenberg", data)
    paragraphs = list(read_documents(gutenberg, "paragraph"))
    planted, _ = planted_near_duplicates(
        paragraphs, n_copies=len(paragraphs), edit_rate=0.05, seed=0
    )
    path = folder / "gutenberg_planted.txt"
    path.write_text("\n\n".join(planted) + "\n", encoding="utf-8")
    return {"gutenberg": gutenberg, "gutenberg_planted": path}


def run(raw: Path, engine_name: str, workers: int, folder: Path, settings) -> dict:
    """One curation run; its timings, rates and the shards' digests."""
    start = time.perf_counter()
    engine = LocalEngine() if engine_name == "local" else DaskEngine(workers=workers)
    startup = time.perf_counter() - start
    with engine:
        out = folder / f"{raw.stem}-{engine_name}-{workers}"
        report = curate([raw], out, settings, engine=engine, progress=False)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {
        "engine": engine_name,
        "workers": workers,
        "startup_seconds": round(startup, 2),
        "seconds": report.seconds,
        "total_seconds": round(sum(report.seconds.values()), 2),
        "documents_per_second": {
            step: round(rate, 1) for step, rate in report.documents_per_second().items()
        },
        "documents": report.steps["read"]["documents_out"],
        "kept": report.steps["near_dedup"]["documents_out"],
        "near_duplicates": report.dropped.get("near_duplicate", {}).get("documents", 0),
        "shards": [shard["sha256"] for shard in manifest["shards"]],
        "counts": report.counts(),
    }


def table(record: dict) -> str:
    """The Markdown table of documents per second, one row per corpus and engine."""
    steps = ["read", "normalise", "filter", "near_dedup", "tokenise", "shards"]
    lines = [
        f"Machine: {record['machine']}; {record['load']}.",
        "",
        "| corpus | engine | documents | "
        + " | ".join(steps)
        + " | whole pipeline | seconds | cluster start (s) |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in steps) + " | ---: | ---: | ---: |",
    ]
    for row in record["runs"]:
        engine = "local" if row["engine"] == "local" else f"Dask, {row['workers']} worker"
        engine += "s" if row["workers"] > 1 else ""
        rates = row["documents_per_second"]
        lines.append(
            f"| {row['corpus']} | {engine} | {row['documents']:,} | "
            + " | ".join(f"{rates.get(step, 0):,.0f}" for step in steps)
            + f" | {rates.get('total', 0):,.0f} | {row['total_seconds']:.1f} | "
            + (f"{row['startup_seconds']:.1f} |" if row["engine"] == "dask" else "- |")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data",
        help="the folder holding shakespeare_gutenberg.txt",
    )
    parser.add_argument("--workers", default="1,2,4", help="Dask worker counts (default 1,2,4)")
    parser.add_argument("--out", type=Path, default=REPO / "course" / "results" / "curation.json")
    parser.add_argument(
        "--no-quality",
        dest="quality",
        action="store_false",
        help="skip the quality rules (as curate's --no-quality)",
    )
    parser.add_argument("--languages", default="en", help="as curate's --languages ('any': off)")
    parser.add_argument(
        "--quality-settings",
        type=json.loads,
        default=VERSE,
        metavar="JSON",
        help="as curate's --quality-settings (default: the thresholds for verse, VERSE)",
    )
    parser.add_argument("--no-pii", dest="pii", action="store_false", help="as curate's --no-pii")
    args = parser.parse_args()
    languages = () if args.languages == "any" else tuple(args.languages.split(","))
    settings = CurationSettings(
        quality=args.quality,
        quality_settings=args.quality_settings,
        languages=languages,
        pii=args.pii,
    )
    record = {
        "machine": describe_machine(),
        "cpu_count": os.cpu_count(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average_start": list(os.getloadavg()),
        "uptime_start": uptime(),
        "settings": settings.to_dict(),
        "runs": [],
    }
    print(f"Machine: {record['machine']}; {record['uptime_start']}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for name, raw in corpora(args.data, folder).items():
            engines = [("local", 1)] + [("dask", int(n)) for n in args.workers.split(",")]
            reference = None
            for engine, workers in engines:
                row = {"corpus": name, **run(raw, engine, workers, folder, settings)}
                counts = row.pop("counts")
                if reference is None:
                    reference = (row["shards"], counts)
                elif (row["shards"], counts) != reference:
                    raise SystemExit(
                        f"{name}: {engine} with {workers} workers wrote other shards or counts "
                        f"than the local engine"
                    )
                record["runs"].append(row)
                print(
                    f"{name:<18} {engine:<5} {workers} worker(s): {row['total_seconds']:7.1f} s, "
                    f"{row['documents_per_second'].get('total', 0):8,.0f} documents/s",
                    flush=True,
                )
    record["load_average_end"] = list(os.getloadavg())
    record["uptime_end"] = uptime()
    record["load"] = load_line(record)
    print(table(record))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
