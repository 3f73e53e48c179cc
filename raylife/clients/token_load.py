"""Token load: closed loop (``concurrency`` streams that each send their next request when the last one ended) or
open loop (requests sent on a schedule of arrivals, whatever the server does, as vLLM's ``bench serve --request-rate``
sends them), and the figures LLM users read per cell — TTFT, ITL, TPOT and E2E at p50/p90/p99, output tokens per second in total and
per user — the way vLLM's ``bench serve`` and AIPerf summarise a run.

``send(prompt) -> StreamRecord`` is any client (``streaming.stream_completion`` against a server); the prompts are
handed out in order, one per request, so a run is repeatable.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from raylife.clients.streaming import StreamRecord

Send = Callable[[str | list[int]], StreamRecord]


@dataclass(frozen=True)
class Tail:
    """p50, p90 and p99 of one figure over a cell, in ms (None when nothing was measured)."""

    p50: float | None
    p90: float | None
    p99: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Tail:
        if not seconds:
            return cls(None, None, None)
        p50, p90, p99 = np.percentile(np.asarray(seconds) * 1e3, [50, 90, 99], method="linear")
        return cls(float(p50), float(p90), float(p99))


@dataclass(frozen=True)
class TokenCell:
    """One concurrency level's figures."""

    concurrency: int
    requests: int
    failed: int
    wall_s: float
    output_tokens: int
    ttft: Tail
    itl: Tail  # every gap between two tokens of a stream
    tpot: Tail  # per request: (E2E − TTFT) / (output tokens − 1)
    e2e: Tail
    output_tokens_per_s: float  # all streams together, over the cell's wall time
    output_tokens_per_s_per_user: float | None  # the median stream's decoding rate: 1 / its TPOT


def closed_loop(send: Send, prompts: Sequence[str | list[int]], concurrency: int) -> tuple[list[StreamRecord], float]:
    """Every prompt sent once by ``concurrency`` streams; the records in the order they ended, and the wall time."""
    records: list[StreamRecord] = []
    lock = threading.Lock()
    todo = iter(prompts)

    def stream() -> None:
        while True:
            with lock:
                prompt = next(todo, None)
            if prompt is None:
                return
            record = send(prompt)
            with lock:
                records.append(record)

    start = time.perf_counter()
    threads = [threading.Thread(target=stream, name=f"stream-{i}") for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records, time.perf_counter() - start


def summarize(records: Sequence[StreamRecord], concurrency: int, wall_s: float) -> TokenCell:
    ok = [r for r in records if r.ok]
    tpots = [r.tpot_s for r in ok if r.tpot_s is not None]
    tokens = sum(r.output_tokens for r in ok)
    return TokenCell(
        concurrency=concurrency, requests=len(records), failed=len(records) - len(ok), wall_s=wall_s,
        output_tokens=tokens, ttft=Tail.of([r.ttft_s for r in ok if r.ttft_s is not None]),
        itl=Tail.of([gap for r in ok for gap in r.itl_s]), tpot=Tail.of(tpots), e2e=Tail.of([r.e2e_s for r in ok]),
        output_tokens_per_s=tokens / wall_s if wall_s > 0 else 0.0,
        output_tokens_per_s_per_user=1.0 / statistics.median(tpots) if tpots and statistics.median(tpots) > 0 else None,
    )


def concurrency_sweep(send: Send, prompts: Sequence[str | list[int]], levels: Sequence[int],
                      requests_per_stream: int) -> list[TokenCell]:
    """A cell per concurrency level, each ``requests_per_stream`` requests per stream, from the same prompts."""
    cells = []
    for level in levels:
        batch = [prompts[i % len(prompts)] for i in range(level * requests_per_stream)]
        records, wall = closed_loop(send, batch, level)
        cells.append(summarize(records, level, wall))
    return cells


def poisson_arrivals(rate_rps: float, requests: int, seed: int = 0) -> np.ndarray:
    """Exactly ``requests`` due times (s from the start, the first at 0), exponential gaps of mean 1 / rate_rps."""
    gaps = np.random.default_rng(seed).exponential(1.0 / rate_rps, requests)
    return np.concatenate([[0.0], np.cumsum(gaps)[:-1]])


@dataclass(frozen=True)
class Sent:
    """One open-loop request: when it was due and how late it left (waiting for a free slot under
    ``max_concurrency``, or a late thread), and its record with TTFT and E2E counted from when it was due."""

    due_s: float
    lag_s: float
    record: StreamRecord


def open_loop(send: Send, prompts: Sequence[str | list[int]], times: Sequence[float],
              max_concurrency: int | None = None) -> tuple[list[Sent], float]:
    """Request ``i`` (prompt ``i`` cycled) due at ``times[i]`` seconds, each on its own thread; at most
    ``max_concurrency`` in flight when set. TTFT and E2E count from the due time, so a server that falls behind
    shows as latency instead of slowing the arrivals (no coordinated omission). Returns the requests in order of due
    time and the wall time to the last answer."""
    sent: list[Sent | None] = [None] * len(times)
    gate = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
    start = time.perf_counter()

    def one(i: int) -> None:
        due = start + times[i]
        if due > time.perf_counter():
            time.sleep(due - time.perf_counter())
        if gate is not None:
            gate.acquire()
        try:
            lag = time.perf_counter() - due
            record = send(prompts[i % len(prompts)])
        finally:
            if gate is not None:
                gate.release()
        shifted = replace(record, ttft_s=None if record.ttft_s is None else record.ttft_s + lag,
                          e2e_s=record.e2e_s + lag)
        sent[i] = Sent(float(times[i]), lag, shifted)

    threads = [threading.Thread(target=one, args=(i,), name=f"arrival-{i}") for i in range(len(times))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for s in sent if s is not None], time.perf_counter() - start
