"""Planted near-duplicates: a corpus whose copies are known, to measure a deduplicator (week 1, "Data: from the web to token shards").

A deduplicator's precision and recall cannot be read off a real corpus, where nobody knows which
documents are copies. So we make one where we do: take real documents, plant edited copies of
some of them among the others, and remember which is which. A copy has its paragraphs in another
order and a share of its words edited (replaced, deleted, or a word inserted), as scraped pages
differ from their source: another header, a corrected typo, a reordered list.

``planted_near_duplicates`` builds such a corpus and its true clusters; ``pair_precision_recall``
scores the clusters that ``llm_keras.data.lsh.near_duplicates`` finds against them, on pairs of
documents: a found pair is right when both documents are in one true cluster.

Example:
    >>> originals = ["to be or not to be\\n\\nthat is the question", "all the world's a stage"]
    >>> corpus, truth = planted_near_duplicates(originals, n_copies=1, edit_rate=0.0, seed=0)
    >>> len(corpus), len(truth)
    (3, 1)
    >>> pair_precision_recall(truth, truth)
    (1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np

from llm_keras.data.lsh import connected_components
from llm_keras.data.minhash import PARAGRAPH_BREAK

EDITS = ("replace", "delete", "insert")


def planted_near_duplicates(
    documents: Sequence[str],
    n_copies: int,
    edit_rate: float,
    seed: int = 0,
    *,
    reorder_paragraphs: bool = True,
) -> tuple[list[str], list[list[int]]]:
    """The documents with ``n_copies`` edited copies planted among them, and the true clusters.

    Each copy is made from an original drawn at random (with replacement, so an original can
    have several copies):

    1. its paragraphs (separated by blank lines) are shuffled when ``reorder_paragraphs``;
    2. ``round(edit_rate * words)`` of its words, at distinct positions drawn at random, are
       edited: each edit replaces the word, deletes it, or inserts a word after it (one of the
       three at random); the words put in are drawn from all the documents' words;
    3. each paragraph's words are joined by single spaces (its line breaks go; shingles do not
       see them).

    The originals and the copies are then shuffled together, so that a copy can come before
    its original.

    Args:
        documents: the originals, each one document whose paragraphs are separated by blank
            lines. They should not be near-duplicates of each other: they are taken as distinct.
        n_copies: how many copies to plant.
        edit_rate: the share of a copy's words edited, in [0, 1].
        seed: the seed of every random choice: the same arguments give the same corpus.
        reorder_paragraphs: shuffle each copy's paragraphs.

    Returns:
        ``(corpus, truth)``: ``corpus`` the ``len(documents) + n_copies`` documents;
        ``truth`` the true clusters (an original and its copies), each a sorted list of indices
        into ``corpus``, ordered by their first index; originals without a copy are in none.

    Raises:
        TypeError: ``documents`` is one ``str``.
        ValueError: an argument is out of range, or ``documents`` is empty while copies are
            asked for.

    Example:
        >>> corpus, truth = planted_near_duplicates(["a b c d", "e f g h"], 2, 0.25, seed=0)
        >>> truth
        [[0, 1, 3]]
        >>> [corpus[i] for i in truth[0]]
        ['e f g h', 'e f c h', 'a f g h']
    """
    if isinstance(documents, str):
        raise TypeError("documents must be a sequence of strings, not one str: pass [text].")
    if isinstance(n_copies, bool) or not isinstance(n_copies, int) or n_copies < 0:
        raise ValueError(f"n_copies={n_copies!r} must be a whole number >= 0.")
    if not 0.0 <= edit_rate <= 1.0:
        raise ValueError(f"edit_rate={edit_rate!r} must be a share of the words, in [0, 1].")
    if n_copies and not documents:
        raise ValueError(
            f"documents is empty: there is nothing to copy n_copies={n_copies} "
            f"times; pass some documents."
        )
    rng = np.random.default_rng(seed)
    vocabulary = sorted({word for document in documents for word in document.split()})
    sources = rng.integers(len(documents), size=n_copies) if n_copies else []
    copies = [
        _edited_copy(documents[s], edit_rate, vocabulary, reorder_paragraphs, rng) for s in sources
    ]
    order = rng.permutation(len(documents) + n_copies)  # corpus[i] = (documents + copies)[order[i]]
    everything = list(documents) + copies
    corpus = [everything[i] for i in order]
    position = np.argsort(order)  # where each original and copy went
    copy_of = [(int(position[s]), int(position[len(documents) + k])) for k, s in enumerate(sources)]
    return corpus, connected_components(len(corpus), copy_of)


def pair_precision_recall(
    found: Iterable[Iterable[int]], truth: Iterable[Iterable[int]]
) -> tuple[float, float]:
    """Precision and recall of found clusters against true ones, counted on pairs of documents.

    Each cluster of ``k`` documents stands for its ``k (k - 1) / 2`` pairs. Precision: the share
    of found pairs that are true pairs; recall: the share of true pairs that are found.

    Args:
        found, truth: clusters, each an iterable of document indices.

    Returns:
        ``(precision, recall)``; precision is 1 when nothing is found, recall is 1 when there is
        nothing to find.

    Example:
        >>> pair_precision_recall([[0, 1, 2]], [[0, 1], [5, 6]])
        (0.3333333333333333, 0.5)
    """
    found_pairs, true_pairs = _pairs(found), _pairs(truth)
    right = len(found_pairs & true_pairs)
    precision = right / len(found_pairs) if found_pairs else 1.0
    recall = right / len(true_pairs) if true_pairs else 1.0
    return precision, recall


def _pairs(clusters: Iterable[Iterable[int]]) -> set[tuple[int, int]]:
    return {pair for cluster in clusters for pair in combinations(sorted(cluster), 2)}


def _edited_copy(
    document: str,
    edit_rate: float,
    vocabulary: list[str],
    reorder_paragraphs: bool,
    rng: np.random.Generator,
) -> str:
    paragraphs = [p.split() for p in PARAGRAPH_BREAK.split(document.strip())]
    if reorder_paragraphs:
        paragraphs = [paragraphs[i] for i in rng.permutation(len(paragraphs))]
    # Every word's place, (paragraph, word); edits go from the last place to the first, so a
    # deletion or insertion leaves the places still to edit where they were.
    places = [(p, w) for p, words in enumerate(paragraphs) for w in range(len(words))]
    count = round(edit_rate * len(places))
    chosen = sorted(rng.choice(len(places), size=count, replace=False).tolist(), reverse=True)
    for place in chosen:
        p, w = places[place]
        edit = EDITS[rng.integers(len(EDITS))]
        if edit == "replace":
            paragraphs[p][w] = vocabulary[rng.integers(len(vocabulary))]
        elif edit == "delete":
            del paragraphs[p][w]
        else:
            paragraphs[p].insert(w + 1, vocabulary[rng.integers(len(vocabulary))])
    return "\n\n".join(" ".join(words) for words in paragraphs if words)
