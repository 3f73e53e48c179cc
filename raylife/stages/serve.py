"""serve: closed-loop load for every batch size x concurrency, through HTTP (and a DeploymentHandle).

Each cell measures consecutive windows until the last ``stable_windows`` agree on throughput and p99 within
``stability_tolerance`` (perf_analyzer's rule), at most ``max_windows``; the stored figures are those of the
agreeing windows, and a cell that never agreed is stored with ``stable = 0``. ``repeats`` measures every cell
again on the same deployment, each repeat stored under its number.

With ``[faults] kill_replica_after_s``, a replica-fault window follows the cells: the open-loop client (the load and
update stages' own) offers ``replica_load_rps`` while one replica is killed, until its replacement answers and one
second more. An open loop keeps sending through the outage, so the requests that fail or wait are counted as they
would be for real clients; a closed loop would stop sending while its clients wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from raylife.clients.http_client import JsonClient
from raylife.clients.loadgen import Samples, closed_loop
from raylife.measure.metrics import unit_of
from raylife.clients.open_loop import OpenLoopClient
from raylife.clients.requests import RequestSet, accuracy_pair, handle_sender, http_sender
from raylife.measure.stats import latency_summary, thin, windows_agree
from raylife.stages.context import TrialContext
from raylife.stages.faults import ReplicaKiller
from raylife.stages.hardware import ReplicaMeter
from raylife.suite.spec import ServeSpec


def _sender(path: str, requests: RequestSet, ctx: TrialContext) -> tuple[Any, Any]:
    app, spec = ctx.artifacts.need("app"), ctx.trial.serve
    if path == "http":
        client = JsonClient(app.url, spec.request_timeout_s)
        return http_sender(requests, client), client.close
    return handle_sender(requests, app.handle(), spec.request_timeout_s), lambda: None


@dataclass(frozen=True)
class Window:
    samples: Samples
    ok: int
    wall_s: float
    throughput_rps: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, samples: Samples) -> Window:
        ok = samples.ok
        wall = samples.wall_s
        p99 = float(np.percentile(samples.latencies[ok], 99)) if ok.any() else None
        return cls(samples, int(ok.sum()), wall, ok.sum() / wall if wall else None, p99)


@dataclass(frozen=True)
class Cell:
    """One batch size x concurrency, measured to stability: the agreeing windows and every window sent."""

    counted: list[Window]
    windows: int
    stable: bool
    all_samples: list[Samples]

    @property
    def samples(self) -> Samples:
        return Samples.concat([w.samples for w in self.counted])


def measure_cell(send: Any, concurrency: int, spec: ServeSpec) -> Cell:
    windows: list[Window] = []
    k = spec.stable_windows
    sent = 0
    for number in range(spec.max_windows):
        samples = closed_loop(
            send, concurrency, requests=None if spec.duration_s else spec.requests, duration_s=spec.duration_s,
            warmup=spec.warmup_requests if number == 0 else 0, first_seq=sent,
        )
        sent += len(samples)
        windows.append(Window.of(samples))
        last = windows[-k:]
        if len(last) == k and (k == 1 or (
            windows_agree([w.throughput_rps for w in last], spec.stability_tolerance)
            and windows_agree([w.p99_ms for w in last], spec.stability_tolerance)
        )):
            return Cell(last, len(windows), True, [w.samples for w in windows])
    return Cell(windows[-k:], len(windows), False, [w.samples for w in windows])


class ServeStage:
    name = "serve"

    def run(self, ctx: TrialContext) -> None:
        spec, data = ctx.trial.serve, ctx.artifacts.need("serving_data")
        add = ctx.record.add
        faults = ctx.trial.faults
        app, gpu = ctx.artifacts.need("app"), ctx.trial.serve_device == "gpu"
        meter = ReplicaMeter(lambda: app.replica_stats(timeout_s=10))
        for path in spec.paths:
            served = offline = total = 0
            for repeat in range(spec.repeats):
                for batch_size in spec.batch_sizes:
                    requests = RequestSet(data.x, data.y, data.offline_pred, batch_size)
                    for concurrency in spec.concurrency:
                        again = f" · repeat {repeat + 1}/{spec.repeats}" if spec.repeats > 1 else ""
                        ctx.on_progress(f"{path} · batch {batch_size} · {concurrency} "
                                        f"client{'s' if concurrency > 1 else ''}{again}")
                        send, close = _sender(path, requests, ctx)
                        try:
                            cell = measure_cell(send, concurrency, spec)
                        finally:
                            close()
                        samples = cell.samples
                        self._store(ctx, cell, samples, path, batch_size, concurrency, repeat)
                        s, o, n = accuracy_pair(samples, requests)
                        served, offline, total = served + s, offline + o, total + n
            add(self.name, "served_accuracy", served / total if total else None, "ratio", path=path)
            add(self.name, "offline_accuracy", offline / total if total else None, "ratio", path=path,
                note="the served format's offline predictions of the same inputs")
        if faults is not None and faults.kill_replica_after_s is not None:
            self._replica_fault(ctx, data)
        try:
            stats = app.replica_stats(timeout_s=10)
            add(self.name, "replica_peak_rss_mb", max(s.peak_rss_mb for s in stats.values() if s.peak_rss_mb is not None),
                "MiB")
        except Exception as exc:  # noqa: BLE001 - a replica lost during the load is already in the errors
            add(self.name, "replica_peak_rss_mb", None, "MiB", error=str(exc)[:200])
            return
        meter.stop(ctx, self.name, gpu, after=stats)
        if gpu:
            for replica, s in stats.items():
                add(self.name, "replica_gpu_allocated_peak_mb", s.gpu_memory_peak.allocated_mb, "MiB", replica=replica)
                if ctx.trial.framework == "torch":
                    add(self.name, "replica_gpu_reserved_peak_mb", s.gpu_memory_peak.reserved_mb, "MiB", replica=replica)

    def _replica_fault(self, ctx: TrialContext, data: Any) -> None:
        """One replica killed under the open-loop client; what its replacement cost the clients."""
        spec, faults, app = ctx.trial.serve, ctx.trial.faults, ctx.artifacts.need("app")
        rate, after_s = faults.replica_load_rps, faults.kill_replica_after_s
        requests = RequestSet(data.x, data.y, data.offline_pred, 1)
        ctx.on_progress(f"replica fault: {rate:g} req/s, one replica killed after {after_s:g} s")
        client = OpenLoopClient(app.url, requests.bodies, requests.check, timeout_s=spec.request_timeout_s)
        killer = ReplicaKiller(app, app.running_replicas() if spec.autoscaling else spec.replicas, after_s, timeout_s=spec.ready_timeout_s)
        client.start(rate)
        try:
            killer.start()
            killer.join()
            if killer.recovered_at is not None:
                self._await_new_answers(client, killer.before, spec.ready_timeout_s)
            time.sleep(1.0)  # answers from the replacement too: the window shows the service back
        finally:
            samples = client.stop().samples
        labels: dict[str, Any] = {"after_s": after_s, "offered_rps": rate, **({"error": killer.error} if killer.error else {})}
        for metric, value in killer.recovery([samples]).items():
            ctx.record.add(self.name, metric, value, unit_of(self.name, metric), **labels)
        ctx.record.add_latencies("replica-fault", "http", samples, 1, offered_rps=rate)

    @staticmethod
    def _await_new_answers(client: OpenLoopClient, before: set[str], timeout_s: float) -> None:
        """Until the clients' own requests (through the HTTP proxy) are answered by a replica that was not there
        before: the driver's handle can see the replacement before the proxy routes to it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(o.ok and o.replica not in before for _, o in client.answered()[-50:]):
                return
            time.sleep(0.05)

    def _store(self, ctx: TrialContext, cell: Cell, samples: Samples, path: str, batch_size: int, concurrency: int,
               repeat: int) -> None:
        def add(metric: str, value: Any, unit: str, **extra: Any) -> None:
            ctx.record.add(self.name, metric, value, unit, repeat=repeat, path=path, batch_size=batch_size,
                           concurrency=concurrency, **extra)

        ok = samples.ok
        answered = int(ok.sum())
        for metric, value in latency_summary(samples.latencies[ok]).items():
            add(metric, value, "ms", **({"thin": True} if thin(metric, answered) else {}))
        wall = sum(w.wall_s for w in cell.counted)
        add("requests", len(samples), "count")
        add("errors", int((~ok).sum()), "count")
        add("throughput_rps", answered / wall if wall else None, "requests/s")
        add("samples_per_s", answered * batch_size / wall if wall else None, "samples/s")
        add("windows", cell.windows, "count")
        add("stable", int(cell.stable), "bool", tolerance=ctx.trial.serve.stability_tolerance,
            stable_windows=ctx.trial.serve.stable_windows)
        for reason, count in samples.errors().items():
            add("errors_by_reason", count, "count", reason=reason)
        ctx.record.add_latencies("serve", path, samples, batch_size, concurrency, repeat=repeat)
