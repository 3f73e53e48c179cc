"""Open-loop load on a schedule (MLPerf Server): requests leave at times drawn in advance, whatever the answers do.

One asyncio event loop (uvloop when installed) over aiohttp keeps the schedule at rates a thread per request
cannot: ``benchmarks/client_capacity.py`` measures it against ``wrk``. Latency counts from each request's
*scheduled* time, so a server (or a client) that falls behind shows as queueing delay, never as fewer requests
(no coordinated omission); how late each request actually left is kept as its send lag.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from raylife.measure.loadgen import Outcome, Samples

# A request that left more than this after its scheduled time means the client could not keep the schedule.
LATE_MS = 5.0
ARRIVALS = ("poisson", "uniform", "gamma")


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


def sweep_rates(start: float, factor: float, maximum: float) -> Iterator[float]:
    """start, start x factor, ... up to and including ``maximum`` (the last step is clipped to it)."""
    rate = start
    while rate < maximum:
        yield rate
        rate *= factor
    yield maximum


@dataclass
class Scheduled:
    """One rate's requests: ``samples`` (sent_s = scheduled time, latency from it) and each request's send lag."""

    samples: Samples
    lag_ms: np.ndarray
    duration_s: float

    @property
    def behind(self) -> bool:
        return bool(self.lag_ms.size) and float(np.percentile(self.lag_ms, 99)) > LATE_MS


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # uvloop is optional (Ray Serve installs it on Linux); asyncio's own loop works
        return asyncio.new_event_loop()


def _run(coro: Any) -> Any:
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        return runner.run(coro)


Check = Callable[[int, Any], Outcome]


async def _send(session: Any, url: str, body: bytes, seq: int, check: Check) -> Outcome:
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            payload = await response.read()
            if response.status != 200:
                return Outcome(ok=False, error=f"HTTP {response.status}: {payload[:160].decode('utf-8', 'replace')}")
        return check(seq, json.loads(payload))
    except Exception as exc:  # noqa: BLE001 - a failed request is a measurement, never a crash
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])


def run_schedule(url: str, bodies: list[bytes], check: Check, times: np.ndarray, *, timeout_s: float,
                 max_in_flight: int = 1024, duration_s: float | None = None) -> Scheduled:
    """Send request ``i`` (body ``bodies[i % len]``) at ``times[i]`` seconds; wait for every answer."""
    import aiohttp

    async def main() -> Scheduled:
        loop = asyncio.get_running_loop()
        n = len(times)
        started = np.zeros(n)
        done = np.zeros(n)
        outcomes: list[Outcome | None] = [None] * n
        connector = aiohttp.TCPConnector(limit=max_in_flight)
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            t0 = loop.time() + 0.05  # a moment to set up before the first send

            async def one(i: int) -> None:
                started[i] = loop.time()
                outcomes[i] = await _send(session, url, bodies[i % len(bodies)], i, check)
                done[i] = loop.time()

            tasks = []
            for i, offset in enumerate(times):
                delay = t0 + offset - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
        scheduled = t0 + np.asarray(times)
        samples = Samples(t0=time.perf_counter() - (loop.time() - t0))
        samples.seq = list(range(n))
        samples.sent_s = [float(t) for t in times]
        samples.latency_ms = [float(x) for x in (done - scheduled) * 1000.0]
        samples.outcomes = [o or Outcome(ok=False, error="no answer") for o in outcomes]
        return Scheduled(samples, (started - scheduled) * 1000.0, duration_s or float(times[-1]) if n else 0.0)

    return _run(main())


def closed_loop_rate(url: str, body: bytes, connections: int, duration_s: float, timeout_s: float = 30) -> tuple[float, int]:
    """Capacity: ``connections`` clients back to back for ``duration_s``; (answers/s, failed). For benchmarks."""
    import aiohttp

    async def main() -> tuple[float, int]:
        loop = asyncio.get_running_loop()
        ok = failed = 0
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            end = loop.time() + duration_s

            async def client() -> None:
                nonlocal ok, failed
                while loop.time() < end:
                    try:
                        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                            await r.read()
                            ok += r.status == 200
                            failed += r.status != 200
                    except Exception:  # noqa: BLE001
                        failed += 1

            start = loop.time()
            await asyncio.gather(*(client() for _ in range(connections)))
            return ok / (loop.time() - start), failed

    return _run(main())
