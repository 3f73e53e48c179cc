"""Requests made of real held-out data, and the check of every answer against its labels.

A request at batch size B carries B test samples; request ``seq`` uses window ``seq % windows``. Since the
client knows which samples each request carried, it scores the served predictions, and the offline
predictions of the same samples give the accuracy the deployment should reach.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import ValidationError

from raylife.clients.loadgen import Outcome, Samples
from raylife.serving.messages import Answer

# Request bodies are built once and kept: at reference scale (a 224x224x3 image is ~3 MB of JSON) a body per window of
# the whole test split would not fit, so the windows stop at this many bytes of bodies (at least one window).
BODY_BUDGET_BYTES = 64 * 2**20


def json_bytes_per_sample(x: Any) -> int:
    """About how many bytes of JSON one sample of ``x`` takes (a float ~20 characters, an id ~8)."""
    values = int(np.prod(x.shape[1:])) if len(x.shape) > 1 else 1
    return values * (8 if np.dtype(x.dtype).kind in "iu" else 20)


class RequestSet:
    def __init__(self, x: np.ndarray, y: np.ndarray, offline_pred: np.ndarray, batch_size: int) -> None:
        n = len(y)
        affordable = max(1, BODY_BUDGET_BYTES // (batch_size * json_bytes_per_sample(x)))
        windows = max(1, min(math.ceil(n / batch_size), affordable))
        self.batch_size = batch_size
        self.inputs: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.offline_correct: list[int] = []
        for w in range(windows):
            idx = np.arange(w * batch_size, (w + 1) * batch_size) % n  # wrap so every request is full size
            self.inputs.append(np.ascontiguousarray(x[idx]))
            self.labels.append(y[idx])
            self.offline_correct.append(int((offline_pred[idx] == y[idx]).sum()))
        self.bodies = [json.dumps({"inputs": xb.tolist()}).encode() for xb in self.inputs]

    def window(self, seq: int) -> int:
        return seq % len(self.inputs)

    def check(self, seq: int, answer: Any) -> Outcome:
        """An Outcome for a decoded answer (its JSON, or what a handle returned): malformed or wrong-sized answers
        are errors, not successes."""
        try:
            parsed = Answer.model_validate(answer)
        except ValidationError:
            return Outcome(ok=False, error=f"malformed answer: {str(answer)[:120]}")
        predictions = np.asarray(parsed.predictions)
        labels = self.labels[self.window(seq)]
        if predictions.shape != labels.shape:
            return Outcome(ok=False, error=f"{predictions.size} predictions for {labels.size} inputs")
        return Outcome(
            ok=True, version=parsed.version, replica=parsed.replica,
            correct=int((predictions == labels).sum()), samples=int(labels.size),
        )


def http_sender(requests: RequestSet, client: Any) -> Callable[[int], Outcome]:
    def send(seq: int) -> Outcome:
        status, answer = client.post(requests.bodies[requests.window(seq)])
        if status != 200:
            return Outcome(ok=False, error=f"HTTP {status}: {str(answer)[:160]}")
        return requests.check(seq, answer)

    return send


def handle_sender(requests: RequestSet, handle: Any, timeout_s: float) -> Callable[[int], Outcome]:
    def send(seq: int) -> Outcome:
        answer = handle.predict.remote(requests.inputs[requests.window(seq)]).result(timeout_s=timeout_s)
        return requests.check(seq, answer)

    return send


def accuracy_pair(samples: Samples, requests: RequestSet) -> tuple[int, int, int]:
    """(served correct, offline correct, samples) over the successful requests of a measurement."""
    served = offline = total = 0
    for seq, outcome in zip(samples.seq, samples.outcomes):
        if outcome.ok:
            served += outcome.correct
            offline += requests.offline_correct[requests.window(seq)]
            total += outcome.samples
    return served, offline, total
