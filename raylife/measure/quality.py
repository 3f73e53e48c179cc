"""Model quality from logits, computed the same way (numpy) for every framework."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def classification_quality(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Top-1 accuracy, cross-entropy loss, and top-5 accuracy when there are more than 5 classes (a decoder's
    (batch, positions, vocabulary) logits: per token)."""
    tally = QualityTally()
    tally.add(logits, labels)
    return tally.result()


class QualityTally:
    """Quality summed batch by batch, so that a decoder's logits (positions x a vocabulary of 50,000 per row) never
    sit in memory for a whole split: every figure is a mean over predictions (a classifier's samples, a decoder's
    tokens)."""

    def __init__(self) -> None:
        self.seen = self.correct = self.top5 = 0
        self.nll = 0.0
        self.classes = 0

    def add(self, logits: np.ndarray, labels: np.ndarray) -> None:
        logits = np.asarray(logits, dtype=np.float64)
        logits = logits.reshape(-1, logits.shape[-1])
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        rows = np.arange(len(labels))
        self.classes = logits.shape[1]
        self.seen += len(labels)
        self.correct += int((logits.argmax(axis=1) == labels).sum())
        self.nll += float(-log_softmax(logits)[rows, labels].sum())
        if self.classes > 5:
            top5 = np.argpartition(-logits, 4, axis=1)[:, :5]  # the five largest, in any order
            self.top5 += int((top5 == labels[:, None]).any(axis=1).sum())

    def result(self) -> dict[str, float]:
        seen = max(1, self.seen)
        out = {"accuracy": self.correct / seen, "eval_loss": self.nll / seen}
        if self.classes > 5:
            out["top5_accuracy"] = self.top5 / seen
        return out


def unigram_perplexity(train_targets: np.ndarray, test_targets: np.ndarray, vocab_size: int) -> float:
    """Perplexity on the test targets of the unigram model of the training targets (add-one smoothed): what knowing
    only how often each token occurs achieves, the bar a decoder must clear (its ``baseline_accuracy``)."""
    counts = np.bincount(np.asarray(train_targets).ravel(), minlength=vocab_size).astype(np.float64) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(np.exp(-log_p[np.asarray(test_targets).ravel()].mean()))


def majority_baseline(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent training class: the bar any model must clear."""
    values, counts = np.unique(train_labels, return_counts=True)
    return float((np.asarray(test_labels) == values[counts.argmax()]).mean())
