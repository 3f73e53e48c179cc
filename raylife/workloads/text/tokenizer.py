"""A word-level tokenizer that works offline and gives the same ids in every process.

Lower-case words (letters, digits, apostrophes); ids by descending frequency, ties alphabetical; 0 pads,
1 stands for words outside the vocabulary. Sequences are cut or padded (at the end) to ``seq_len``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

PAD, UNKNOWN = 0, 1
WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def vocabulary(counts: Counter, vocab_size: int) -> list[str]:
    """The ``vocab_size - 2`` most frequent words (ties alphabetical): what ``fit`` keeps, from counts made anywhere
    (a streamed table counts batch by batch)."""
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return ranked[: max(0, vocab_size - 2)]


class WordTokenizer:
    def __init__(self, vocabulary: list[str]) -> None:
        self.index = {word: i + 2 for i, word in enumerate(vocabulary)}

    @classmethod
    def fit(cls, texts: Iterable[str], vocab_size: int) -> WordTokenizer:
        return cls(vocabulary(Counter(w for text in texts for w in words(text)), vocab_size))

    @property
    def vocab_size(self) -> int:
        return len(self.index) + 2

    def encode(self, texts: Iterable[str], seq_len: int) -> np.ndarray:
        rows = []
        for text in texts:
            ids = [self.index.get(w, UNKNOWN) for w in words(text)][:seq_len]
            rows.append(ids + [PAD] * (seq_len - len(ids)))
        return np.asarray(rows, dtype=np.int64).reshape(-1, seq_len)
