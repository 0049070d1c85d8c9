"""``llm-keras data``: the course's corpora, cleaning a file, curating raw files into token shards (week 1, "Data: from the web to token shards").

    llm-keras data path tiny_shakespeare
    llm-keras data clean RAW.txt CLEAN.txt [--unit line|paragraph] [--max-chars N] ...
    llm-keras data curate RAW... --out DIR [--tokenizer char|DIR] [--shard-tokens N]
        [--near-dup-threshold 0.8] [--languages en] [--no-quality] [--no-pii] [--resume]
        [--engine local|dask] [--scheduler ADDRESS] [--workers N]

``curate`` runs ``llm_keras.data.pipeline.curate``: read, normalise, exact dedup, quality,
language, PII, near-dedup, tokenise, shards; it prints a progress bar per step and the report
(documents and bytes kept and dropped per reason), and writes DIR/report.json. After Ctrl-C or a
crash, the same command with ``--resume`` goes on where the run stopped. ``--engine dask`` runs the
per-part steps on a Dask ``LocalCluster`` of ``--workers`` processes, or on the cluster at
``--scheduler tcp://HOST:8786``; the shards and the report are the same as with the local engine.
``llm-keras train --data DIR`` then trains from the shards.
"""

from __future__ import annotations

import json
from pathlib import Path


def add_data_command(commands) -> None:
    """Register ``llm-keras data`` and its actions on ``commands`` (argparse sub-parsers)."""
    data = commands.add_parser(
        "data", help="find the course's corpora, clean raw text, curate raw text into token shards"
    )
    actions = data.add_subparsers(dest="action", required=True, metavar="ACTION")

    path = actions.add_parser(
        "path", help="print the checked local path of a corpus (downloading it if needed)"
    )
    path.add_argument("name", help="tiny_shakespeare or shakespeare_gutenberg")
    path.add_argument("--path", type=Path, help="a file or folder to look in first")
    path.set_defaults(handler=_data_path)

    clean = actions.add_parser("clean", help="normalise, filter and deduplicate a raw text file")
    clean.add_argument("input", type=Path, help="raw UTF-8 text file")
    clean.add_argument("output", type=Path, help="cleaned file to write (may be the input)")
    clean.add_argument(
        "--unit",
        choices=["line", "paragraph"],
        default="line",
        help="what one document is (default: line)",
    )
    _add_cleaning_options(clean)
    clean.add_argument(
        "--no-dedup", dest="deduplicate", action="store_false", help="keep exact duplicates"
    )
    clean.set_defaults(handler=_data_clean)

    curate = actions.add_parser(
        "curate", help="the whole curation pipeline: raw text files -> token shards, with a report"
    )
    curate.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="RAW",
        help="raw UTF-8 text files, or folders of .txt files",
    )
    curate.add_argument(
        "--out",
        dest="out_dir",
        type=Path,
        required=True,
        help="the run's folder: new or empty (or the run to go on with --resume)",
    )
    curate.add_argument(
        "--unit",
        choices=["line", "paragraph", "file"],
        default="paragraph",
        help="what one document is (default: paragraph)",
    )
    _add_cleaning_options(curate)
    curate.add_argument(
        "--no-quality",
        dest="quality",
        action="store_false",
        help="skip the Gopher and C4 quality rules",
    )
    curate.add_argument(
        "--quality-settings",
        type=json.loads,
        default={},
        metavar="JSON",
        help="thresholds of the quality rules to change, as JSON: '{\"min_words\": 10}' "
        "(null switches a rule off; the fields: llm_keras.data.quality.QualitySettings)",
    )
    curate.add_argument(
        "--languages",
        default="en",
        help="comma-separated languages to keep (default: en); 'any' keeps all",
    )
    curate.add_argument(
        "--min-language-score",
        type=float,
        default=0.5,
        help="the probability of its language a document needs (default 0.5)",
    )
    curate.add_argument(
        "--no-pii",
        dest="pii",
        action="store_false",
        help="keep e-mail addresses, phone numbers and IP addresses as they are",
    )
    curate.add_argument(
        "--near-dup-threshold",
        type=float,
        default=0.8,
        help="Jaccard similarity of near-duplicates (default 0.8)",
    )
    curate.add_argument(
        "--no-near-dedup", action="store_true", help="skip near-duplicate removal (MinHash LSH)"
    )
    curate.add_argument(
        "--num-perm", type=int, default=128, help="MinHash permutations (default 128)"
    )
    curate.add_argument("--shingle-size", type=int, default=5, help="words per shingle (default 5)")
    curate.add_argument("--seed", type=int, default=1, help="MinHash seed (default 1)")
    curate.add_argument(
        "--tokenizer",
        default="char",
        help="char (the kept text's characters, the default) or a saved "
        "tokenizer folder (llm-keras tokenize train --out DIR)",
    )
    curate.add_argument(
        "--shard-tokens",
        type=int,
        default=1_000_000,
        help="token ids per shard (default 1,000,000)",
    )
    curate.add_argument(
        "--part-documents",
        type=int,
        default=2_000,
        help="documents per part, the unit of work and of --resume (default 2,000)",
    )
    curate.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local: this process (default); dask: a Dask cluster",
    )
    curate.add_argument(
        "--scheduler",
        help="--engine dask: a scheduler's address (tcp://HOST:8786); default: a local cluster",
    )
    curate.add_argument(
        "--workers",
        type=int,
        help="--engine dask: the local cluster's worker processes (default 2)",
    )
    curate.add_argument(
        "--resume",
        action="store_true",
        help="go on with the run in --out, skipping the parts and shards done",
    )
    curate.add_argument("--quiet", action="store_true", help="no progress bars")
    curate.set_defaults(handler=_data_curate)


def _add_cleaning_options(parser) -> None:
    parser.add_argument("--unicode-form", choices=["NFC", "NFKC", "none"], default="NFC")
    parser.add_argument(
        "--min-nonspace-chars",
        type=int,
        default=1,
        help="drop documents with fewer non-space characters (default 1: drop empty ones)",
    )
    parser.add_argument("--min-chars", type=int, default=0)
    parser.add_argument("--max-chars", type=int, default=None)
    parser.add_argument("--encoding-errors", choices=["strict", "replace"], default="strict")


def _data_path(args) -> None:
    from llm_keras.data import corpus_path

    print(corpus_path(args.name, args.path))


def _data_clean(args) -> None:
    from llm_keras.data import clean_file

    report = clean_file(
        args.input,
        args.output,
        unit=args.unit,
        deduplicate=args.deduplicate,
        **_cleaning_options(args),
    )
    print(report)


def _cleaning_options(args) -> dict:
    """The options of ``_add_cleaning_options``, as ``clean_file`` and ``CurationSettings``
    name them."""
    return {
        "encoding_errors": args.encoding_errors,
        "unicode_form": None if args.unicode_form == "none" else args.unicode_form,
        "min_nonspace_chars": args.min_nonspace_chars,
        "min_chars": args.min_chars,
        "max_chars": args.max_chars,
    }


def _data_curate(args) -> None:
    from llm_keras.data.engine import make_engine
    from llm_keras.data.pipeline import CurationSettings, curate

    if args.engine == "local" and (args.scheduler is not None or args.workers is not None):
        raise ValueError(
            f"--{'scheduler' if args.scheduler else 'workers'} needs --engine dask: "
            f"the local engine runs in this process."
        )
    languages = (
        ()
        if args.languages.strip() in ("any", "")
        else tuple(language.strip() for language in args.languages.split(","))
    )
    settings = CurationSettings(
        unit=args.unit,
        **_cleaning_options(args),
        quality=args.quality,
        quality_settings=args.quality_settings,
        languages=languages,
        min_language_score=args.min_language_score,
        pii=args.pii,
        near_dup_threshold=None if args.no_near_dedup else args.near_dup_threshold,
        num_perm=args.num_perm,
        shingle_size=args.shingle_size,
        seed=args.seed,
        tokenizer=args.tokenizer,
        shard_tokens=args.shard_tokens,
        part_documents=args.part_documents,
    )
    try:
        with make_engine(args.engine, args.scheduler, args.workers) as engine:
            report = curate(
                args.inputs,
                args.out_dir,
                settings,
                engine=engine,
                resume=args.resume,
                progress=not args.quiet,
            )
    except ValueError as error:  # the library's flag, in the command's words
        raise ValueError(str(error).replace("resume=True", "--resume")) from None
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: each part a step finished is on disk
        done = sorted((Path(args.out_dir) / "work").glob("*/part-*"))
        print(f"\nStopped. {args.out_dir} keeps the {len(done)} part(s) its steps finished; "
              "the same command with --resume goes on from there.")  # fmt: skip
        raise
    print(report)
    print(
        f"Wrote {args.out_dir}/report.json; train with: llm-keras train --data {args.out_dir} "
        f"--out RUN"
    )
