"""Random inputs generated on demand: a trial on ``dataset = "random"`` never holds its whole data set.

A reference-scale cost run (ResNet-50 at 224x224x3, BERT at 128 tokens) needs inputs of the real shape, not real
content. ``GeneratedInputs`` looks like the array a split would be (``shape``, ``dtype``, ``len``, indexing by an
integer, a slice or an index array) but keeps only a small pool of random rows (``POOL_BYTES``) and answers row ``i``
with pool row ``i % pool``: the training loops, evaluation, persistence and serving read it exactly as they read an
array, and a split of any number of rows costs the pool and its labels. Labels are drawn uniformly, so nothing can be
learned (no quality is measured on random inputs, see ``DataFacts.measures_quality``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from raylife.workloads.base import SPLIT_FRACTIONS, DataFacts, Splits

POOL_BYTES = 32 * 2**20  # random rows kept per split: 32 MiB, and at least MIN_POOL rows
MIN_POOL = 8


class GeneratedInputs:
    """``rows`` random inputs of one shape, from a pool of distinct rows (see the module)."""

    def __init__(self, rows: int, sample_shape: tuple[int, ...], dtype: str, seed: int, high: int = 100) -> None:
        sample_bytes = int(np.prod(sample_shape)) * np.dtype(dtype).itemsize
        pool = int(min(rows, max(MIN_POOL, POOL_BYTES // max(1, sample_bytes))))
        rng = np.random.default_rng(seed)
        shape = (pool, *sample_shape)
        self.pool = (rng.integers(0, high, size=shape, dtype=np.int64) if np.dtype(dtype).kind == "i"
                     else rng.random(shape, dtype=np.float32))
        self.rows = int(rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.rows, *self.pool.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.pool.dtype

    @property
    def ndim(self) -> int:
        return self.pool.ndim

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            key = np.arange(*key.indices(self.rows))
        elif isinstance(key, (int, np.integer)):
            if not -self.rows <= key < self.rows:
                raise IndexError(f"row {key} of {self.rows}")
            return self.pool[int(key) % self.rows % len(self.pool)]
        index = np.asarray(key)
        if index.dtype.kind not in "iu":
            raise TypeError(f"generated inputs are indexed by rows, not by {index.dtype}")
        if index.size and (index.max() >= self.rows or index.min() < -self.rows):
            raise IndexError(f"rows up to {int(index.max())} of {self.rows}")
        return self.pool[(index % self.rows) % len(self.pool)]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole split as one array: what the module exists to avoid, kept for small runs and numpy's callers."""
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def __repr__(self) -> str:
        return f"GeneratedInputs(rows={self.rows}, shape={self.shape}, dtype={self.dtype}, pool={len(self.pool)})"


def generated_splits(facts: DataFacts, options: Mapping[str, Any], seed: int) -> Splits:
    """Train/val/test/retrain splits of ``samples`` random rows (SPLIT_FRACTIONS), each generated on demand, each with
    its own pool; every split has at least one row."""
    samples = int(options.get("samples", 2048))
    # token ids for a decoder span its vocabulary; a classifier's random ids the option ``high``
    high = int(facts.num_classes if facts.sequence_targets else options.get("high", 100))
    label_shape = tuple(facts.input_shape) if facts.sequence_targets else ()  # a next token at every position
    rng = np.random.default_rng([seed, 1])
    sizes = {name: max(1, round(samples * fraction)) for name, fraction in SPLIT_FRACTIONS.items()}
    sizes["train"] = max(1, samples - sum(sizes.values()))
    arrays = {}
    for i, (name, rows) in enumerate(sizes.items()):
        x = GeneratedInputs(rows, tuple(facts.input_shape), facts.dtype, seed=seed * 16 + i, high=high)
        arrays[name] = (x, rng.integers(0, facts.num_classes, size=(rows, *label_shape), dtype=np.int64))
    return Splits(arrays=arrays, facts=facts)
