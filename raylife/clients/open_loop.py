"""The one open-loop client: requests leave at times set in advance, whatever the answers do (MLPerf Server).

Every stage that offers load on a schedule uses it — the ``[load]`` sweep, a live update (``[update]``) and the
replica-fault window (``[faults] kill_replica_after_s``) — so their latencies come from the same client and compare.
One asyncio event loop (uvloop when installed) keeps a schedule at rates a thread per request cannot
(``benchmarks/client_capacity.py``); requests go out over kept-alive connections with httptools parsing the answers
(``clients/http_pool.py``: a client's own time per request is part of every latency it reports), and it agrees with
``hey`` at a fixed rate (``benchmarks/serve_latency_crosscheck.py --open-loop``).

Latency counts from each request's *scheduled* time, so a server (or a client) that falls behind shows as queueing
delay, never as fewer requests (no coordinated omission); how late each request actually left is kept as its send lag.
Because lateness is charged to the request, the client keeps it small: the event loop's timers wake up to a
millisecond late (epoll and libuv count in milliseconds), so the sender sleeps until just before the scheduled time
and waits out the rest on ``perf_counter`` (at most ``SPIN_S`` of CPU per request, yielding to the loop meanwhile so
answers are read). Times are ``perf_counter`` readings taken when a request is written and when the last byte of its
answer has been parsed — before the answer's JSON is decoded and checked, which is the client's work, not the
server's.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from raylife.clients.http_pool import HttpPool
from raylife.clients.loadgen import Outcome, Samples, failure_text

# A request that left more than this after its scheduled time means the client could not keep the schedule.
LATE_MS = 5.0
ARRIVALS = ("poisson", "uniform", "gamma")
SETUP_S = 0.05  # between starting and the first scheduled send: the session and the loop are set up


def schedule(rate_rps: float, duration_s: float, arrival: str = "poisson", burstiness: float = 1.0,
             seed: int = 0) -> np.ndarray:
    """Send times (s from the start) in [0, duration_s): exponential gaps (Poisson), fixed gaps, or gamma gaps
    of shape ``burstiness`` (1 is Poisson; below 1 burstier), all with mean 1 / rate_rps."""
    if arrival not in ARRIVALS:
        raise ValueError(f"arrival must be one of {ARRIVALS}, not {arrival!r}")
    if arrival == "uniform":  # exact multiples: summed gaps would drift by rounding (0.1 x 10 < 1)
        return np.arange(math.ceil(rate_rps * duration_s - 1e-9)) / rate_rps
    rng = np.random.default_rng(seed)
    n = int(rate_rps * duration_s * 1.5) + 16
    while True:
        if arrival == "poisson":
            gaps = rng.exponential(1.0 / rate_rps, n)
        else:
            gaps = rng.gamma(burstiness, 1.0 / (rate_rps * burstiness), n)
        times = np.concatenate([[0.0], np.cumsum(gaps)[:-1]])
        if times[-1] >= duration_s:
            return times[times < duration_s]
        n *= 2


def steady(rate_rps: float) -> Iterator[float]:
    """Fixed gaps of 1 / rate_rps without end (a client that runs until stopped), as exact multiples."""
    i = 0
    while True:
        yield i / rate_rps
        i += 1


def sweep_rates(start: float, factor: float, maximum: float) -> Iterator[float]:
    """start, start x factor, ... up to and including ``maximum`` (the last step is clipped to it)."""
    rate = start
    while rate < maximum:
        yield rate
        rate *= factor
    yield maximum


@dataclass
class Scheduled:
    """One schedule's requests: ``samples`` (sent_s = scheduled time, latency from it) and each request's send lag."""

    samples: Samples
    lag_ms: np.ndarray
    duration_s: float

    @property
    def behind(self) -> bool:
        return bool(self.lag_ms.size) and float(np.percentile(self.lag_ms, 99)) > LATE_MS


Check = Callable[[int, Any], Outcome]


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # uvloop is optional (Ray Serve installs it on Linux); asyncio's own loop works
        return asyncio.new_event_loop()


def _spin_s() -> float:
    """How long before a send to stop sleeping: more than the loop's timers are late (measured on a 2-core VM: uvloop
    p99 0.72 ms, asyncio's own loop 2.3 ms)."""
    try:
        import uvloop  # noqa: F401

        return 0.0012
    except ImportError:
        return 0.0025


SPIN_S = _spin_s()


class _Request:
    __slots__ = ("seq", "scheduled", "started", "done", "outcome")

    def __init__(self, seq: int, scheduled: float) -> None:
        self.seq, self.scheduled = seq, scheduled
        self.started = self.done = math.nan
        self.outcome: Outcome | None = None


class OpenLoopClient:
    """POSTs ``bodies[i % len]`` at scheduled times to ``url`` and checks each answer with ``check(i, json)``.

    ``run(times)`` sends one finite schedule and returns when every answer is in; ``start(rate_rps)`` sends at a steady
    rate on a background thread until ``stop()``, while ``now_s`` and ``answered`` let the caller watch (an update).
    """

    def __init__(self, url: str, bodies: list[bytes], check: Check, *, timeout_s: float, max_in_flight: int = 1024,
                 body_index: Callable[[int], int] | None = None) -> None:
        self.url, self.bodies, self.check = url, bodies, check
        # which body request ``seq`` sends (default: the bodies in turn); a trace's requests each have their batch size
        self.body_index = body_index or (lambda seq: seq % len(bodies))
        self.timeout_s, self.max_in_flight = timeout_s, max_in_flight
        self.t0 = time.perf_counter() + SETUP_S  # the schedule's zero, on perf_counter; set again when it starts
        self._requests: list[_Request] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._duration_s: float | None = None

    # -- a finite schedule, blocking ----------------------------------------------------------------------------
    def run(self, times: np.ndarray, duration_s: float | None = None) -> Scheduled:
        """Send request ``i`` at ``times[i]`` seconds; wait for every answer."""
        self._duration_s = duration_s if duration_s is not None else (float(times[-1]) if len(times) else 0.0)
        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(self._drive(iter(times)))
        return self.result()

    # -- a steady rate until stopped, in the background -----------------------------------------------------------
    def start(self, rate_rps: float) -> OpenLoopClient:
        def main() -> None:
            try:
                with asyncio.Runner(loop_factory=_new_loop) as runner:
                    runner.run(self._drive(steady(rate_rps)))
            except BaseException as exc:  # noqa: BLE001 - reported by stop(), in the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=main, name="raylife-open-loop", daemon=True)
        self._thread.start()
        return self

    def now_s(self) -> float:
        """Seconds since the schedule's zero (the clock of ``sent_s``)."""
        return time.perf_counter() - self.t0

    def answered(self) -> list[tuple[float, Outcome]]:
        """(answer time in s since the zero, outcome) of every request answered so far."""
        return [(r.done - self.t0, r.outcome) for r in list(self._requests) if r.outcome is not None]

    def stop(self) -> Scheduled:
        """Stop sending and wait for the answers still in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        self._duration_s = self.now_s()
        return self.result()

    # -- the event loop --------------------------------------------------------------------------------------------
    async def _drive(self, offsets: Iterable[float]) -> None:
        pool = HttpPool(self.url, self.max_in_flight)
        prebuilt = [pool.request(body) for body in self.bodies]

        async def one(request: _Request, message: bytes) -> None:
            request.started = time.perf_counter()
            try:
                response = await pool.post(message, self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - a failed request is a measurement, never a crash
                request.done = time.perf_counter()
                request.outcome = Outcome(ok=False, error=failure_text(exc, self.timeout_s))
                return
            request.done = response.done
            if response.status != 200:
                request.outcome = Outcome(
                    ok=False, error=f"HTTP {response.status}: {response.body[:160].decode('utf-8', 'replace')}")
                return
            try:
                request.outcome = self.check(request.seq, json.loads(response.body))
            except Exception as exc:  # noqa: BLE001 - an answer that is not JSON is a failed request
                request.outcome = Outcome(ok=False, error=failure_text(exc))

        try:
            self.t0 = time.perf_counter() + SETUP_S
            tasks = []
            for seq, offset in enumerate(offsets):
                target = self.t0 + float(offset)
                if not await self._wait_until(target):
                    break
                request = _Request(seq, target)
                self._requests.append(request)
                tasks.append(asyncio.create_task(one(request, prebuilt[self.body_index(seq)])))
            await asyncio.gather(*tasks)
        finally:
            pool.close()

    async def _wait_until(self, target: float) -> bool:
        """Sleep, then spin, until ``target`` (perf_counter); False when stopped meanwhile."""
        delay = target - time.perf_counter()
        if delay > SPIN_S:
            # in slices, so that stop() is seen within 0.1 s however slow the rate
            while delay > SPIN_S and not self._stop.is_set():
                await asyncio.sleep(min(delay - SPIN_S, 0.1))
                delay = target - time.perf_counter()
        while time.perf_counter() < target and not self._stop.is_set():
            await asyncio.sleep(0)  # yields to the loop: answers are read while the sender waits
        return not self._stop.is_set()

    def result(self) -> Scheduled:
        requests = list(self._requests)
        samples = Samples(t0=self.t0)
        samples.seq = [r.seq for r in requests]
        samples.sent_s = [r.scheduled - self.t0 for r in requests]
        samples.latency_ms = [(r.done - r.scheduled) * 1000.0 for r in requests]
        samples.outcomes = [r.outcome or Outcome(ok=False, error="no answer") for r in requests]
        lag = np.array([(r.started - r.scheduled) * 1000.0 for r in requests])
        return Scheduled(samples, lag, self._duration_s or 0.0)


def run_schedule(url: str, bodies: list[bytes], check: Check, times: np.ndarray, *, timeout_s: float,
                 max_in_flight: int = 1024, duration_s: float | None = None) -> Scheduled:
    """One finite schedule through a fresh ``OpenLoopClient`` (send request ``i`` at ``times[i]`` seconds)."""
    client = OpenLoopClient(url, bodies, check, timeout_s=timeout_s, max_in_flight=max_in_flight)
    return client.run(times, duration_s)


def closed_loop_rate(url: str, body: bytes, connections: int, duration_s: float, timeout_s: float = 30) -> tuple[float, int]:
    """Capacity: ``connections`` clients back to back for ``duration_s``, over the open-loop client's transport;
    (answers/s, failed). For benchmarks."""

    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        pool = HttpPool(url, connections)
        message = pool.request(body)
        ok = failed = 0
        end = loop.time() + duration_s

        async def client() -> None:
            nonlocal ok, failed
            while loop.time() < end:
                try:
                    response = await pool.post(message, timeout_s)
                    ok += response.status == 200
                    failed += response.status != 200
                except Exception:  # noqa: BLE001
                    failed += 1

        start = loop.time()
        try:
            await asyncio.gather(*(client() for _ in range(connections)))
        finally:
            pool.close()
        return ok / (loop.time() - start), failed

    with asyncio.Runner(loop_factory=_new_loop) as runner:
        return runner.run(main())
