"""Learning BPE merges from word counts, fast (week 1, "Byte-pair encoding, with an end-of-word marker").

Byte-pair encoding starts from words split into symbols (bytes, or characters) and repeatedly
merges the most frequent adjacent pair of symbols into a new symbol. A direct implementation
recounts every pair of every word after each merge; that is O(merges x corpus) and takes minutes
on TinyShakespeare. This one does the same merges much faster:

1. Each distinct word is stored once, with its count ("the" occurring 7,000 times is one entry).
2. Pair counts are updated *incrementally*: a merge of (a, b) only changes the words that contain
   (a, b), so only those words are visited (an index maps each pair to the words that hold it).
3. The next pair to merge comes from a heap instead of a scan over all pairs. Heap entries are
   not removed when a count goes down; a stale entry is recognised when it reaches the top
   (its count no longer matches) and is pushed again with the current count.

Ties between equally frequent pairs are broken by the lexicographically greatest pair of symbols,
compared as (first symbol, second symbol) sequences: for byte-level BPE the byte strings (GPT-2's
and CS336's rule), for word-level BPE the character strings (subword-nmt's rule).

Shared by ``ByteLevelBPETokenizer.train`` and ``WordBPETokenizer.train``.
"""

from __future__ import annotations

import heapq
from typing import Iterable, Sequence

from tqdm.auto import tqdm


def descending_key(codes: Iterable[int]) -> tuple[int, ...]:
    """A key that sorts symbol code sequences in *reverse* lexicographic order.

    ``heapq`` pops the smallest entry first; to pop the lexicographically greatest symbol we
    negate each code, and end with 1 (greater than every negated code) so that a prefix sorts
    after the longer sequence ("a" > "ab" reversed means "a" comes after "ab").
    """
    return tuple(-c for c in codes) + (1,)


def learn_merges(
    words: Sequence[Sequence[int]],
    counts: Sequence[int],
    symbol_codes: list[Sequence[int]],
    num_merges: int,
    min_frequency: int = 1,
    progress: bool = False,
) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges; the i-th merge creates symbol ``len(symbol_codes) + i``.

    Args:
        words: each distinct word as a sequence of symbol ids.
        counts: how often each word occurs (same length as ``words``).
        symbol_codes: for each existing symbol id, the codes (bytes or code points) that spell
            it; used to break ties and extended with each new symbol.
        num_merges: how many merges to learn at most.
        min_frequency: stop when the most frequent pair occurs fewer times than this.
        progress: show a progress bar.

    Returns:
        The merges, in order, as pairs of symbol ids. Fewer than ``num_merges`` when no pair
        reaches ``min_frequency`` any more (the corpus is exhausted).
    """
    words = [list(w) for w in words]
    codes = [tuple(c) for c in symbol_codes]
    keys = [descending_key(c) for c in codes]

    pair_counts: dict[tuple[int, int], int] = {}
    pair_words: dict[tuple[int, int], set[int]] = {}
    for index, (word, count) in enumerate(zip(words, counts)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] = pair_counts.get(pair, 0) + count
            holders = pair_words.get(pair)
            if holders is None:
                pair_words[pair] = {index}
            else:
                holders.add(index)

    heap = [(-n, keys[a], keys[b], a, b) for (a, b), n in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    bar = tqdm(total=num_merges, desc="BPE merges", unit="merge", disable=not progress)
    while len(merges) < num_merges and heap:
        negative_count, _, _, a, b = heapq.heappop(heap)
        count = pair_counts.get((a, b), 0)
        if count != -negative_count:  # stale entry: the count went down since it was pushed
            if count > 0:
                heapq.heappush(heap, (-count, keys[a], keys[b], a, b))
            continue
        if count < min_frequency:
            break

        new = len(codes)
        codes.append(codes[a] + codes[b])
        keys.append(descending_key(codes[new]))
        merges.append((a, b))
        bar.update(1)

        new_pairs = set()
        for index in pair_words.pop((a, b)):
            word = words[index]
            merged = merge_pair(word, a, b, new)
            if merged is None:  # the index is lazy: this word lost the pair in an earlier merge
                continue
            n = counts[index]
            for pair in zip(word, word[1:]):
                pair_counts[pair] -= n
            for pair in zip(merged, merged[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + n
                if new in pair:  # only pairs with the new symbol can have gained occurrences
                    new_pairs.add(pair)
                    holders = pair_words.get(pair)
                    if holders is None:
                        pair_words[pair] = {index}
                    else:
                        holders.add(index)
            words[index] = merged
        del pair_counts[(a, b)]
        for x, y in new_pairs:
            heapq.heappush(heap, (-pair_counts[(x, y)], keys[x], keys[y], x, y))
    bar.close()
    return merges


def merge_pair(word: list[int], a: int, b: int, new: int) -> list[int] | None:
    """Replace every (a, b) in ``word``, left to right, by ``new``; None if there is none.

    Used to train (here) and to encode (each tokenizer applies its merges with it).
    """
    if a not in word:
        return None
    merged = []
    i, n, changed = 0, len(word), False
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            merged.append(new)
            i += 2
            changed = True
        else:
            merged.append(word[i])
            i += 1
    return merged if changed else None
