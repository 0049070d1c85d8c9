"""ByteLevelBPETokenizer: parity with tiktoken, Hugging Face tokenizers and CS336's reference.

The oracles are built here from the raw files, independently of llm_keras's own GPT-2 file
reader: tiktoken from GPT-2's vocab.json, and the CS336 merges from their merges.txt.
"""

import json
import tracemalloc
from pathlib import Path

import pytest
import tiktoken
import tokenizers as hf
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_keras.tokenizers import ByteLevelBPETokenizer, Tokenizer

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = "<|endoftext|>"

EDGE_CASES = [
    "",
    "s",
    "🙃",
    "Hello, world! 🙃🙃 héllo naïve café",
    "漢字とかなの混じった文章。中文也可以。",
    "line one\r\nline two\r\n\r\n",
    "   leading and trailing spaces   ",
    "a" + " " * 37 + "b\t\t\t\n\n\n\n  \n c",
    "1234567890123456789 3.14159 007",
    "don't we'll you've they're I'm he'd it's",
    "\u00e9 vs e\u0301",  # composed and decomposed é
]
SPECIAL_CASES = [
    f"{EOT}",
    f"Hello{EOT}world",
    f"{EOT}{EOT}",
    f" {EOT} {EOT}\n{EOT}",
    f"text before {EOT}",
]


def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's byte <-> unicode table, written out as in openai/gpt-2 src/encoder.py."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


@pytest.fixture(scope="module")
def gpt2_dir(data_dir) -> Path:
    return data_dir / "gpt2"


@pytest.fixture(scope="module")
def gpt2(gpt2_dir) -> ByteLevelBPETokenizer:
    return ByteLevelBPETokenizer.from_gpt2_files(gpt2_dir / "vocab.json", gpt2_dir / "merges.txt")


@pytest.fixture(scope="module")
def tiktoken_gpt2(gpt2_dir) -> tiktoken.Encoding:
    decoder = gpt2_byte_decoder()
    vocab = json.loads((gpt2_dir / "vocab.json").read_text(encoding="utf-8"))
    ranks = {bytes(decoder[c] for c in token): i for token, i in vocab.items() if token != EOT}
    return tiktoken.Encoding(
        "gpt2-from-files", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={EOT: 50256}
    )


@pytest.fixture(scope="module")
def trained(tiny_shakespeare) -> ByteLevelBPETokenizer:
    train_text = tiny_shakespeare[:1_003_854]
    return ByteLevelBPETokenizer.train(train_text, vocab_size=1024, special_tokens=[EOT], progress=False)


# --- GPT-2's own files ----------------------------------------------------------------------


def test_gpt2_files_give_tiktokens_ids_on_all_of_tiny_shakespeare(gpt2, tiktoken_gpt2, tiny_shakespeare):
    ids = gpt2.encode(tiny_shakespeare)
    assert len(ids) == 338_025
    assert ids[:12] == [5962, 22307, 25, 198, 8421, 356, 5120, 597, 2252, 11, 3285, 502]
    assert ids == tiktoken_gpt2.encode(tiny_shakespeare)
    assert gpt2.decode(ids) == tiny_shakespeare


def test_gpt2_vocabulary_layout(gpt2):
    assert gpt2.vocab_size == 50_257
    assert gpt2.special_tokens == {EOT: 50256}
    assert len(gpt2.merges) == 50_000
    assert gpt2.merges[0] == (b" ", b"t")
    assert gpt2.vocab[198] == b"\n"
    assert gpt2.vocab[50256] == EOT.encode()


@pytest.mark.parametrize("text", EDGE_CASES)
def test_gpt2_edge_cases_match_tiktoken(gpt2, tiktoken_gpt2, text):
    ids = gpt2.encode(text)
    assert ids == tiktoken_gpt2.encode(text)
    assert gpt2.decode(ids) == text


@pytest.mark.parametrize("text", SPECIAL_CASES)
def test_gpt2_special_tokens_match_tiktoken(gpt2, tiktoken_gpt2, text):
    allowed = gpt2.encode(text, allowed_special="all")
    assert allowed == tiktoken_gpt2.encode(text, allowed_special="all")
    assert allowed.count(50256) == text.count(EOT)
    as_text = gpt2.encode(text, disallowed_special=())
    assert as_text == tiktoken_gpt2.encode(text, disallowed_special=())
    assert 50256 not in as_text
    with pytest.raises(ValueError, match="allowed_special"):
        gpt2.encode(text)
    with pytest.raises(ValueError):  # tiktoken refuses it too
        tiktoken_gpt2.encode(text)


def test_encode_iterable_streams_with_the_same_ids(gpt2, tiktoken_gpt2, data_dir):
    with open(data_dir / "tinyshakespeare.txt", encoding="utf-8") as file:
        streamed = list(gpt2.encode_iterable(file))
    text = (data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")
    assert streamed == tiktoken_gpt2.encode(text)


def test_encode_iterable_memory_stays_bounded(gpt2, tiny_shakespeare, tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(tiny_shakespeare * 4, encoding="utf-8")  # 4.5 MB
    gpt2.encode(tiny_shakespeare)  # fill the word cache first: it is bounded on its own
    tracemalloc.start()
    count = 0
    with open(path, encoding="utf-8") as file:
        for _ in gpt2.encode_iterable(file):
            count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 4 * 338_025
    # Measured: about 1.3 MB, whatever the file's size (one 64 KB piece and its pre-tokens).
    assert peak < 2_500_000, f"peak {peak:,} bytes while streaming a {path.stat().st_size:,}-byte file"


# --- training -------------------------------------------------------------------------------


def test_training_reproduces_the_cs336_reference_merges(data_dir):
    """Reference: stanford-cs336/assignment1-basics fixtures (vocab 500, <|endoftext|>)."""
    folder = data_dir / "bpe_reference"
    decoder = gpt2_byte_decoder()
    as_bytes = lambda token: bytes(decoder[c] for c in token)  # noqa: E731
    reference_merges = [
        tuple(as_bytes(part) for part in line.rstrip("\n").split(" "))
        for line in (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
    ]
    reference_vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))

    tok = ByteLevelBPETokenizer.train((folder / "corpus.en").read_text(encoding="utf-8"), 500, [EOT])

    assert tok.merges == reference_merges
    assert set(tok.vocab.values()) == {as_bytes(t) for t in reference_vocab}
    assert tok.vocab_size == 500


def test_trained_ids_layout(trained):
    assert all(trained.vocab[b] == bytes([b]) for b in range(256))
    for rank, (a, b) in enumerate(trained.merges):
        assert trained.vocab[256 + rank] == a + b
    assert trained.special_tokens == {EOT: 1023}
    assert trained.vocab_size == 1024


def test_trained_tokenizer_in_tiktoken_and_hugging_face_gives_our_ids(trained, tiny_shakespeare):
    validation = tiny_shakespeare[1_003_854:]
    ours = trained.encode(validation)
    assert ours == trained.to_tiktoken().encode(validation)
    hf_tokenizer = trained.to_huggingface()
    assert ours == hf_tokenizer.encode(validation).ids
    for text in EDGE_CASES + SPECIAL_CASES:
        ours = trained.encode(text, allowed_special="all")
        assert ours == trained.to_tiktoken().encode(text, allowed_special="all"), text
        assert ours == hf_tokenizer.encode(text).ids, text
        assert hf_tokenizer.decode(ours, skip_special_tokens=False) == text


def test_huggingface_reads_our_gpt2_style_files(trained, tmp_path, tiny_shakespeare):
    vocab_path, merges_path = trained.save_gpt2_files(tmp_path)
    hf_tokenizer = hf.Tokenizer(hf.models.BPE.from_file(str(vocab_path), str(merges_path)))
    hf_tokenizer.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
    sample = tiny_shakespeare[:20_000]
    assert hf_tokenizer.encode(sample).ids == trained.encode(sample)


def test_special_tokens_are_never_merged():
    corpus = ("ab<|x|>ab<|x|>" * 50) + "<|x|><|x|>"
    tok = ByteLevelBPETokenizer.train(corpus, vocab_size=256 + 1 + 1, special_tokens=["<|x|>"])
    assert tok.merges == [(b"a", b"b")]  # "<|x|><|x|>" occurs 51 times but is never counted
    assert tok.encode("ab<|x|>", allowed_special="all") == [256, 257]


def test_ties_go_to_the_lexicographically_greatest_pair():
    # "ab" and "cd" both occur 3 times: (b"c", b"d") > (b"a", b"b"), so it is merged first.
    tok = ByteLevelBPETokenizer.train("ab cd ab cd ab cd", vocab_size=257)
    assert tok.merges == [(b"c", b"d")]


def test_counts_are_updated_after_each_merge():
    # Wikipedia's example, one word: (a, a) occurs 4 times and is merged first. Then (aa, a) and
    # (a, b) both occur twice: the tie goes to (b"aa", b"a") > (b"a", b"b"). Then (aaa, b).
    tok = ByteLevelBPETokenizer.train("aaabdaaabac", vocab_size=259, pattern=r".+")
    assert tok.merges == [(b"a", b"a"), (b"aa", b"a"), (b"aaa", b"b")]
    assert tok.encode("aaabdaaabac") == [258, ord("d"), 258, ord("a"), ord("c")]


def test_training_from_a_file_equals_training_from_its_text(tmp_path, tiny_shakespeare):
    path = tmp_path / "corpus.txt"
    text = tiny_shakespeare[:200_000]
    path.write_text(text, encoding="utf-8")
    from_file = ByteLevelBPETokenizer.train(path, 400)
    from_text = ByteLevelBPETokenizer.train(text, 400)
    assert from_file.merges == from_text.merges


def test_training_shows_progress_bars(capsys):
    ByteLevelBPETokenizer.train("hello world " * 100, 260, progress=True)
    err = capsys.readouterr().err
    assert "Counting words" in err and "BPE merges" in err


def test_too_few_pairs_warns_and_stops():
    with pytest.warns(UserWarning, match="no pair left to merge after 2 merges"):
        tok = ByteLevelBPETokenizer.train("abc", vocab_size=300)
    assert tok.vocab_size == 258


# --- decoding, saving -------------------------------------------------------------------------


def test_decode_replaces_invalid_utf8(gpt2):
    ids = gpt2.encode("🙃")
    assert len(ids) > 1
    assert gpt2.decode(ids[:1]) == "\ufffd"
    assert gpt2.decode_bytes(ids[:1]) == "🙃".encode()[: len(gpt2.vocab[ids[0]])]


def test_save_and_load_round_trip(trained, tmp_path, tiny_shakespeare):
    trained.save(tmp_path / "tok")
    loaded = Tokenizer.load(tmp_path / "tok")
    assert isinstance(loaded, ByteLevelBPETokenizer)
    assert loaded.merges == trained.merges and loaded.vocab == trained.vocab
    sample = tiny_shakespeare[:5000] + EOT
    assert loaded.encode(sample, allowed_special="all") == trained.encode(sample, allowed_special="all")


def test_gpt2_files_round_trip(gpt2, tmp_path):
    vocab_path, merges_path = gpt2.save_gpt2_files(tmp_path)
    again = ByteLevelBPETokenizer.from_gpt2_files(vocab_path, merges_path)
    assert again.vocab == gpt2.vocab and again.merges == gpt2.merges
    assert again.special_tokens == gpt2.special_tokens


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(corpus="abc", vocab_size=255), "vocab_size=255 is too small.*at least 256"),
        (dict(corpus="abc", vocab_size=257, special_tokens=["<a>", "<b>"]), "at least 258"),
        (dict(corpus="", vocab_size=300), "corpus is empty"),
        (dict(corpus="<|endoftext|>", vocab_size=300, special_tokens=[EOT]), "corpus is empty"),
        (dict(corpus=Path("/no/such/file.txt"), vocab_size=300), "not found: '/no/such/file.txt'"),
        (dict(corpus="abc", vocab_size=300.0), "vocab_size must be an int"),
        (dict(corpus="abc", vocab_size=300, special_tokens="<a>"), "list of strings"),
        (dict(corpus="abc", vocab_size=300, special_tokens=["<a>", "<a>"]), "more than once"),
        (dict(corpus=[b"bytes"], vocab_size=300), "Item 0 of the corpus is bytes"),
        (dict(corpus=42, vocab_size=300), "a str or an iterable of str"),
    ],
)
def test_bad_training_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ByteLevelBPETokenizer.train(**kwargs)


def test_bad_encode_and_decode_input(gpt2):
    with pytest.raises(ValueError, match="Token id 50257 at position 1 is out of range"):
        gpt2.decode([0, 50257])
    with pytest.raises(ValueError, match="Token id -1"):
        gpt2.decode([-1])
    with pytest.raises(ValueError, match="integer token ids"):
        gpt2.decode([1.5])
    with pytest.raises(ValueError, match="Expected text as a str; got bytes"):
        gpt2.encode(b"bytes")
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>' at character 5"):
        gpt2.encode(f"Hello{EOT}")
    with pytest.raises(ValueError, match="not special tokens of this tokenizer"):
        gpt2.encode("x", allowed_special={"<|im_start|>"})


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_string_round_trips(gpt2, trained, text):
    for tok in (gpt2, trained):
        assert tok.decode(tok.encode(text, disallowed_special=())) == text
