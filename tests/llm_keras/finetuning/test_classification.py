"""Classification fine-tuning: the last-token features, the classifier's frozen and trained
weights, saving, training on a task it can learn, and the genre and letters data sets."""

import keras
import numpy as np
import pytest

from llm_keras.finetuning.classification import (
    FIRST_FOLIO_GENRES,
    GENRES,
    HELD_OUT_WORKS,
    SHAKESPEARE_CHARACTERS,
    LastTokenClassifier,
    encode_texts,
    genre_passages,
    last_token_features,
    letters_in_order,
    majority_baseline,
    normalize_characters,
    set_trainable_layers,
    shakespeare_works,
    train_classifier,
)
from llm_keras.models import GPT, GPTConfig
from llm_keras.tokenizers import CharTokenizer
from llm_keras.training.optimizer import build_optimizer
from tests.llm_keras.finetuning.tiny_runs import expected_trainable
from tests.llm_keras.keras_test_case import assert_close, run_model_saving_test, to_numpy

if keras.backend.backend() == "torch":  # as tests/llm_keras/training/conftest.py says why
    import torch

    torch.set_num_threads(1)

TINY = dict(vocab_size=20, context_length=12, d_model=16, n_layers=2, n_heads=2)


def tiny_gpt(seed=0, **changes):
    keras.utils.set_random_seed(seed)
    return GPT(GPTConfig(**{**TINY, **changes}))


def batch(seed=0, n=6, seq=12):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, seq + 1, n).astype("int32")
    ids = rng.integers(0, TINY["vocab_size"], (n, seq)).astype("int32")
    ids[np.arange(seq)[None, :] >= lengths[:, None]] = 0  # right padding
    return {"token_ids": ids, "lengths": lengths}


# --- last_token_features ----------------------------------------------------------------------


def test_last_token_features_pick_each_rows_last_real_token():
    hidden = np.random.default_rng(0).normal(size=(4, 7, 5)).astype("float32")
    lengths = np.array([1, 7, 3, 5], dtype="int32")
    features = last_token_features(keras.ops.convert_to_tensor(hidden), lengths)
    assert tuple(features.shape) == (4, 5)
    assert_close(features, hidden[np.arange(4), lengths - 1], atol=0, rtol=0)


@pytest.mark.parametrize("lengths", [[0, 3], [3, 8]])
def test_last_token_features_reject_lengths_outside_the_sequence(lengths):
    hidden = np.zeros((2, 7, 5), dtype="float32")
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 7\]"):
        last_token_features(hidden, np.array(lengths, dtype="int32"))


def test_padding_does_not_change_the_logits():
    """The same texts, padded with other ids: the same logits (the causal mask hides them)."""
    classifier = LastTokenClassifier(tiny_gpt(), num_classes=3)
    inputs = batch()
    padding = np.arange(12)[None, :] >= inputs["lengths"][:, None]
    assert padding.sum() > 10
    repadded = inputs["token_ids"].copy()
    repadded[padding] = np.random.default_rng(5).integers(1, 20, padding.sum())
    logits = classifier({**inputs, "token_ids": repadded})
    assert_close(logits, classifier(inputs))
    assert np.abs(to_numpy(logits)).max() > 1e-3  # not trivially equal


# --- the classifier ---------------------------------------------------------------------------


def test_logits_are_the_head_on_the_last_token_hidden_state():
    gpt = tiny_gpt()
    classifier = LastTokenClassifier(gpt, num_classes=4)
    inputs = batch()
    logits = classifier(inputs)
    assert tuple(logits.shape) == (6, 4)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    hidden = to_numpy(gpt.hidden_states(inputs["token_ids"]))
    last = hidden[np.arange(6), inputs["lengths"] - 1]
    kernel, bias = (to_numpy(w) for w in classifier.head.weights)
    assert_close(logits, last @ kernel + bias)


@pytest.mark.parametrize("train_layers", ["head", "last_block", "all"])
def test_the_trainable_weights_are_the_documented_ones(train_layers):
    gpt = tiny_gpt(tie_weights=False)  # an untied lm_head: unused, so frozen even with "all"
    classifier = LastTokenClassifier(gpt, num_classes=3, train_layers=train_layers)
    trainable = {w.path for w in classifier.trainable_weights}
    every = {w.path for w in classifier.weights}
    prefixes = expected_trainable(train_layers, gpt)
    assert trainable == {p for p in every if p.startswith(prefixes)}
    assert not any(p.startswith(f"{gpt.name}/lm_head/") for p in trainable)
    # d_model 16, d_ff 64: a block has 4 (16 x 16 + 16) + (16 x 64 + 64 + 64 x 16 + 16) + 4 x 16
    # = 3,280 weights; the final norm 32; the head 16 x 3 + 3 = 51; the token table 20 x 16 and
    # the position table 12 x 16.
    expected = {"head": 51, "last_block": 51 + 3_280 + 32,
                "all": 51 + 2 * 3_280 + 32 + 320 + 192}[train_layers]  # fmt: skip
    assert sum(int(np.prod(w.shape)) for w in classifier.trainable_weights) == expected


def test_a_training_step_changes_only_the_trainable_weights():
    """With the last block trained: the head, the last block and the final norm move; the
    embeddings, the first block and the untied LM head do not."""
    gpt = tiny_gpt(tie_weights=False)
    classifier = LastTokenClassifier(gpt, num_classes=3, train_layers="last_block")
    prefixes = expected_trainable("last_block", gpt)
    trainable = {w.path for w in classifier.trainable_weights}
    before = {w.path: to_numpy(w).copy() for w in classifier.weights}
    classifier.compile(  # one step: eager where compiling would cost more than the step
        optimizer=build_optimizer(classifier, 1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=keras.backend.backend() != "jax",  # JAX compiles faster than it runs ops
    )
    classifier.train_on_batch(batch(n=8), np.arange(8, dtype="int32") % 3)
    after = {w.path: to_numpy(w) for w in classifier.weights}
    changed = {p for p in after if not np.array_equal(after[p], before[p])}
    assert changed <= trainable  # nothing frozen moved
    # ... and each trained part did (every 2-D weight at least shrinks by weight decay).
    assert {p for p in trainable if before[p].ndim == 2} <= changed
    for prefix in prefixes:
        assert any(p.startswith(prefix) for p in changed), prefix


def test_unknown_train_layers_and_bad_inputs_are_named():
    with pytest.raises(ValueError, match="train_layers='body'.*head, last_block, all"):
        LastTokenClassifier(tiny_gpt(), num_classes=3, train_layers="body")
    with pytest.raises(TypeError, match="expects a GPT"):
        LastTokenClassifier(keras.layers.Dense(3), num_classes=3)
    with pytest.raises(ValueError, match="num_classes=1"):
        LastTokenClassifier(tiny_gpt(), num_classes=1)
    classifier = LastTokenClassifier(tiny_gpt(), num_classes=3)
    with pytest.raises(ValueError, match="expects a dict.*encode_texts"):
        classifier(batch()["token_ids"])


def test_set_trainable_layers_sets_every_sublayer_each_time():
    """The public function both last-token heads use (the classifier and week 7's reward model):
    called again, it unfreezes and freezes to match (the sizes as in the test above)."""
    gpt = tiny_gpt(tie_weights=False)

    def trainable():
        return sum(int(np.prod(w.shape)) for w in gpt.trainable_weights)

    set_trainable_layers(gpt, "all")
    assert trainable() == 2 * 3_280 + 32 + 320 + 192  # not the untied lm_head
    set_trainable_layers(gpt, "last_block")
    assert trainable() == 3_280 + 32
    assert {w.path.split("/")[1] for w in gpt.trainable_weights} == {"block_1", "final_norm"}
    set_trainable_layers(gpt, "head")
    assert trainable() == 0
    with pytest.raises(ValueError, match="train_layers='body'.*head, last_block, all"):
        set_trainable_layers(gpt, "body")


def test_keras_file_round_trip_keeps_outputs_and_frozen_weights(tmp_path):
    classifier = LastTokenClassifier(tiny_gpt(), num_classes=3, train_layers="last_block")
    loaded = run_model_saving_test(classifier, batch(), tmp_path / "classifier.keras")
    assert loaded.train_layers == "last_block" and loaded.num_classes == 3
    assert [w.path for w in loaded.trainable_weights] == [
        w.path for w in classifier.trainable_weights
    ]


def test_training_learns_a_task_only_the_last_real_token_decides():
    """Class 1 when the last real token (position ``lengths - 1``, right-padded rows of 1 to
    12 tokens) is an even id: the head alone, on frozen random features, learns it."""
    inputs = batch(seed=2, n=768)
    labels = (inputs["token_ids"][np.arange(768), inputs["lengths"] - 1] % 2 == 0).astype("int32")
    train = ({k: v[:512] for k, v in inputs.items()}, labels[:512])
    test = ({k: v[512:] for k, v in inputs.items()}, labels[512:])
    classifier = LastTokenClassifier(tiny_gpt(d_model=32), 2, train_layers="head")
    result = train_classifier(classifier, train, test, epochs=16, batch_size=32,
                              learning_rate=0.1)  # fmt: skip
    assert result.steps == 16 * 16 and len(result.history["val_accuracy"]) == 16
    assert result.history["accuracy"][0] < 0.75  # it starts near chance
    assert result.accuracy >= 0.85 and result.train_accuracy >= 0.85


def test_encode_texts_pads_right_and_names_a_text_too_long():
    tokenizer = CharTokenizer("abc")
    encoded = encode_texts(["ab", "cabc", "a"], tokenizer, max_length=5, pad_id=2)
    np.testing.assert_array_equal(
        encoded["token_ids"], [[0, 1, 2, 2, 2], [2, 0, 1, 2, 2], [0, 2, 2, 2, 2]]
    )
    np.testing.assert_array_equal(encoded["lengths"], [2, 4, 1])
    with pytest.raises(ValueError, match=r"Text 1 has 4 tokens.*max_length=3"):
        encode_texts(["ab", "cabc"], tokenizer, max_length=3)


# --- data -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def works(data_dir):
    return shakespeare_works(data_dir)


@pytest.fixture(scope="module")
def genres(data_dir):
    return genre_passages(data_dir)


def test_the_42_works_are_found_whole(works):
    assert list(works) == list(FIRST_FOLIO_GENRES)  # the table is in file order
    assert sum(len(text) for text in works.values()) > 4_900_000
    assert "To be, or not to be" in works["HAMLET, PRINCE OF DENMARK"]
    assert [t for t, text in works.items() if "Out, damned spot" in text] == ["MACBETH"]
    assert works["THE SONNETS"].lstrip().startswith("I\n\nFrom fairest creatures")
    assert works["ROMEO AND JULIET"].rstrip().endswith("of Juliet and her Romeo.\n\n[Exeunt.]")
    counts = {g: list(FIRST_FOLIO_GENRES.values()).count(g) for g in (*GENRES, "poem", None)}
    assert counts == {"comedy": 14, "history": 10, "tragedy": 12, "poem": 5, None: 1}


def test_genre_split_holds_out_whole_plays(genres):
    train, test = genres["train"], genres["test"]
    assert set(test.sources) == set(HELD_OUT_WORKS)
    assert not set(train.sources) & set(test.sources)
    assert len(set(train.sources)) == 36 - len(HELD_OUT_WORKS)  # every other play
    for split in (train, test):
        assert split.class_names == GENRES
        assert all(GENRES[y] == FIRST_FOLIO_GENRES[s] for y, s in zip(split.labels, split.sources))
        counts = split.class_counts()
        assert len(set(counts.values())) == 1, counts  # balanced
        assert all(16 <= len(t) <= 64 for t in split.texts)
        assert set("".join(split.texts)) <= set(SHAKESPEARE_CHARACTERS)
    assert len(train) == 73_410 and len(test) == 16_992
    assert majority_baseline(train, test) == pytest.approx(1 / 3)


def test_genre_options(data_dir, genres):
    small = genre_passages(data_dir, passage_length=32, min_length=8, balance=False,
                           max_per_class=100, seed=1)  # fmt: skip
    assert small["test"].class_counts() == {"comedy": 100, "history": 100, "tragedy": 100}
    assert all(8 <= len(t) <= 32 for t in small["train"].texts)
    unbalanced = genre_passages(data_dir, balance=False)["test"].class_counts()
    balanced = genres["test"].class_counts()["comedy"]
    assert min(unbalanced.values()) == balanced < max(unbalanced.values())  # the rarest, all kept
    with pytest.raises(ValueError, match="held_out=.*'PERICLES PRINCE OF TYRE'"):
        genre_passages(data_dir, held_out=("PERICLES PRINCE OF TYRE",))
    with pytest.raises(ValueError, match="held_out has no play of genre history"):
        genre_passages(data_dir, held_out=("MACBETH", "THE TEMPEST"))


def test_normalize_characters_maps_quotes_and_drops_the_rest():
    assert normalize_characters('[Enter HAMLET, "reading".] 1603_') == "Enter HAMLET, 'reading'. 3"
    assert normalize_characters('a"b(c)', alphabet="abc") == "abc"


def test_letters_in_order():
    splits = letters_in_order(200, 100, min_length=3, max_length=9, seed=4)
    train, test = splits["train"], splits["test"]
    assert (len(train), len(test)) == (200, 100)
    assert not set(train.texts) & set(test.texts)
    assert len(set(train.texts)) == 200
    for split in (train, test):
        assert split.class_counts() == {"one pair swapped": len(split) // 2,
                                        "in order": len(split) // 2}  # fmt: skip
        for text, label in zip(split.texts, split.labels):
            assert 3 <= len(text) <= 9 and set(text) <= set("abcdefghijklmnopqrstuvwxyz")
            descents = sum(a > b for a, b in zip(text, text[1:]))
            assert descents == (0 if label == 1 else 1), text
    with pytest.raises(ValueError, match="num_test=3 must be an even number"):
        letters_in_order(10, 3)


def test_classification_data_encodes_each_set_as_long_as_it_needs(data_dir, monkeypatch):
    from llm_keras.finetuning.classification import CLASSIFICATION_DATA, classification_data
    from llm_keras.finetuning.command import CLASSIFY_DATA

    assert CLASSIFY_DATA == CLASSIFICATION_DATA  # the command's choices, kept without Keras
    tokenizer = CharTokenizer("abcdefghijklmnopqrstuvwxyz")
    train, test, inputs = classification_data("letters", tokenizer, 64, num_train=20, seed=3)
    assert train.texts == letters_in_order(20, 1000, max_length=16, seed=3)["train"].texts
    assert inputs["train"]["token_ids"].shape == (20, 16)  # 16 letters at most, not 64
    assert inputs["test"]["token_ids"].shape == (1000, 16)
    lengths = [len(t) for t in test.texts]
    assert inputs["test"]["lengths"].tolist() == lengths and max(lengths) == 16
    _, _, short = classification_data("letters", tokenizer, 8, num_train=20)
    assert short["train"]["token_ids"].shape == (20, 8) and short["train"]["lengths"].max() == 8

    monkeypatch.setenv("LLM_KERAS_DATA", str(data_dir))
    shakespeare = CharTokenizer(SHAKESPEARE_CHARACTERS)
    train, test, inputs = classification_data("genre", shakespeare, 32, max_per_class=5)
    assert len(train) == len(test) == 15 and inputs["test"]["token_ids"].shape == (15, 32)
    assert shakespeare.decode(inputs["train"]["token_ids"][0][: inputs["train"]["lengths"][0]]) \
        == train.texts[0]
    with pytest.raises(ValueError, match="Unknown classification data 'spam'.*genre, letters"):
        classification_data("spam", tokenizer, 64)
