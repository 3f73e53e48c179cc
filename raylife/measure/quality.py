"""Model quality from logits, computed the same way (numpy) for every framework."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def classification_quality(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1 accuracy, cross-entropy loss, and top-5 accuracy when there are more than 5 classes."""
    labels = np.asarray(labels).astype(np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    out = {
        "accuracy": float((logits.argmax(axis=1) == labels).mean()),
        "eval_loss": float(-log_softmax(logits)[np.arange(len(labels)), labels].mean()),
    }
    if logits.shape[1] > 5:
        top5 = np.argsort(-logits, axis=1)[:, :5]
        out["top5_accuracy"] = float((top5 == labels[:, None]).any(axis=1).mean())
    return out


def majority_baseline(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent training class: the bar any model must clear."""
    values, counts = np.unique(train_labels, return_counts=True)
    return float((np.asarray(test_labels) == values[counts.argmax()]).mean())
