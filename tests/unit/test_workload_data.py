"""The digits workload data: real, seeded, disjoint splits."""

from __future__ import annotations

import numpy as np

from raylife.workloads import WORKLOADS


def test_digits_splits_are_seeded_disjoint_and_complete():
    vision = WORKLOADS.get("vision")
    a = vision.load_splits(None, seed=0)
    b = vision.load_splits("digits", seed=0)
    c = vision.load_splits("digits", seed=1)
    assert a.sizes() == {"test": 360, "val": 180, "retrain": 270, "train": 987}
    assert sum(a.sizes().values()) == 1797
    for name in a.arrays:
        np.testing.assert_array_equal(a[name][0], b[name][0])  # same seed, same rows
    assert not np.array_equal(a["test"][1], c["test"][1])  # another seed, another split
    rows = {name: {x.tobytes() for x in a[name][0]} for name in a.arrays}
    assert not rows["test"] & rows["train"] and not rows["retrain"] & rows["train"]
    assert a.input_shape == (8, 8, 1) and a.num_classes == 10
    assert a["train"][0].dtype == np.float32 and 0 <= a["train"][0].min() and a["train"][0].max() <= 1
    assert not a.synthetic and "sklearn" in a.source


def test_splits_are_stratified():
    splits = WORKLOADS.get("vision").load_splits(None, seed=0)
    counts = np.bincount(splits["test"][1], minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # ~36 per class of 360
