"""Image data sets, in NHWC float32 layout scaled to [0, 1]."""

from __future__ import annotations

import numpy as np

from raylife.workloads.base import Dataset


def load_digits() -> Dataset:
    """scikit-learn's bundled UCI handwritten digits: 1,797 real 8x8 grey images, 10 classes, no download."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., np.newaxis]
    return Dataset(
        x=x,
        y=bunch.target.astype(np.int64),
        num_classes=10,
        source="sklearn.datasets.load_digits (UCI ML hand-written digits, 1797 images)",
    )
