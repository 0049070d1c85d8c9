"""Reading documents from files lazily and cleaning files larger than memory."""

import re
import tracemalloc

import pytest

from llm_keras.data import clean_documents, clean_file, read_documents


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_lines_whatever_their_line_ends(tmp_path):
    raw = _write(tmp_path / "raw.txt", b"one\r\ntwo\rthree\n\nfour")
    assert list(read_documents(raw)) == ["one", "two", "three", "", "four"]


def test_paragraphs_are_separated_by_blank_lines(tmp_path):
    raw = _write(tmp_path / "raw.txt", b"\np1 a\np1 b\n\n\n  \t\np2\r\n\r\np3 a\np3 b")
    assert list(read_documents(raw, "paragraph")) == ["p1 a\np1 b", "p2", "p3 a\np3 b"]


def test_clean_file_by_lines(tmp_path):
    raw = _write(tmp_path / "raw.txt", "b\n\na\nb\n  \ncafe\u0301\r\n".encode())
    report = clean_file(raw, tmp_path / "clean.txt", progress=False)
    assert (tmp_path / "clean.txt").read_bytes() == "b\na\ncaf\u00e9\n".encode()
    assert (report.documents_seen, report.documents_kept, report.documents_normalized) == (6, 3, 1)
    assert report.dropped == {"empty": 2, "near_empty": 0, "too_short": 0, "too_long": 0,
                              "duplicate": 1}


def test_clean_file_by_paragraphs_reads_back_unchanged(tmp_path):
    raw = _write(tmp_path / "raw.txt", b"A a\nA b\n\n\nB\n\nA a\nA b\n\nC c c c\n")
    clean = tmp_path / "clean.txt"
    report = clean_file(raw, clean, unit="paragraph", min_chars=2, progress=False)
    assert clean.read_text() == "A a\nA b\n\nC c c c\n"
    assert report.dropped["too_short"] == 1 and report.dropped["duplicate"] == 1
    again = clean_file(clean, tmp_path / "again.txt", unit="paragraph", min_chars=2,
                       progress=False)
    assert (tmp_path / "again.txt").read_text() == clean.read_text()
    assert (again.documents_seen, again.documents_dropped, again.documents_normalized) == (2, 0, 0)


def test_tiny_shakespeare_lines(data_dir, tiny_shakespeare, tmp_path):
    lines = tiny_shakespeare.splitlines()
    unique = list(dict.fromkeys(line for line in lines if line.strip()))
    report = clean_file(data_dir / "tinyshakespeare.txt", tmp_path / "clean.txt", progress=False)
    assert (report.documents_seen, report.documents_kept) == (40_000, 25_721)
    assert len(unique) == 25_721
    assert report.dropped["empty"] == sum(not line.strip() for line in lines) == 7_223
    assert report.dropped["duplicate"] == 7_056
    assert (tmp_path / "clean.txt").read_text() == "\n".join(unique) + "\n"
    assert list(clean_documents(lines)) == unique  # the same cleaning in memory


def test_cleaning_a_file_in_place(tmp_path):
    raw = _write(tmp_path / "raw.txt", b"x\nx\ny\n")
    clean_file(raw, raw, progress=False)
    assert raw.read_text() == "x\ny\n"
    assert [p.name for p in tmp_path.iterdir()] == ["raw.txt"]


def test_bad_option_touches_nothing(tmp_path):
    raw = _write(tmp_path / "raw.txt", b"x\n")
    existing = _write(tmp_path / "clean.txt", b"previous result\n")
    with pytest.raises(ValueError, match=re.escape("max_chars=-5 must be a whole number >= 0")):
        clean_file(raw, existing, max_chars=-5)
    with pytest.raises(ValueError, match=re.escape("unit='word' is not one of ('line', 'para")):
        clean_file(raw, existing, unit="word")
    with pytest.raises(ValueError, match="encoding_errors='ignor' is not an error handler"):
        clean_file(raw, existing, encoding_errors="ignor")
    assert existing.read_bytes() == b"previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.txt", "raw.txt"]


def test_missing_input_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'raw.txt'} is not a file")):
        clean_file(tmp_path / "raw.txt", tmp_path / "clean.txt")
    assert list(tmp_path.iterdir()) == []


def test_text_that_is_not_utf8(tmp_path):
    raw = _write(tmp_path / "raw.txt", b"fine\n\xff\xfe bad\n")
    with pytest.raises(ValueError) as err:
        clean_file(raw, tmp_path / "clean.txt", progress=False)
    assert str(err.value).startswith(f"{raw} is not valid UTF-8")
    assert "encoding_errors='replace'" in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["raw.txt"]  # no partial output

    clean_file(raw, tmp_path / "clean.txt", encoding_errors="replace", progress=False)
    assert (tmp_path / "clean.txt").read_text() == "fine\n\ufffd\ufffd bad\n"


def _copies(data_dir, path, n):
    """A file of ``n`` copies of TinyShakespeare, one after the other."""
    tiny = (data_dir / "tinyshakespeare.txt").read_bytes()
    with open(path, "wb") as f:
        f.writelines(tiny for _ in range(n))
    return path


def _peak_memory(function, *args, **kwargs):
    """(result, peak bytes allocated by Python while ``function`` ran)."""
    tracemalloc.start()
    try:
        result = function(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_stays_far_below_the_file_size(data_dir, tmp_path, capsys):
    """20 copies of TinyShakespeare (21 MiB): memory is that of its 25,721 unique lines."""
    big = _copies(data_dir, tmp_path / "big.txt", 20)
    size = big.stat().st_size
    assert size == 20 * 1_115_394

    report, peak = _peak_memory(clean_file, big, tmp_path / "clean.txt", progress=True)
    assert (report.documents_seen, report.documents_kept) == (800_000, 25_721)
    assert report.dropped["duplicate"] == 800_000 - 20 * 7_223 - 25_721
    assert "100%" in capsys.readouterr().err  # the progress bar counted every byte
    # The 25,721 digests take about 2.5 MB, whatever the size of the lines or of the file.
    assert peak < size / 5, f"peak {peak:,} B for a file of {size:,} B"


def test_memory_does_not_grow_with_the_file_without_deduplication(data_dir, tmp_path):
    warm_up = _write(tmp_path / "warm_up.txt", b"x\n")  # a first call allocates lasting caches
    clean_file(warm_up, tmp_path / "clean.txt", progress=False)
    peaks = []
    for copies in (1, 3):
        raw = _copies(data_dir, tmp_path / f"raw{copies}.txt", copies)
        report, peak = _peak_memory(clean_file, raw, tmp_path / "clean.txt",
                                    deduplicate=False, progress=False)
        assert report.documents_kept == copies * (40_000 - 7_223)
        peaks.append(peak)
    assert max(peaks) < 256 * 1024, peaks  # reading buffers and one line, not 1 or 3 MB
    assert peaks[1] < 1.5 * peaks[0], peaks
