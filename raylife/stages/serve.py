"""serve: closed-loop load for every batch size x concurrency, through HTTP (and a DeploymentHandle)."""

from __future__ import annotations

from typing import Any

from raylife.measure.http_client import JsonClient
from raylife.measure.loadgen import closed_loop
from raylife.measure.metrics import unit_of
from raylife.measure.stats import latency_summary
from raylife.measure.requests import RequestSet, accuracy_pair, handle_sender, http_sender
from raylife.stages.context import TrialContext
from raylife.stages.faults import ReplicaKiller


def _sender(path: str, requests: RequestSet, ctx: TrialContext) -> tuple[Any, Any]:
    app, spec = ctx.artifacts.need("app"), ctx.trial.serve
    if path == "http":
        client = JsonClient(app.url, spec.request_timeout_s)
        return http_sender(requests, client), client.close
    return handle_sender(requests, app.handle(), spec.request_timeout_s), lambda: None


class ServeStage:
    name = "serve"

    def run(self, ctx: TrialContext) -> None:
        spec, data = ctx.trial.serve, ctx.artifacts.need("serving_data")
        add = ctx.record.add
        faults, killer, loads = ctx.trial.faults, None, []
        if faults is not None and faults.kill_replica_after_s is not None:
            killer = ReplicaKiller(ctx.artifacts.need("app"), spec.replicas, faults.kill_replica_after_s,
                                   timeout_s=spec.ready_timeout_s).start()
        for path in spec.paths:
            served = offline = total = 0
            for batch_size in spec.batch_sizes:
                requests = RequestSet(data.x, data.y, data.offline_pred, batch_size)
                for concurrency in spec.concurrency:
                    ctx.on_progress(f"{path} · batch {batch_size} · {concurrency} client{'s' if concurrency > 1 else ''}")
                    send, close = _sender(path, requests, ctx)
                    try:
                        samples = closed_loop(
                            send, concurrency, requests=None if spec.duration_s else spec.requests,
                            duration_s=spec.duration_s, warmup=spec.warmup_requests,
                        )
                    finally:
                        close()
                    loads.append(samples)
                    ok = samples.ok
                    labels = {"path": path, "batch_size": batch_size, "concurrency": concurrency}
                    for metric, value in latency_summary(samples.latencies[ok]).items():
                        add(self.name, metric, value, "ms", **labels)
                    wall = samples.wall_s
                    add(self.name, "requests", len(samples), "count", **labels)
                    add(self.name, "errors", int((~ok).sum()), "count", **labels)
                    add(self.name, "throughput_rps", ok.sum() / wall if wall else None, "requests/s", **labels)
                    add(self.name, "samples_per_s", ok.sum() * batch_size / wall if wall else None, "samples/s", **labels)
                    for reason, count in samples.errors().items():
                        add(self.name, "errors_by_reason", count, "count", reason=reason, **labels)
                    ctx.record.add_latencies("serve", path, samples, batch_size, concurrency)
                    s, o, n = accuracy_pair(samples, requests)
                    served, offline, total = served + s, offline + o, total + n
            add(self.name, "served_accuracy", served / total if total else None, "ratio", path=path)
            add(self.name, "offline_accuracy", offline / total if total else None, "ratio", path=path,
                note="the served format's offline predictions of the same inputs")
        if killer is not None:
            killer.join()
            for metric, value in killer.recovery(loads).items():
                add(self.name, metric, value, unit_of(self.name, metric), after_s=faults.kill_replica_after_s, **({"error": killer.error} if killer.error else {}))
        try:
            stats = ctx.artifacts.need("app").replica_stats(spec.replicas, timeout_s=10)
            add(self.name, "replica_peak_rss_mb", max(s["peak_rss_mb"] for s in stats.values()), "MiB")
        except Exception as exc:  # noqa: BLE001 - a replica lost during the load is already in the errors
            add(self.name, "replica_peak_rss_mb", None, "MiB", error=str(exc)[:200])
