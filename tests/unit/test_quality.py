"""Quality metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raylife.measure.quality import classification_quality, majority_baseline


def test_accuracy_and_loss_by_hand():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    labels = np.array([0, 1, 1])
    out = classification_quality(logits, labels)
    assert out["accuracy"] == pytest.approx(2 / 3)
    expected = -(math.log(math.exp(2) / (math.exp(2) + 1)) + math.log(math.e / (math.e + 1)) + math.log(1 / (math.exp(3) + 1))) / 3
    assert out["eval_loss"] == pytest.approx(expected)
    assert "top5_accuracy" not in out  # only with more than 5 classes


def test_top5_with_many_classes():
    logits = np.tile(np.arange(10, dtype=float), (2, 1))  # class 9 ranks first, 5 is in the top 5, 4 is not
    out = classification_quality(logits, np.array([5, 4]))
    assert out["accuracy"] == 0.0
    assert out["top5_accuracy"] == 0.5


def test_loss_is_stable_for_large_logits():
    out = classification_quality(np.array([[1000.0, 0.0]]), np.array([0]))
    assert out["eval_loss"] == pytest.approx(0.0, abs=1e-12)


def test_majority_baseline():
    assert majority_baseline(np.array([1, 1, 2]), np.array([1, 2, 2, 1])) == 0.5
