"""The curation pipeline (llm_keras.data.pipeline): its drops equal a step-by-step reference written
here (plain Python, datasketch's MinHashLSH for the near-duplicates), whatever the parts' size;
a killed run resumes without redoing what was done."""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from llm_keras.data.language import LanguageSettings, language_drop_reason
from llm_keras.data.pii import scrub_pii
from llm_keras.data.pipeline import CurationSettings, curate
from llm_keras.data.planted import planted_near_duplicates
from llm_keras.data.quality import QualitySettings, quality_drop_reason
from llm_keras.data.shards import read_shard
from llm_keras.data.streaming import read_documents
from llm_keras.tokenizers import Tokenizer

# The filters whose modules are still being written are off here; each has its own tests.
QUALITY = {"min_words": 10, "c4_min_sentences": 2, "min_stop_words": None}  # for verse, and for
# the language filter to see other languages (Gopher's English stop words drop them first)
SETTINGS = {"quality": False, "languages": (), "pii": False, "shard_tokens": 20_000, "min_chars": 3}


@pytest.fixture(scope="module")
def raw_corpus(tmp_path_factory, data_dir):
    """Gutenberg paragraphs, planted near-duplicates, exact copies, and text to normalise."""
    paragraphs = list(read_documents(data_dir / "shakespeare_gutenberg.txt", "paragraph"))
    originals = [p for p in paragraphs[2000:6000] if len(p.split()) >= 40][:300]
    planted, _ = planted_near_duplicates(originals, n_copies=60, edit_rate=0.02, seed=0)
    documents = planted + originals[:100]  # and 100 exact copies
    documents += [
        (
            "Write to the Globe at globe.theatre@example.org or to 192.168.10.4 before the play;"
            " the company answers every letter within the week. They say it answers in verse."
        ),
        (
            "Il faisait beau ce jour-là, et nous sommes allés au port pour voir les bateaux qui "
            "rentraient de la pêche avec leurs filets pleins de poissons argentés et brillants. Le soir, nous sommes rentrés."
        ),
        (
            "Das Wetter war schön, und wir sind zum Hafen gegangen, um die Schiffe zu sehen, die "
            "mit vollen Netzen vom Fischfang zurückkamen, während die Sonne unterging. Dann gingen wir heim."
        ),
        (
            "Mail the prompter at prompter@example.com, who keeps the book of every play we give "
            "and knows each line and cue by heart, as any good prompter should. So they say."
        ),
        "cafe\u0301 au lait, the same words as the next one",
        "caf\u00e9 au lait, the same words as the next one",
        "ab",
        "   ",
        "x\r\ny\r\nz",
    ]
    path = tmp_path_factory.mktemp("raw") / "raw.txt"
    path.write_text("\n\n".join(documents) + "\n", encoding="utf-8", newline="")
    return path


def shingle_set(text, n=5):
    """5-word shingles as A's `shingles` documents them, written again here."""
    words = unicodedata.normalize("NFC", text).split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def reference(path, min_chars=3, quality=None, language=False):
    """The pipeline's drops computed step by step, without the library's pipeline."""
    dropped = {}

    def drop(reason, text):
        row = dropped.setdefault(reason, {"documents": 0, "bytes": 0})
        row["documents"] += 1
        row["bytes"] += len(text.encode("utf-8"))

    kept, seen = [], set()
    for raw in read_documents(path, "paragraph"):
        text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
        nonspace = len("".join(text.split()))
        if nonspace == 0:
            drop("empty", text)
        elif len(text) < min_chars:
            drop("too_short", text)
        elif text in seen:
            drop("duplicate", text)
        else:
            seen.add(text)
            kept.append(text)
    if quality is not None:  # helper B's rules, with the thresholds given
        reasons = [quality_drop_reason(text, quality) for text in kept]
        for text, reason in zip(kept, reasons, strict=True):
            if reason is not None:
                drop(reason, text)
        kept = [text for text, reason in zip(kept, reasons, strict=True) if reason is None]
    if language:  # helper B's classifier, English kept at a score of 0.5
        reasons = [language_drop_reason(text, LanguageSettings(("en",), 0.5)) for text in kept]
        for text, reason in zip(kept, reasons, strict=True):
            if reason is not None:
                drop(reason, text)
        kept = [text for text, reason in zip(kept, reasons, strict=True) if reason is None]
        kept = [scrub_pii(text)[0] for text in kept]  # and the PII replaced
    # Near-duplicates: datasketch's MinHash and LSH, clusters as connected components.
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    hashes = []
    for i, text in enumerate(kept):
        minhash = MinHash(num_perm=128, seed=1)
        minhash.update_batch([s.encode("utf-8") for s in shingle_set(text)])
        lsh.insert(i, minhash)
        hashes.append(minhash)
    parent = list(range(len(kept)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i, minhash in enumerate(hashes):
        for j in lsh.query(minhash):
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    survivors = []
    for i, text in enumerate(kept):
        if root(i) == i:
            survivors.append(text)
        else:
            drop("near_duplicate", text)
    return dropped, survivors


def shard_ids(out):
    """Every token id of the run's shards, in the manifest's order."""
    manifest = json.loads((out / "manifest.json").read_text())
    return np.concatenate([read_shard(out / shard["file"]) for shard in manifest["shards"]])


def test_the_drops_equal_a_step_by_step_reference(raw_corpus, tmp_path):
    report = curate(
        [raw_corpus],
        tmp_path / "out",
        CurationSettings(
            part_documents=37,
            **{**SETTINGS, "quality": True, "languages": ("en",), "pii": True},
            quality_settings=QUALITY,
        ),
        progress=False,
    )
    dropped, survivors = reference(raw_corpus, quality=QualitySettings(**QUALITY), language=True)
    assert dropped["language"]["documents"] >= 2
    assert report.pii == {"documents": 2, "<EMAIL>": 2, "<IP>": 1}
    assert (
        sum(
            row["documents"]
            for reason, row in dropped.items()
            if reason.startswith(("gopher_", "c4_"))
        )
        >= 20
    )
    assert dropped["near_duplicate"]["documents"] >= 10  # planted copies are found
    assert dropped["duplicate"]["documents"] >= 100
    assert report.dropped == dropped
    read = report.steps["read"]
    assert read["documents_out"] == sum(1 for _ in read_documents(raw_corpus, "paragraph"))
    assert report.steps["near_dedup"]["documents_out"] == len(survivors)
    assert report.steps["near_dedup"]["bytes_out"] == sum(len(t.encode()) for t in survivors)
    # Each step hands on what it kept.
    steps = list(report.steps.values())
    for before, after in itertools.pairwise(steps[1:]):
        assert after["documents_in"] == before["documents_out"]
    # The shards hold the kept documents, in order, in the run's tokenizer.
    tokenizer = Tokenizer.load(tmp_path / "out" / "tokenizer")
    text = tokenizer.decode(shard_ids(tmp_path / "out").tolist())
    assert [t for t in text.split("\n\n") if t] == survivors
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == report.to_dict()
    printed = str(report).splitlines()  # the table the command prints
    duplicate = dropped["duplicate"]
    assert any(
        line.split()
        == [
            "duplicate",
            f"{duplicate['documents']:,}",
            f"{duplicate['documents'] / read['documents_out']:.1%}",
            f"{duplicate['bytes'] / 1e6:.2f}",
            f"{duplicate['bytes'] / read['bytes_out']:.1%}",
        ]
        for line in printed
    )


def test_the_size_of_the_parts_changes_nothing(raw_corpus, tmp_path):
    small = curate(
        [raw_corpus],
        tmp_path / "small",
        CurationSettings(part_documents=5, **SETTINGS),
        progress=False,
    )
    large = curate(
        [raw_corpus],
        tmp_path / "large",
        CurationSettings(part_documents=10_000, **SETTINGS),
        progress=False,
    )
    assert small.counts() == large.counts()
    assert np.array_equal(shard_ids(tmp_path / "small"), shard_ids(tmp_path / "large"))


def curate_command(raw_corpus, out):
    """``llm-keras data curate`` on ``raw_corpus`` in parts of 5 documents, as a user runs it."""
    return [
        str(Path(sys.executable).parent / "llm-keras"),
        "data",
        "curate",
        str(raw_corpus),
        "--out",
        str(out),
        "--no-quality",
        "--languages",
        "any",
        "--no-pii",
        "--min-chars",
        "3",
        "--part-documents",
        "5",
        "--shard-tokens",
        "20000",
        "--quiet",
    ]


def test_a_killed_run_resumes_without_redoing_what_was_done(raw_corpus, tmp_path):
    argv = curate_command(raw_corpus, tmp_path / "out")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = tmp_path / "out" / "work" / "filter" / "part-00000.json"
    deadline = time.monotonic() + 60
    while not first.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "out" / "report.json").exists()  # it was killed half-way
    done = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "work").rglob("part-*.json")}
    assert first in done
    assert subprocess.run(argv + ["--resume"], check=False, capture_output=True).returncode == 0
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in done.items())  # not redone
    whole = curate(
        [raw_corpus],
        tmp_path / "whole",
        CurationSettings(part_documents=5, **SETTINGS),
        progress=False,
    )
    resumed = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {k: v for k, v in resumed.items() if k not in ("seconds", "engine")} == whole.counts()
    for shard in sorted((tmp_path / "whole").glob("*.bin")):
        assert (tmp_path / "out" / shard.name).read_bytes() == shard.read_bytes()


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_a_run_and_says_how_to_go_on(raw_corpus, tmp_path, number):
    out = tmp_path / "out"
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(curate_command(raw_corpus, out), stdout=stdout, stderr=stderr)
    first = out / "work" / "filter" / "part-00000.json"
    try:
        deadline = time.monotonic() + 600  # a busy machine can take minutes to start
        while not first.is_file() and process.poll() is None:
            assert time.monotonic() < deadline, "no part filtered after 600 s"
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it was signalled"
        process.send_signal(number)
        sent = time.monotonic()
        code = process.wait(timeout=120)  # seconds on a busy machine; one or two when idle
    finally:
        process.kill()  # (if it still runs: the test failed)
    seconds = time.monotonic() - sent
    printed, errors = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert code == 130 and "Traceback" not in errors, printed + errors
    assert "llm-keras: interrupted" in errors and seconds < 60, (seconds, errors)
    kept = len(list((out / "work").glob("*/part-*")))
    assert kept >= 1 and not (out / "report.json").exists()
    assert f"Stopped. {out} keeps the {kept} part(s) its steps finished; the same command " \
        "with --resume goes on from there." in printed, printed


def test_resume_refuses_other_settings(raw_corpus, tmp_path):
    curate([raw_corpus], tmp_path / "out", CurationSettings(**SETTINGS), progress=False)
    with pytest.raises(ValueError, match="holds a run with other settings"):
        curate(
            [raw_corpus],
            tmp_path / "out",
            CurationSettings(**{**SETTINGS, "seed": 2}),
            resume=True,
            progress=False,
        )
    with pytest.raises(ValueError, match="holds a curation run already: pass resume=True"):
        curate([raw_corpus], tmp_path / "out", CurationSettings(**SETTINGS), progress=False)
    os.utime(raw_corpus)  # the same bytes: still the same run
    assert curate(
        [raw_corpus], tmp_path / "out", CurationSettings(**SETTINGS), resume=True, progress=False
    ).counts()["dropped"]


def test_a_folder_of_files_one_document_each(tmp_path):
    raw = tmp_path / "raw"
    (raw / "b").mkdir(parents=True)
    texts = {
        "b/2.txt": "Second file,\nits two lines.",
        "1.txt": "First file.\n\nOne paragraph more.",
    }
    for name, text in texts.items():
        (raw / name).write_text(text, encoding="utf-8")
    (raw / "notes.md").write_text("not a .txt file")
    settings = CurationSettings(unit="file", near_dup_threshold=None, **SETTINGS)
    report = curate([raw], tmp_path / "out", settings, progress=False)
    assert report.steps["read"]["documents_out"] == 2 and report.dropped == {}
    tokenizer = Tokenizer.load(tmp_path / "out" / "tokenizer")
    text = tokenizer.decode(shard_ids(tmp_path / "out").tolist())
    assert text == texts["1.txt"] + "\n\n" + texts["b/2.txt"] + "\n\n"  # sorted paths, separated


def test_a_saved_tokenizer_ends_each_document_with_its_end_of_text(tmp_path):
    from llm_keras.tokenizers import ByteLevelBPETokenizer

    texts = ["To be, or not to be: that is the question.", "Whether 'tis nobler in the mind."]
    raw = tmp_path / "raw.txt"
    raw.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
    tokenizer = ByteLevelBPETokenizer.train(" ".join(texts) * 3, 280, ["<|endoftext|>"])
    tokenizer.save(tmp_path / "bpe")
    settings = CurationSettings(
        tokenizer=str(tmp_path / "bpe"), near_dup_threshold=None, **SETTINGS
    )
    curate([raw], tmp_path / "out", settings, progress=False)
    eot = tokenizer.special_tokens["<|endoftext|>"]
    expected = [i for text in texts for i in (*tokenizer.encode(text), eot)]
    assert shard_ids(tmp_path / "out").tolist() == expected
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dtype"] == "uint16" and manifest["separator"] == [eot]
    assert manifest["tokenizer"]["vocab_size"] == 280
