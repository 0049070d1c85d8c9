"""A batch that no submission can stop or poison, and a trusted side that reads what comes back
with care: submissions read without following links, capped ``.npz`` archives, hidden inputs that
change with the submission, a gradebook that always ends up holding every record (issue 19)."""

from __future__ import annotations

import io
import json
import os
import struct
import threading
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from autograder import cli, grading, records
from autograder.archives import ArchiveRefused, load_npz
from autograder.assignment import Assignment, Template
from autograder.nbgrader_bridge import GradebookWriter
from autograder.rebuild import rebuild
from autograder.seeds import answer_digest, derive_seed
from tests.course.autograder import corpus
from tests.course.autograder.conftest import TEST_LIMITS, make_course


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("batch") / "course")


@pytest.fixture
def template(course) -> Template:
    return Template.read(course.release("demo") / "demo.ipynb")


def submit(course, folder: Path, case=None) -> Path:
    corpus.build(case or corpus.Case(folder.parent.name, 8), folder,
                 {"release": course.release("demo") / "demo.ipynb"})
    return folder


# --- reading a submission: no links followed ------------------------------------------------------


def test_a_notebook_linked_to_the_solutions_is_refused(course, template, tmp_path):
    folder = tmp_path / "carol" / "demo"
    folder.mkdir(parents=True)
    (folder / "demo.ipynb").symlink_to(course.source("demo") / "demo.ipynb")
    result = rebuild(template, folder)
    assert result.status == "invalid_notebook" and result.cells == []
    assert "demo.ipynb is a symbolic link: links are not accepted" in result.messages[-1]


def test_hard_links_pipes_and_linked_folders_are_refused(course, template, tmp_path):
    hard = tmp_path / "hard" / "demo"
    hard.mkdir(parents=True)
    os.link(submit(course, tmp_path / "source" / "demo") / "demo.ipynb", hard / "demo.ipynb")
    assert "is a hard link" in rebuild(template, hard).messages[-1]

    pipe = tmp_path / "pipe" / "demo"
    pipe.mkdir(parents=True)
    os.mkfifo(pipe / "demo.ipynb")  # opening it to read would block forever
    result = rebuild(template, pipe)
    assert result.status == "invalid_notebook" and "is not a regular file" in result.messages[-1]
    records.fingerprint(pipe, Assignment.load(course, "demo"), ("torch",), TEST_LIMITS)  # returns

    deep = tmp_path / "deep" / "demo"
    deep.mkdir(parents=True)
    (deep / "demo.ipynb").write_text("[" * 200_000 + "]" * 200_000)  # json.loads recursion
    assert "nested too deeply" in rebuild(template, deep).messages[-1]

    linked = tmp_path / "linked" / "demo"
    linked.parent.mkdir()
    linked.symlink_to(tmp_path / "source" / "demo")
    result = rebuild(template, linked)
    assert result.status == "invalid_notebook"
    assert "submission folder demo is a symbolic link" in result.messages[-1]


def test_discovery_skips_linked_students_and_lists_absent_ones(tmp_path):
    submitted = tmp_path / "submitted"
    (submitted / "alice" / "demo").mkdir(parents=True)
    (submitted / "erin" / "week1").mkdir(parents=True)          # another assignment only
    (submitted / "fay").mkdir()                                  # an empty folder
    (tmp_path / "elsewhere" / "demo").mkdir(parents=True)
    (submitted / "frank").symlink_to(tmp_path / "elsewhere")
    found = grading.discover(submitted, "demo")
    assert found.found == [("alice", submitted / "alice" / "demo")]
    assert found.absent == ["erin", "fay"]
    assert len(found.skipped) == 1
    assert found.skipped[0].startswith("frank: the student folder is a symbolic link")
    summary = grading.Summary(absent=found.absent, skipped=found.skipped)
    assert cli.summary_notes(summary, "demo").splitlines()[0] == \
        "2 students have no submission for demo (no record): erin, fay"


@pytest.mark.parametrize("text, stored, message", [
    ("2026-11-21 07:00:11.709090 UTC", "2026-11-21 07:00:11.709090", None),
    ("the night before the deadline", None, "'the night before the deadline' is not a date"),
    ("2026-13-45 99:99:99", None, "is not a date and time nbgrader can read"),
])
def test_timestamps_nbgrader_cannot_read_are_dropped(tmp_path, text, stored, message):
    (tmp_path / "timestamp.txt").write_text(text)
    messages = []
    assert grading._timestamp(tmp_path, messages) == stored
    assert (message is None and messages == []) or message in messages[0]


# --- .npz archives: sizes checked before anything is decompressed ---------------------------------


def _npy_header(shape, descr="<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _deflate(data: bytes, final: bool = False) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def zip_bomb(header: bytes, zeros: int = 1 << 30, declared: int | None = None) -> bytes:
    """A one-member .npz: ``header`` then ``zeros`` zero bytes, deflated (1 GiB -> about 1 MB);
    its directory declares ``declared`` bytes (default: the truth). Written by hand, since
    zipfile would compress 1 GiB first: identical 16 MiB blocks, each flushed, repeated."""
    chunk = bytes(16 << 20)
    body = _deflate(header) + _deflate(chunk) * (zeros // len(chunk)) + _deflate(b"", final=True)
    crc = zlib.crc32(header)
    for _ in range(zeros // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    size, name = len(header) + zeros if declared is None else declared, b"out.npy"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(body), size,
                          len(name), 0, 0, 0, 0, 0, 0)
    directory = central + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory),
                      len(local) + len(name) + len(body), 0)
    return local + name + body + directory + end


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 MB that expands to 1 GiB of float32 zeros, declared honestly."""
    return zip_bomb(_npy_header(((1 << 30) // 4,)))


def _peak(function, *args):
    """(what ``function`` raised, the peak bytes it allocated)."""
    tracemalloc.start()
    try:
        function(*args)
        error = None
    except ArchiveRefused as refused:
        error = refused
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, peak


def test_npz_round_trip_equals_numpy(tmp_path):
    arrays = {"x": np.arange(24, dtype="float32").reshape(2, 3, 4), "mask": np.tri(5, dtype=bool),
              "ids": np.asfortranarray(np.arange(6, dtype=">i8").reshape(2, 3)), "scalar": np.array(3.5),
              "empty": np.zeros((0, 7), "int16"), "z": np.array([1 + 2j], "complex64")}
    for save in (np.savez, np.savez_compressed):
        buffer = io.BytesIO()
        save(buffer, **arrays)
        loaded = load_npz(buffer.getvalue())
        with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as reference:
            assert sorted(loaded) == sorted(reference.files)
            for key in reference.files:
                assert loaded[key].dtype == reference[key].dtype
                assert loaded[key].shape == reference[key].shape
                np.testing.assert_array_equal(loaded[key], reference[key])


def test_a_declared_zip_bomb_is_refused_before_decompressing(bomb, monkeypatch):
    assert len(bomb) < 1_100_000
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("decompressed"))
    error, peak = _peak(load_npz, bomb)
    assert "declare 1.0 GiB uncompressed, over the limit of 64.0 MiB" in str(error)
    assert peak < 4 << 20


def test_a_zip_bomb_that_lies_about_its_size_costs_only_what_it_declares():
    # the directory says 128 + 64 bytes, the header says 16 floats; 1 GiB of zeros follows
    lying = zip_bomb(_npy_header((16,)), declared=len(_npy_header((16,))) + 64)
    error, peak = _peak(load_npz, lying)
    assert "damaged .npz archive" in str(error) and "CRC" in str(error)
    assert peak < 4 << 20
    # a header that disagrees with the directory is refused before its data is read
    error, peak = _peak(load_npz, zip_bomb(_npy_header(((1 << 30) // 4,)), declared=100_000))
    assert "its header describes 1.0 GiB of data, its directory entry 97.7 KiB" in str(error)
    assert peak < 4 << 20


def test_npz_refuses_pickles_other_files_and_too_many_members():
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ArchiveRefused, match="holds Python objects"):
        load_npz(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", b"")
        archive.writestr("evil.pkl", b"cos\nsystem\n")
    with pytest.raises(ArchiveRefused, match="'evil.pkl' is not a .npy array file"):
        load_npz(buffer.getvalue())
    buffer = io.BytesIO()
    np.savez(buffer, **{f"a{i}": np.zeros(1) for i in range(5)})
    with pytest.raises(ArchiveRefused, match="5 members, over the limit of 4"):
        load_npz(buffer.getvalue(), max_members=4)
    with pytest.raises(ArchiveRefused, match="not a readable .npz archive"):
        load_npz(b"PK\x03\x04 not a zip")


# --- hidden inputs follow the submission ---------------------------------------------------------


def test_hidden_inputs_change_with_the_answer_cells_and_only_then(course, template, tmp_path):
    assignment = Assignment.load(course, "demo")
    same = [rebuild(template, submit(course, tmp_path / f"twice{i}" / "demo", corpus.Case("x", 8)))
            for i in range(2)]
    # the leaked-input attack: a later submission changes only another exercise's cell
    changed = rebuild(template, submit(course, tmp_path / "changed" / "demo", corpus.Case(
        "x", 8, append={"shift-targets-answer": "LEAKED = [0.25, 0.5]\n"})))
    digests = [answer_digest(cell["source"] for cell in r.cells) for r in (*same, changed)]
    assert digests[0] == digests[1] != digests[2]
    for exercise in assignment.exercises:
        seeds = {derive_seed(b"secret", "demo", student, exercise.name, digest)
                 for student, digest in (("alice", digests[0]), ("alice", digests[2]),
                                         ("bob", digests[0]))}
        assert len(seeds) == 3, exercise.name
        blobs = [grading.hidden_inputs(b"secret", "demo", "alice", exercise, d) for d in digests]
        assert blobs[0] == blobs[1], exercise.name            # a regrade is reproducible
    # what would leak: the attention exercise's query (random floats) is new, value by value
    attention = next(e for e in assignment.exercises if e.name == "attention")
    first, new = (load_npz(grading.hidden_inputs(b"secret", "demo", "alice", attention, d))["q"]
                  for d in (digests[0], digests[2]))
    assert new.size > 0 and not np.isin(new, first).any()  # no leaked value is of any use


# --- the whole batch ------------------------------------------------------------------------------


def _gradebook(course) -> dict:
    """student -> (total auto score, submission timestamp) as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        return {s.student.id: (s.score, s.timestamp) for s in gradebook.assignment_submissions("demo")}


def test_a_batch_that_nothing_stops(tmp_path, monkeypatch, sandbox_available, bomb):
    course = make_course(tmp_path / "course")
    submitted = course.root / "submitted"
    submit(course, submitted / "alice" / "demo")                              # (a) good
    submit(course, submitted / "bob" / "demo", corpus.Case(                   # (b) bad timestamp
        "bob", 8, files={"timestamp.txt": "sometime on Friday"}))
    (submitted / "carol" / "demo").mkdir(parents=True)                        # (c) link to solutions/
    (submitted / "carol" / "demo" / "demo.ipynb").symlink_to(course.source("demo") / "demo.ipynb")
    submit(course, submitted / "dora" / "demo")                               # (d) a zip bomb comes back
    (submitted / "erin" / "week1").mkdir(parents=True)                        # (e) nothing for demo
    submit(course, tmp_path / "elsewhere" / "frank" / "demo")                 # a linked student folder
    (submitted / "frank").symlink_to(tmp_path / "elsewhere" / "frank")
    submit(course, submitted / "gina" / "demo")                               # the gradebook write fails

    # (d): the sandbox cannot be made to send a bomb (it writes its own .npz), so the bomb is put
    # in dora's softmax payload on its way to the real scorer process
    current, peaks = threading.local(), []
    real_grade_one, real_score = grading._BatchGrader.grade_one, grading._BatchGrader._score

    def grade_one(self, student, *args):
        current.student = student
        return real_grade_one(self, student, *args)

    def score(self, backend, tasks):
        if getattr(current, "student", None) == "dora":
            tasks = [dict(t, payload=bomb) if Path(t["path"]).stem == "softmax" else t for t in tasks]
            results = real_score(self, backend, tasks)
            for pid in self.scorers[backend].pool._processes:
                status = Path(f"/proc/{pid}/status").read_text()
                peaks.append(int(status.split("VmHWM:")[1].split()[0]) << 10)
            return results
        return real_score(self, backend, tasks)

    real_write = GradebookWriter._write

    def write(self, student, scores, timestamp):
        if student == "gina":
            self.gradebook.update_or_create_student(student, first_name="half-written")
            raise RuntimeError("the database went away")
        real_write(self, student, scores, timestamp)

    monkeypatch.setattr(grading._BatchGrader, "grade_one", grade_one)
    monkeypatch.setattr(grading._BatchGrader, "_score", score)
    monkeypatch.setattr(GradebookWriter, "_write", write)
    options = grading.Options(backends=("torch",), workers=2, limits=TEST_LIMITS,
                              sandboxed=sandbox_available, progress=False)
    summary = grading.grade(course, "demo", submitted, options)

    graded = summary.graded
    assert sorted(graded) == ["alice", "bob", "carol", "dora", "gina"]
    assert summary.absent == ["erin"] and summary.skipped[0].startswith("frank: ")
    assert not course.autograded("erin", "demo").exists()
    assert not course.autograded("frank", "demo").exists()
    assert {s: (r["status"], r["score"]) for s, r in graded.items()} == {
        "alice": ("graded", 8), "bob": ("graded", 8), "carol": ("invalid_notebook", 0),
        "dora": ("graded", 6), "gina": ("graded", 8)}
    assert any("timestamp.txt was ignored: 'sometime on Friday' is not a date" in m
               for m in graded["bob"]["messages"])
    assert "links are not accepted" in graded["carol"]["messages"][-1]
    assert [e["points"] for e in graded["dora"]["exercises"]] == [0, 1, 1, 2, 2]
    assert peaks and max(peaks) < 1 << 30   # 1 GiB was never decompressed in the scorer
    on_disk = {s: records.read(course.autograded(s, "demo")) for s in graded}
    assert {s: r["gradebook"] for s, r in on_disk.items()} == {
        "alice": "written", "bob": "written", "carol": "written", "dora": "written", "gina": "pending"}
    assert "the database went away" in on_disk["gina"]["gradebook_problem"]
    assert list(summary.problems) == ["gina"]
    # the gradebook holds exactly the records written, with their scores
    assert {s: score for s, (score, _) in _gradebook(course).items()} == {
        "alice": 8, "bob": 8, "carol": 0, "dora": 6}

    # a deleted row, and gina's grades never written: the next run writes both back, grading nothing
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        gradebook.remove_submission("demo", "alice")
    monkeypatch.undo()
    again = grading.grade(course, "demo", submitted, options)
    assert again.graded == {} and sorted(again.reused) == sorted(graded)
    assert sorted(again.repaired) == ["alice", "gina"] and again.problems == {}
    assert {s: score for s, (score, _) in _gradebook(course).items()} == {
        "alice": 8, "bob": 8, "carol": 0, "dora": 6, "gina": 8}
    for student, record in on_disk.items():
        now = records.read(course.autograded(student, "demo"))
        assert now["graded_at"] == record["graded_at"] and now["gradebook"] == "written", student
        assert "gradebook_problem" not in now
    assert grading.grade(course, "demo", submitted, options).repaired == []

    # the hidden inputs were drawn from the submission's own cells (see the test above)
    template = Template.read(course.release("demo") / "demo.ipynb")
    rebuilt = rebuild(template, submitted / "alice" / "demo")
    assert on_disk["alice"]["digests"] == {"demo": answer_digest(c["source"] for c in rebuilt.cells)}
    assert json.loads((course.feedback("bob", "demo") / "report.json").read_text())["score"] == 8


def test_a_failed_gradebook_write_leaves_nothing_behind(tmp_path, monkeypatch):
    course = make_course(tmp_path / "course")
    assignment = Assignment.load(course, "demo")
    scores = {e.name: (float(e.points), "") for e in assignment.exercises}
    writer = GradebookWriter(course, assignment)
    real_find_grade, calls = writer.gradebook.find_grade, []

    def find_grade(cell, notebook, name, student):
        calls.append(student)
        if student == "x" and calls.count("x") == 3:  # two of x's grades set, then a failure
            raise RuntimeError("the database went away")
        return real_find_grade(cell, notebook, name, student)

    monkeypatch.setattr(writer.gradebook, "find_grade", find_grade)
    with pytest.raises(RuntimeError):
        writer.write("x", scores)
    writer.write("y", scores)   # commits: without a rollback, x's two grades would land with it
    assert writer.holds("y", scores) and not writer.holds("x", scores)
    writer.close()
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gradebook:
        x = [gradebook.find_grade(e.probe.exercise.grade_cell, e.notebook, "demo", "x").auto_score
             for e in assignment.exercises]
    assert x == [None] * len(assignment.exercises)
