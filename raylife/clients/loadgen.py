"""The closed-loop load generator (N clients, each sending as soon as its last answer came back) and the samples
every client records. No Ray, no HTTP here: it drives any ``send(seq) -> Outcome`` callable (HTTP or a Serve
DeploymentHandle) and records every request; nothing is retried or dropped. The open-loop client is
``clients/open_loop.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Outcome:
    ok: bool
    error: str | None = None
    version: str | None = None
    replica: str | None = None
    correct: int = 0  # samples the answer got right (0 when not checked or failed)
    samples: int = 0


Send = Callable[[int], Outcome]


def failure_text(exc: BaseException, timeout_s: float | None = None) -> str:
    """A failed request's error, never empty: a timeout says how long it waited (``TimeoutError`` has no message of
    its own), any other exception its type and message, or its type and '(no message)'."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):  # one class from Python 3.11, two before
        return f"no answer within {timeout_s:g} s" if timeout_s is not None else "no answer before the client's timeout"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else f"{type(exc).__name__} (no message)"


@dataclass
class Samples:
    """Every request of one measurement, in columns. Times are seconds since ``t0`` (perf_counter)."""

    t0: float
    seq: list[int] = field(default_factory=list)
    sent_s: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, seq: int, sent: float, done: float, outcome: Outcome) -> None:
        with self._lock:
            self.seq.append(seq)
            self.sent_s.append(sent - self.t0)
            self.latency_ms.append((done - sent) * 1000.0)
            self.outcomes.append(outcome)

    def __len__(self) -> int:
        return len(self.seq)

    @property
    def ok(self) -> np.ndarray:
        return np.array([o.ok for o in self.outcomes], dtype=bool)

    @property
    def latencies(self) -> np.ndarray:
        return np.asarray(self.latency_ms, dtype=np.float64)

    @property
    def wall_s(self) -> float:
        """First send to last answer."""
        if not self.seq:
            return 0.0
        ends = np.asarray(self.sent_s) + self.latencies / 1000.0
        return float(ends.max() - min(self.sent_s))

    @classmethod
    def concat(cls, parts: list[Samples]) -> Samples:
        """Consecutive measurements as one: times stay relative to the first one's start, seq numbers kept."""
        out = cls(t0=parts[0].t0)
        for part in parts:
            shift = part.t0 - out.t0
            out.seq.extend(part.seq)
            out.sent_s.extend(s + shift for s in part.sent_s)
            out.latency_ms.extend(part.latency_ms)
            out.outcomes.extend(part.outcomes)
        return out

    def errors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            if not o.ok:
                counts[o.error or "unknown"] = counts.get(o.error or "unknown", 0) + 1
        return counts


def _call(send: Send, seq: int) -> Outcome:
    try:
        return send(seq)
    except Exception as exc:  # noqa: BLE001 - a failed request is a measurement, never a crash
        return Outcome(ok=False, error=failure_text(exc))


def closed_loop(
    send: Send,
    concurrency: int,
    requests: int | None = None,
    duration_s: float | None = None,
    warmup: int = 0,
    first_seq: int = 0,
) -> Samples:
    """``concurrency`` clients send back to back; ``warmup`` requests first (not recorded).

    Stops after ``requests`` measured requests, or after ``duration_s`` (requests in flight then finish).
    Measured requests are numbered from ``first_seq`` (a window after others continues their numbering, so
    request ``seq`` always carries the same inputs).
    """
    if (requests is None) == (duration_s is None):
        raise ValueError("give exactly one of requests or duration_s")
    counter = itertools.count()
    lock = threading.Lock()

    def next_seq(limit: int | None, deadline: float | None) -> int | None:
        with lock:
            seq = next(counter)
        if limit is not None and seq >= limit + base:
            return None
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        return seq

    def client(samples: Samples | None, limit: int | None, deadline: float | None) -> None:
        while (seq := next_seq(limit, deadline)) is not None:
            sent = time.perf_counter()
            outcome = _call(send, seq)
            if samples is not None:
                samples.record(seq, sent, time.perf_counter(), outcome)

    def run(samples: Samples | None, limit: int | None, deadline: float | None) -> None:
        threads = [threading.Thread(target=client, args=(samples, limit, deadline)) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    base = 0
    if warmup:
        run(None, warmup, None)
    counter = itertools.count(first_seq)  # measured requests number from first_seq
    base = first_seq
    samples = Samples(t0=time.perf_counter())
    deadline = samples.t0 + duration_s if duration_s is not None else None
    run(samples, requests, deadline)
    return samples
