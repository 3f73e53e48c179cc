"""Data sharding for data-parallel training: equal, disjoint, seeded."""

from __future__ import annotations

import numpy as np

from raylife.frameworks.worker import epoch_order, per_worker_batch


def test_ranks_get_equal_disjoint_slices():
    parts = [epoch_order(987, seed=0, epoch=3, rank=r, world=2) for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == 493  # the odd sample is dropped, so every rank steps equally
    assert not set(parts[0]) & set(parts[1])


def test_order_is_seeded_per_epoch():
    a = epoch_order(100, seed=0, epoch=0, rank=0, world=1)
    np.testing.assert_array_equal(a, epoch_order(100, seed=0, epoch=0, rank=0, world=1))
    assert not np.array_equal(a, epoch_order(100, seed=0, epoch=1, rank=0, world=1))


def test_global_batch_is_split():
    assert per_worker_batch(64, 2) == 32
    assert per_worker_batch(1, 4) == 1
