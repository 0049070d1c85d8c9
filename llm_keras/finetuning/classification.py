"""Classification fine-tuning: a new head on the last token of a pretrained GPT (week 6,
"Classification with a new head").

A language model's last position has read the whole text: under the causal mask, the hidden
state of token ``t`` depends on tokens ``0 .. t``. So the hidden state of a text's *last* token
is a summary of all of it, and a small new layer on top can turn that summary into a class::

    token_ids (batch, seq), lengths (batch,)
        -> GPT.hidden_states                 (batch, seq, d_model)   the pretrained body
        -> last_token_features               (batch, d_model)        row b's position lengths[b]-1
        -> head: Dense(num_classes)          (batch, num_classes)    logits, float32

This is Raschka's chapter 6 (GPT-2 and spam), on the course's own character-level GPT. The
output head of the language model (65 scores, one per character) is not used; the new head starts
from scratch, so at least it has to be trained. How much of the body trains with it is a choice
(``train_layers``):

- ``"head"``: the head only; the GPT is a frozen feature extractor;
- ``"last_block"``: the last transformer block, the final norm and the head (Raschka's choice:
  the last block adapts its features to the task, the earlier ones keep what pretraining found);
- ``"all"``: every weight the classifier uses. (An untied output head of the language model is
  not used by a classifier and stays frozen.)

**Padding.** Texts of one batch have different lengths, so they are right-padded to one length:
``token_ids[b, lengths[b]:]`` is padding. The causal mask means padding *after* a token never
changes that token's hidden state, so reading position ``lengths[b] - 1`` gives the same features
as running the text alone. A character tokenizer has no padding id (id 0 is ``"\\n"``), so the
lengths are given, not found: the classifier's input is a dict ``{"token_ids": (batch, seq) int,
"lengths": (batch,) int}`` (``encode_texts`` makes both), and any id may pad.

**The data.** ``genre_passages`` cuts the 42 works of ``shakespeare_gutenberg.txt`` into short
passages labelled comedy, history or tragedy, as the First Folio (1623) groups the plays
(``FIRST_FOLIO_GENRES``). The test passages come from whole plays that no training passage comes
from (``HELD_OUT_WORKS``): a model cannot pass by remembering that ``FALSTAFF.`` speaks in a
history; it has to pick up how comedies, histories and tragedies *sound*. ``letters_in_order``
is a synthetic task, made by code, where the pretraining on Shakespeare may be of little help.

``train_classifier`` trains with the optimizer and schedule of week 3 (``build_optimizer``,
``WarmupCosineDecay``) and returns the history and the accuracies.

>>> base, tokenizer = load_for_inference("runs/shakespeare")
>>> splits = genre_passages("/work/shared/data")
>>> train = encode_texts(splits["train"].texts, tokenizer, base.config.context_length)
>>> test = encode_texts(splits["test"].texts, tokenizer, base.config.context_length)
>>> classifier = LastTokenClassifier(base, num_classes=3, train_layers="last_block")
>>> result = train_classifier(classifier, (train, splits["train"].labels),
...                           (test, splits["test"].labels), epochs=1)
>>> result.accuracy                     # on the held-out plays
"""

from __future__ import annotations

import dataclasses
import math
import re
import time

import keras
import numpy as np
from keras import ops

from llm_keras.data.corpora import load_corpus
from llm_keras.finetuning.wrapped_gpt import WrappedGPT
from llm_keras.models.gpt import GPT, _values_are_known
from llm_keras.seeding import set_seed
from llm_keras.training.optimizer import build_optimizer
from llm_keras.training.safe_stop import StopBetweenSteps, stop_at_safe_points
from llm_keras.training.schedule import WarmupCosineDecay

# ---------------------------------------------------------------------------------------------
# The genre data set
# ---------------------------------------------------------------------------------------------

GENRES = ("comedy", "history", "tragedy")

# Every work of shakespeare_gutenberg.txt, by its title there, in file order, with its genre as
# the First Folio's catalogue groups the plays ("Comedies", "Histories", "Tragedies"). Two
# choices the Folio forces: Cymbeline is printed as the last of its tragedies, and Troilus and
# Cressida, printed between histories and tragedies, is titled a tragedy there. Pericles is not in
# the First Folio (it came with the third, 1664): no genre, left out. The five poems are not
# plays: left out too (their labels would teach "verse without speakers", not genre).
FIRST_FOLIO_GENRES = {
    "ALL'S WELL THAT ENDS WELL": "comedy",
    "ANTONY AND CLEOPATRA": "tragedy",
    "AS YOU LIKE IT": "comedy",
    "THE COMEDY OF ERRORS": "comedy",
    "THE TRAGEDY OF CORIOLANUS": "tragedy",
    "CYMBELINE": "tragedy",
    "HAMLET, PRINCE OF DENMARK": "tragedy",
    "KING HENRY IV, THE FIRST PART": "history",
    "KING HENRY IV, SECOND PART": "history",
    "THE LIFE OF KING HENRY V": "history",
    "KING HENRY VI, FIRST PART": "history",
    "HISTORY OF KING HENRY THE SIXTH, SECOND PART": "history",
    "THE HISTORY OF KING HENRY THE SIXTH, THIRD PART": "history",
    "THE LIFE OF HENRY THE EIGHTH": "history",
    "KING JOHN": "history",
    "JULIUS CAESAR": "tragedy",
    "THE TRAGEDY OF KING LEAR": "tragedy",
    "A LOVER'S COMPLAINT": "poem",
    "LOVE'S LABOUR'S LOST": "comedy",
    "MACBETH": "tragedy",
    "MEASURE FOR MEASURE": "comedy",
    "THE MERCHANT OF VENICE": "comedy",
    "THE MERRY WIVES OF WINDSOR": "comedy",
    "A MIDSUMMER NIGHT'S DREAM": "comedy",
    "MUCH ADO ABOUT NOTHING": "comedy",
    "OTHELLO, THE MOOR OF VENICE": "tragedy",
    "THE PASSIONATE PILGRIM": "poem",
    "PERICLES PRINCE OF TYRE": None,
    "THE PHOENIX AND THE TURTLE": "poem",
    "THE RAPE OF LUCRECE": "poem",
    "THE TRAGEDY OF KING RICHARD THE SECOND": "history",
    "THE LIFE AND DEATH OF KING RICHARD III": "history",
    "ROMEO AND JULIET": "tragedy",
    "THE SONNETS": "poem",
    "THE TAMING OF THE SHREW": "comedy",
    "THE TEMPEST": "comedy",
    "THE LIFE OF TIMON OF ATHENS": "tragedy",
    "THE TRAGEDY OF TITUS ANDRONICUS": "tragedy",
    "THE HISTORY OF TROILUS AND CRESSIDA": "tragedy",
    "TWELFTH NIGHT; OR, WHAT YOU WILL": "comedy",
    "THE TWO GENTLEMEN OF VERONA": "comedy",
    "THE WINTER'S TALE": "comedy",
}

# The test split: whole plays, none of them in TinyShakespeare (so a model pretrained there has
# never read them either), none a sequel or prequel of a training play (no shared characters).
HELD_OUT_WORKS = (
    "AS YOU LIKE IT",
    "A MIDSUMMER NIGHT'S DREAM",
    "TWELFTH NIGHT; OR, WHAT YOU WILL",
    "KING JOHN",
    "THE LIFE OF HENRY THE EIGHTH",
    "HAMLET, PRINCE OF DENMARK",
    "MACBETH",
    "OTHELLO, THE MOOR OF VENICE",
)

# The 65 characters of TinyShakespeare, in id order: the vocabulary of the course's
# CharTokenizer.train(tiny_shakespeare) (and of nanoGPT's shakespeare_char).
SHAKESPEARE_CHARACTERS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Characters mapped, not dropped, when they are outside the alphabet.
_REPLACEMENTS = {'"': "'"}
_HEADER = r"\n+by William Shakespeare\n"  # after the title; one blank line, or none


@dataclasses.dataclass
class LabelledTexts:
    """Texts with their classes: one split of a classification data set.

    Attributes:
        texts: the texts, ``list[str]``.
        labels: ``(n,)`` int32, each an index into ``class_names``.
        class_names: the name of each class.
        sources: where each text comes from (its work, for ``genre_passages``).
    """

    texts: list[str]
    labels: np.ndarray
    class_names: tuple[str, ...]
    sources: list[str]

    def __len__(self):
        return len(self.texts)

    def class_counts(self):
        """How many texts each class has: ``{class_name: count}``."""
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return dict(zip(self.class_names, counts.tolist(), strict=True))


def shakespeare_works(path=None):
    """The 42 works of ``shakespeare_gutenberg.txt``: ``{title: text}`` in file order.

    The file is the works concatenated, each starting with its title, a blank line (none before
    the sonnets) and ``by William Shakespeare``; some end without a newline, so a title can
    follow the last line of the work before on the same line (``[Exeunt.]THE SONNETS``). Each
    work is found by its title from ``FIRST_FOLIO_GENRES`` followed by that header; its text
    runs to the next title.

    Args:
        path: the file or a folder that holds it; ``None`` for ``$LLM_KERAS_DATA`` or the cache
            (as ``llm_keras.data.load_corpus``, which checks the file's size and digest).

    Returns:
        ``dict[str, str]``: each title to its text, the header left out.
    """
    text = load_corpus("shakespeare_gutenberg", path)
    found = []  # (where the title starts, where the text starts, title)
    for title in FIRST_FOLIO_GENRES:
        match = re.search(re.escape(title) + _HEADER, text)
        if match is None:  # not with the checked file; a clear message if the table is edited
            raise ValueError(f"The title {title!r} of FIRST_FOLIO_GENRES is not in the file.")
        found.append((match.start(), match.end(), title))
    found.sort()
    ends = [start for start, _, _ in found[1:]] + [len(text)]
    return {title: text[begin:end] for (_, begin, title), end in zip(found, ends, strict=True)}


def normalize_characters(text, alphabet=SHAKESPEARE_CHARACTERS):
    """``text`` with only the characters of ``alphabet``: ``"`` becomes ``'``, others are dropped.

    Gutenberg's texts have brackets around stage directions (``[Exeunt.]``), double quotes, digits
    and a few ``_ ( ) { } * @ /`` that TinyShakespeare, and so the course's 65-character
    tokenizer, never saw. Dropping them keeps the words (``[Exeunt.]`` -> ``Exeunt.``).

    Example:
        >>> normalize_characters('[Enter HAMLET, "reading".] 1603')
        "Enter HAMLET, 'reading'. 3"
    """
    allowed = set(alphabet)
    outside = set(text) - allowed  # each mapped to its replacement if allowed, else to nothing
    table = {ord(c): _REPLACEMENTS.get(c) if _REPLACEMENTS.get(c) in allowed else None
             for c in outside}  # fmt: skip
    return text.translate(table)


def _passages(text, max_length, min_length):
    """Consecutive whole lines packed into passages of ``min_length .. max_length`` characters.

    Runs of blank lines shrink to one; a line longer than ``max_length`` is cut into pieces.
    """
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    lines = []
    for line in text.split("\n"):
        lines.extend(line[i : i + max_length] for i in range(0, max(len(line), 1), max_length))
    passages, current = [], None
    for line in lines:
        if current is not None and len(current) + 1 + len(line) <= max_length:
            current = f"{current}\n{line}"
            continue
        if current is not None:
            passages.append(current.strip("\n"))
        current = line
    passages.append(current.strip("\n"))
    return [p for p in passages if len(p) >= min_length]


def genre_passages(
    path=None,
    passage_length=64,
    min_length=16,
    held_out=HELD_OUT_WORKS,
    balance=True,
    max_per_class=None,
    alphabet=SHAKESPEARE_CHARACTERS,
    seed=0,
):
    """Passages of Shakespeare's plays labelled comedy, history or tragedy; train and test splits.

    Each play of ``FIRST_FOLIO_GENRES`` with a genre in ``GENRES`` (36 plays: 14 comedies, 10
    histories, 12 tragedies) is normalised to ``alphabet`` (``normalize_characters``) and cut
    into passages of whole consecutive lines, at most ``passage_length`` characters each (a
    longer line is cut), at least ``min_length``. The plays of ``held_out`` give the test split,
    the others the training split: no play has passages in both.

    Args:
        path: ``shakespeare_gutenberg.txt`` or a folder that holds it (``shakespeare_works``).
        passage_length: the most characters of a passage: the context of the model that reads it.
        min_length: shorter passages (a lone ``Exit.``) are dropped.
        held_out: titles (keys of ``FIRST_FOLIO_GENRES``) of the test plays; at least one of
            each genre.
        balance: keep as many passages of each genre as the rarest genre has, in each split
            (drawn at random with ``seed``); then always answering one genre scores 1/3.
        max_per_class: keep at most this many passages per genre in each split (``None``: all).
        alphabet: the characters to keep (the tokenizer's vocabulary).
        seed: the random draw of ``balance`` and ``max_per_class``; passages stay in file order.

    Returns:
        ``{"train": LabelledTexts, "test": LabelledTexts}``, ``class_names`` ``GENRES``, each
        text's ``sources`` entry its play's title.

    Raises:
        ValueError: a ``held_out`` title that is not a play of ``GENRES``, or ``held_out``
            without a play of some genre (the test accuracy of that genre would mean nothing).
    """
    plays = {t: g for t, g in FIRST_FOLIO_GENRES.items() if g in GENRES}
    unknown = [t for t in held_out if t not in plays]
    if unknown:
        raise ValueError(
            f"held_out={unknown!r}: not plays of {GENRES}. Use titles of FIRST_FOLIO_GENRES "
            f"whose genre is one of those: {sorted(plays)}."
        )
    missing = [g for g in GENRES if g not in {plays[t] for t in held_out}]
    if missing:
        raise ValueError(
            f"held_out has no play of genre {', '.join(missing)}: hold out at least one play of "
            f"each of {GENRES}, or the test split cannot measure them."
        )
    if min_length > passage_length:
        raise ValueError(f"min_length={min_length} is above passage_length={passage_length}.")
    works = shakespeare_works(path)
    rng = np.random.default_rng(seed)
    splits = {}
    for split, titles in (("train", [t for t in plays if t not in held_out]),
                          ("test", [t for t in plays if t in held_out])):  # fmt: skip
        texts, labels, sources = [], [], []
        for title in titles:
            for passage in _passages(
                normalize_characters(works[title], alphabet), passage_length, min_length
            ):
                texts.append(passage)
                labels.append(GENRES.index(plays[title]))
                sources.append(title)
        labels = np.asarray(labels, dtype="int32")
        keep = _balanced_indices(labels, len(GENRES), balance, max_per_class, rng)
        splits[split] = LabelledTexts(
            [texts[i] for i in keep], labels[keep], GENRES, [sources[i] for i in keep]
        )
    return splits


def _balanced_indices(labels, num_classes, balance, max_per_class, rng):
    """Indices (sorted) of a random subset with at most ``per_class`` examples of each class."""
    counts = np.bincount(labels, minlength=num_classes)
    per_class = counts.min() if balance else counts.max()
    if max_per_class is not None:
        per_class = min(per_class, max_per_class)
    keep = [
        rng.choice(np.flatnonzero(labels == c), min(per_class, counts[c]), replace=False)
        for c in range(num_classes)
    ]
    return np.sort(np.concatenate(keep))


def majority_baseline(train, test):
    """Test accuracy of always answering the training split's most frequent class.

    Args:
        train, test: ``LabelledTexts`` (or anything with ``labels``).

    Returns:
        A float in ``[0, 1]``: the share of ``test`` in that class.
    """
    majority = np.bincount(train.labels).argmax()
    return float(np.mean(test.labels == majority))


# ---------------------------------------------------------------------------------------------
# A synthetic task
# ---------------------------------------------------------------------------------------------


def letters_in_order(num_train, num_test, min_length=4, max_length=16, seed=0):
    """Strings of lowercase letters: are they in alphabetical order, or is one pair swapped?

    Half the strings are sorted letters (``"aemmrtz"``, class 1, ``"in order"``); the other half
    are sorted letters with one adjacent pair of different letters swapped (``"aemrmtz"``, class
    0, ``"one pair swapped"``): one descent somewhere, which the classifier must find anywhere in
    the string. Nothing here looks like Shakespeare, so pretraining may not help. Every string is
    different, and no test string is a training string.

    Args:
        num_train, num_test: strings in each split (even numbers: half of each class).
        min_length, max_length: the length of each string is drawn in this range (>= 2).
        seed: the random draw.

    Returns:
        ``{"train": LabelledTexts, "test": LabelledTexts}``, ``class_names`` ``("one pair
        swapped", "in order")``, ``sources`` all ``"letters_in_order"``.
    """
    if not 2 <= min_length <= max_length:
        raise ValueError(
            f"Need 2 <= min_length <= max_length, got min_length={min_length} and "
            f"max_length={max_length}: a swap needs two letters."
        )
    for name, count in (("num_train", num_train), ("num_test", num_test)):
        if count < 2 or count % 2:
            raise ValueError(f"{name}={count} must be an even number >= 2: half of each class.")
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    seen, examples = set(), []
    while len(examples) < num_train + num_test:
        label = len(examples) % 2  # alternate: 0, 1, 0, 1, ...
        chars = list(np.sort(rng.choice(letters, rng.integers(min_length, max_length + 1))))
        if label == 0:
            pairs = [i for i in range(len(chars) - 1) if chars[i] != chars[i + 1]]
            if not pairs:  # all letters equal: no swap changes the string
                continue
            i = pairs[rng.integers(len(pairs))]
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        text = "".join(chars)
        if text not in seen:
            seen.add(text)
            examples.append((text, label))
    names = ("one pair swapped", "in order")
    return {
        split: LabelledTexts(
            [t for t, _ in part],
            np.asarray([y for _, y in part], dtype="int32"),
            names,
            ["letters_in_order"] * len(part),
        )
        for split, part in (("train", examples[:num_train]), ("test", examples[num_train:]))
    }


def encode_texts(texts, tokenizer, max_length, pad_id=0):
    """Texts as a right-padded batch of ids with their lengths: the classifier's input.

    Args:
        texts: ``list[str]``, each non-empty and at most ``max_length`` tokens long.
        tokenizer: anything with ``encode(text) -> list[int]`` (e.g. the run's ``CharTokenizer``).
        max_length: the length of every row (at most the GPT's ``context_length``).
        pad_id: the id written after each text (any id: the lengths say where texts end).

    Returns:
        ``{"token_ids": (n, max_length) int32, "lengths": (n,) int32}``.
    """
    token_ids = np.full((len(texts), max_length), pad_id, dtype="int32")
    lengths = np.zeros(len(texts), dtype="int32")
    for row, text in enumerate(texts):
        ids = tokenizer.encode(text)
        if not 0 < len(ids) <= max_length:
            raise ValueError(
                f"Text {row} has {len(ids)} tokens, not in [1, max_length={max_length}]: make "
                "the passages shorter (genre_passages(passage_length=...)) or drop empty ones."
            )
        token_ids[row, : len(ids)] = ids
        lengths[row] = len(ids)
    return {"token_ids": token_ids, "lengths": lengths}


CLASSIFICATION_DATA = ("genre", "letters")
LETTERS_MAX_LENGTH = 16  # the longest letters_in_order string: its rows need no more positions
LETTERS_TEST = 1000


def classification_data(name, tokenizer, context_length, seed=0, max_per_class=None,
                        num_train=4000):  # fmt: skip
    """A classification data set, split and encoded for a GPT: what ``llm-keras classify`` and
    the fine-tuning benchmark train on.

    Args:
        name: ``"genre"`` (``genre_passages``: passages of at most ``context_length``
            characters, test passages from the held-out plays) or ``"letters"``
            (``letters_in_order``: ``num_train`` training and 1,000 test strings of at most 16
            letters, or ``context_length`` when that is shorter).
        tokenizer: encodes the texts (``encode_texts``).
        context_length: the GPT's; genre passages fill it, letters rows are only as long as the
            longest string (16 positions, not 64: a quarter of the work).
        seed: the draw of passages or strings.
        max_per_class: genre: at most this many passages per genre and split (``None``: all,
            balanced).
        num_train: letters: training strings (an even number).

    Returns:
        ``(train, test, inputs)``: the two ``LabelledTexts`` and ``{"train": ..., "test": ...}``,
        each ``encode_texts``'s ``{"token_ids", "lengths"}``.
    """
    if name == "genre":
        length = context_length
        splits = genre_passages(passage_length=length, max_per_class=max_per_class, seed=seed)
    elif name == "letters":
        length = min(LETTERS_MAX_LENGTH, context_length)
        splits = letters_in_order(num_train, LETTERS_TEST, max_length=length, seed=seed)
    else:
        raise ValueError(
            f"Unknown classification data {name!r}: choose one of {', '.join(CLASSIFICATION_DATA)}."
        )
    train, test = splits["train"], splits["test"]
    inputs = {split: encode_texts(texts.texts, tokenizer, length)
              for split, texts in (("train", train), ("test", test))}  # fmt: skip
    return train, test, inputs


# ---------------------------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------------------------


def last_token_features(hidden, lengths):
    """The hidden state of each row's last real token.

    Args:
        hidden: ``(batch, seq, d_model)``, e.g. ``GPT.hidden_states(token_ids)``.
        lengths: ``(batch,)`` integers in ``[1, seq]``: row ``b`` holds ``lengths[b]`` real
            tokens, then padding.

    Returns:
        ``(batch, d_model)``: ``hidden[b, lengths[b] - 1]`` for each row ``b`` (in NumPy,
        ``hidden[np.arange(batch), lengths - 1]``).

    Raises:
        ValueError: (in eager mode) a length outside ``[1, seq]``.
    """
    lengths = ops.convert_to_tensor(lengths)
    seq_len = hidden.shape[1]
    if _values_are_known(lengths) and seq_len is not None:
        low, high = (int(ops.convert_to_numpy(f(lengths))) for f in (ops.min, ops.max))
        if low < 1 or high > seq_len:
            raise ValueError(
                f"lengths must be in [1, {seq_len}] (the sequence length), got one of "
                f"{low if low < 1 else high}: give each row's number of real tokens "
                "(encode_texts returns them)."
            )
    last = ops.cast(lengths, "int32") - 1  # (batch,)
    index = ops.expand_dims(ops.expand_dims(last, -1), -1)  # (batch, 1, 1)
    return ops.take_along_axis(hidden, index, axis=1)[:, 0, :]  # (batch, d_model)


TRAIN_LAYERS = ("head", "last_block", "all")


def set_trainable_layers(gpt, train_layers):
    """Freeze or unfreeze ``gpt``'s sublayers for a new head on its last token.

    Sets ``trainable`` on each sublayer of ``gpt`` (in place) as ``train_layers`` says; the new
    head itself, which is not part of ``gpt``, always trains. ``LastTokenClassifier`` and the
    reward model of week 7 (``alignment.reward_model.RewardModel``) both call it.

    Args:
        gpt: a ``GPT``.
        train_layers: ``"head"``: every sublayer frozen (a feature extractor);
            ``"last_block"``: the last block and ``final_norm`` train (Raschka's choice);
            ``"all"``: every sublayer a last-token head uses trains. ``lm_head`` (an untied
            output head, not used to read the last token's features) is always frozen.

    Raises:
        ValueError: an unknown ``train_layers`` (one of ``TRAIN_LAYERS``).
    """
    if train_layers not in TRAIN_LAYERS:
        raise ValueError(
            f"Unknown train_layers={train_layers!r}: choose one of {', '.join(TRAIN_LAYERS)}."
        )
    trains = {
        "head": (),
        "last_block": (gpt.blocks[-1], gpt.final_norm),
        "all": (gpt.token_embedding, gpt.position_embedding, *gpt.blocks, gpt.final_norm),
    }[train_layers]
    chosen = {id(layer) for layer in trains if layer is not None}
    every = (gpt.token_embedding, gpt.position_embedding, *gpt.blocks, gpt.final_norm,
             gpt.lm_head)  # fmt: skip
    for layer in every:
        if layer is not None:
            layer.trainable = id(layer) in chosen


@keras.saving.register_keras_serializable(package="llm_keras")
class LastTokenClassifier(WrappedGPT):
    """A GPT with a new classification head on its last token's hidden state.

    Args:
        gpt: a ``GPT``, pretrained or new; the classifier uses (and may train) its weights.
        num_classes: classes of the task.
        train_layers: which weights train (the others are frozen):
            ``"head"``: ``head`` only; ``"last_block"``: the last block, ``final_norm`` and
            ``head`` (Raschka's choice); ``"all"``: every weight the classifier uses (all but
            an untied ``lm_head``, which it does not use).
        **kwargs: passed to ``keras.Model`` (``name``).

    Sublayers: ``gpt``, and ``head``, a ``keras.layers.Dense(num_classes)`` in the GPT's dtype
    policy. Saved with the GPT (``WrappedGPT``).

    Call arguments:
        inputs: a dict ``{"token_ids": (batch, seq) int, "lengths": (batch,) int}``: each row
            right-padded after its ``lengths[b]`` real tokens (``encode_texts``).
        training: ``True`` applies the GPT's dropout.

    Returns:
        Logits ``(batch, num_classes)``, float32.

    Example:
        >>> classifier = LastTokenClassifier(gpt, num_classes=3, train_layers="last_block")
        >>> classifier({"token_ids": ids, "lengths": lengths})       # (batch, 3)
    """

    def __init__(self, gpt, num_classes, train_layers="last_block", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(gpt, GPT):
            raise TypeError(
                f"LastTokenClassifier expects a GPT, got {type(gpt).__name__}: load one with "
                "llm_keras.training.run_directory.load_for_inference(run_directory)."
            )
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes={num_classes!r} must be an integer >= 2.")
        self.gpt = gpt
        self.num_classes = num_classes
        self.train_layers = train_layers
        self.head = keras.layers.Dense(num_classes, dtype=gpt.dtype_policy, name="head")
        self.head.build((None, gpt.config.d_model))
        set_trainable_layers(gpt, train_layers)

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or set(inputs) != {"token_ids", "lengths"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                "LastTokenClassifier expects a dict {'token_ids': (batch, seq) ids, 'lengths': "
                f"(batch,) ints}}, got {got}: make it with encode_texts(texts, tokenizer, "
                "max_length)."
            )
        hidden = self.gpt.hidden_states(inputs["token_ids"], training=training)
        features = last_token_features(hidden, inputs["lengths"])  # (batch, d_model)
        return ops.cast(self.head(features), "float32")  # (batch, num_classes)

    def get_config(self):  # the GPT's config is WrappedGPT's
        return {**super().get_config(), "num_classes": self.num_classes,
                "train_layers": self.train_layers}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ClassifierTraining:
    """What ``train_classifier`` returns.

    Attributes:
        history: Keras's ``History.history``: per epoch ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``.
        accuracy: the accuracy on ``val`` after training.
        train_accuracy: the accuracy on ``train`` after training (dropout off).
        seconds: the wall time of the training (``fit``), in seconds.
        steps: optimizer steps taken.
    """

    history: dict
    accuracy: float
    train_accuracy: float
    seconds: float
    steps: int


def train_classifier(
    classifier,
    train,
    val,
    epochs=1,
    batch_size=32,
    learning_rate=1e-3,
    weight_decay=0.1,
    warmup_steps=None,
    seed=0,
    verbose=0,
):
    """Train ``classifier``'s trainable weights with cross-entropy, AdamW and a cosine schedule.

    The optimizer is week 3's ``build_optimizer`` (AdamW, decay on 2-D weights, gradients
    clipped to norm 1) with ``WarmupCosineDecay`` from ``learning_rate`` down to a tenth of it.
    ``val`` is only measured, never used to choose anything.

    Args:
        classifier: a ``LastTokenClassifier`` (its ``train_layers`` say what trains).
        train, val: ``(inputs, labels)``: ``inputs`` from ``encode_texts``, ``labels`` ``(n,)``
            ints in ``[0, num_classes)``.
        epochs: passes over ``train`` (shuffled with ``seed``).
        batch_size: examples per step.
        learning_rate: the peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        warmup_steps: steps of linear warm-up (``None``: a tenth of the steps, at most 100).
        seed: the shuffling (and dropout, if any).
        verbose: Keras's progress output (0: none).

    Returns:
        A ``ClassifierTraining``: ``history``, ``accuracy`` (on ``val``), ``train_accuracy``,
        ``seconds``, ``steps``.
    """
    (x_train, y_train), (x_val, y_val) = train, val
    for name, (x, y) in (("train", train), ("val", val)):
        if len(y) != len(x["token_ids"]) or len(y) != len(x["lengths"]):
            raise ValueError(
                f"{name}: {len(y)} labels for {len(x['token_ids'])} token rows and "
                f"{len(x['lengths'])} lengths: give one label per text."
            )
    steps = epochs * math.ceil(len(y_train) / batch_size)
    if warmup_steps is None:
        warmup_steps = min(100, steps // 10)
    schedule = WarmupCosineDecay(learning_rate, warmup_steps, max(steps, warmup_steps + 1),
                                 learning_rate / 10)  # fmt: skip
    set_seed(seed)
    classifier.compile(
        optimizer=build_optimizer(classifier, schedule, weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=keras.backend.backend() != "torch",
    )
    start = time.perf_counter()
    with stop_at_safe_points():  # Ctrl-C waits for the step in progress (training.safe_stop)
        history = classifier.fit(
            x_train,
            np.asarray(y_train),
            batch_size=batch_size,
            epochs=epochs,
            validation_data=(x_val, np.asarray(y_val)),
            shuffle=True,
            verbose=verbose,
            callbacks=[StopBetweenSteps()],
        )
    seconds = time.perf_counter() - start
    return ClassifierTraining(
        history=history.history,
        accuracy=accuracy(classifier, x_val, y_val, batch_size),
        train_accuracy=accuracy(classifier, x_train, y_train, batch_size),
        seconds=seconds,
        steps=steps,
    )


def accuracy(classifier, inputs, labels, batch_size=256):
    """The share of ``labels`` that ``classifier`` predicts (its largest logit), in ``[0, 1]``."""
    logits = classifier.predict(inputs, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(labels)))
