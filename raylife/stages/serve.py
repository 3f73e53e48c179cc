"""serve: closed-loop load for every batch size x concurrency, through HTTP (and a DeploymentHandle)."""

from __future__ import annotations

from typing import Any

from raylife.measure.http_client import JsonClient
from raylife.measure.loadgen import closed_loop
from raylife.measure.stats import latency_summary
from raylife.stages import serve_control as sc
from raylife.stages.context import TrialContext
from raylife.stages.requests import RequestSet, accuracy_pair, handle_sender, http_sender


def _sender(path: str, requests: RequestSet, ctx: TrialContext) -> tuple[Any, Any]:
    deployment, spec = ctx.artifacts["deployment"], ctx.trial.serve
    if path == "http":
        client = JsonClient(deployment.url, spec.request_timeout_s)
        return http_sender(requests, client), client.close
    from ray import serve

    handle = serve.get_app_handle(deployment.app)
    return handle_sender(requests, handle, spec.request_timeout_s), lambda: None


class ServeStage:
    name = "serve"

    def run(self, ctx: TrialContext) -> None:
        spec, data = ctx.trial.serve, ctx.artifacts["serving_data"]
        add = ctx.record.add
        for path in spec.paths:
            served = offline = total = 0
            for batch_size in spec.batch_sizes:
                requests = RequestSet(data["x"], data["y"], data["offline_pred"], batch_size)
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
        try:
            stats = sc.replica_stats(ctx.artifacts["deployment"].app, spec.replicas, timeout_s=10)
            add(self.name, "replica_peak_rss_mb", max(s["peak_rss_mb"] for s in stats.values()), "MiB")
        except Exception as exc:  # noqa: BLE001 - a replica lost during the load is already in the errors
            add(self.name, "replica_peak_rss_mb", None, "MiB", error=str(exc)[:200])
