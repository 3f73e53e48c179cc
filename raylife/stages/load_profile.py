"""load, with ``[load] profile`` or ``trace``: one run of a changing load through the open-loop client, watching the
deployment's replicas meanwhile.

Stored: a per-second timeline (offered and achieved rate, p99, SLO misses, replicas running); for each change of a
profile's rate, what the deployment did (``scale_up_s`` to the first new replica's answer and to the count the policy
reached, ``scale_down_s``, SLO misses and failures meanwhile, each new replica's cold start in parts from its own
clocks); and the replica time paid (``replica_seconds``) — the same for an autoscaled deployment and a fixed one, so
the two compare under one load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from raylife.clients.open_loop import OpenLoopClient
from raylife.clients.profile import LoadChange, profile_changes, profile_length_s, profile_schedule, read_trace
from raylife.clients.requests import RequestSet
from raylife.clients.scaling import CountAt, ReplicaClock, cold_starts, replica_seconds, timeline, transitions
from raylife.measure.stats import latency_summary
from raylife.serving.messages import ReplicaStats
from raylife.serving.watch import ReplicaWatch
from raylife.stages.context import TrialContext

SETTLE_MAX_S = 120.0  # the longest an autoscaled deployment is given to return to its start before the profile


class MixedRequests:
    """Requests of several batch sizes (a trace's): one list of bodies, and which body and check each request uses."""

    def __init__(self, data: Any, sizes: np.ndarray) -> None:
        self.sizes = sizes
        self.sets = {int(b): RequestSet(data.x, data.y, data.offline_pred, int(b)) for b in np.unique(sizes)}
        self.bodies: list[bytes] = []
        self.offset: dict[int, int] = {}
        for size, requests in self.sets.items():
            self.offset[size] = len(self.bodies)
            self.bodies.extend(requests.bodies)

    def body(self, seq: int) -> int:
        size = int(self.sizes[seq])
        return self.offset[size] + self.sets[size].window(seq)

    def check(self, seq: int, answer: Any) -> Any:
        return self.sets[int(self.sizes[seq])].check(seq, answer)


def _clock(stats: ReplicaStats, t0_unix: float) -> ReplicaClock | None:
    if stats.started_unix is None or not stats.loads:
        return None
    load = stats.first_load
    load_end = load.at_unix - t0_unix
    return ReplicaClock(
        replica=stats.replica, started_s=stats.started_unix - t0_unix,
        load_start_s=load_end - load.load_s - (load.fetch_s or 0.0), load_end_s=load_end,
        ready_s=stats.started_unix + stats.init_s - t0_unix,
        first_answer_s=None if stats.first_answer_unix is None else stats.first_answer_unix - t0_unix,
    )


def _store_cold_starts(ctx: TrialContext, stage: str, starts: Any, **extra: Any) -> None:
    add = ctx.record.add
    for cold in starts:
        who = {"change": cold.change, "replica": cold.replica, **extra}
        add(stage, "cold_start_scheduling_s", cold.scheduling_s, "s", **who)
        add(stage, "cold_start_constructor_s", cold.constructor_s, "s", **who)
        add(stage, "cold_start_load_s", cold.load_s, "s", **who)
        add(stage, "cold_start_first_answer_s", cold.first_answer_s, "s", **who,
            **({} if cold.first_answer_s is not None else {"reason": "it had not answered when last read"}))


@dataclass(frozen=True)
class Arrivals:
    """A changing load's send times, its length, the profile's changes (none for a trace), each request's batch
    size, and the label that says where it came from."""

    times: np.ndarray
    length_s: float
    changes: list[LoadChange]
    sizes: np.ndarray
    source: dict[str, str]


def arrivals(ctx: TrialContext) -> Arrivals:
    spec = ctx.trial.load
    if spec.profile is not None:
        times = profile_schedule(spec.profile, spec.arrival, spec.burstiness, seed=ctx.trial.seed)
        return Arrivals(times, profile_length_s(spec.profile), profile_changes(spec.profile),
                        np.full(len(times), spec.batch_size), {"profile": "steps"})
    trace = read_trace(spec.trace)
    sizes = trace.batch_sizes if trace.batch_sizes is not None else np.full(len(trace.times), spec.batch_size)
    return Arrivals(trace.times, trace.length_s, [], sizes, {"trace": str(spec.trace)})


def run_changing_load(stage: str, ctx: TrialContext) -> None:
    spec, serve = ctx.trial.load, ctx.trial.serve
    data, app = ctx.artifacts.need("serving_data"), ctx.artifacts.need("app")
    load = arrivals(ctx)
    requests = MixedRequests(data, load.sizes)
    watch = ReplicaWatch(app)
    if serve.autoscaling is not None:
        _settle(ctx, stage, app, watch, load.source)
    ctx.on_progress(f"changing load · {len(load.times)} requests over {load.length_s:g} s"
                    + (f" · {len(load.changes)} changes" if load.changes else ""))
    client = OpenLoopClient(app.url, requests.bodies, requests.check, timeout_s=serve.request_timeout_s,
                            max_in_flight=spec.max_in_flight, body_index=requests.body)
    watch.start()
    try:
        result = client.run(load.times, duration_s=load.length_s)
    finally:
        watch.stop()
    t0_unix = client.t0 + (time.time() - time.perf_counter())
    counts = [CountAt(c.at_unix - t0_unix, c.running, c.starting, c.stopping) for c in watch.counts]
    clocks = [c for s in watch.stats.values() if (c := _clock(s, t0_unix)) is not None]
    _store_summary(ctx, stage, result, counts, load)
    if watch.errors:
        ctx.record.add(stage, "watch_errors", len(watch.errors), "count", first=watch.errors[0])
    samples = result.samples
    sent_s, latency, ok = np.asarray(samples.sent_s), samples.latencies, samples.ok
    for t in transitions(load.changes, counts, clocks, sent_s, latency, ok, spec.slo_p99_ms):
        _store_transition(ctx, stage, t)
    if spec.trace is not None:  # no steps to attribute them to: every replica started during the load
        _store_cold_starts(ctx, stage, cold_starts(counts, clocks), trace=str(spec.trace))
    sizes = load.sizes
    ctx.record.add_latencies("load-profile", "http", samples, int(sizes[0]) if len(set(sizes.tolist())) == 1 else None)


def _settle(ctx: TrialContext, stage: str, app: Any, watch: ReplicaWatch, source: dict[str, str]) -> None:
    """The closed-loop cells may have scaled the deployment up: the changing load starts from the start count."""
    scaling = ctx.trial.serve.autoscaling
    ctx.on_progress(f"waiting for {scaling.start_replicas} replicas (autoscaling settles after the cells)")
    window, waited = scaling.look_back_period_s or 30.0, time.perf_counter()
    settled = watch.wait_for(scaling.start_replicas, min(SETTLE_MAX_S, (scaling.downscale_delay_s or 600.0) + 15),
                             steady_s=min(10.0, max(2.0, 2 * window)))
    ctx.record.add(stage, "replicas_at_start", app.running_replicas(), "count", settled=settled,
                   waited_s=round(time.perf_counter() - waited, 2), **source)


def _store_summary(ctx: TrialContext, stage: str, result: Any, counts: list[CountAt], load: Arrivals) -> None:
    """The whole load's figures: sent, failed, SLO misses, percentiles, the client's schedule, replica-seconds paid."""
    spec, serve, add = ctx.trial.load, ctx.trial.serve, ctx.record.add
    samples, slo, length = result.samples, spec.slo_p99_ms, load.length_s
    sent_s, latency, ok = np.asarray(samples.sent_s), samples.latencies, samples.ok
    labels: dict[str, Any] = {"slo_p99_ms": slo, "arrival": spec.arrival, **load.source}
    ctx.record.add_timeline(stage, timeline(sent_s, latency, ok, counts, slo, length))
    summary = latency_summary(latency[ok])
    add(stage, "profile_s", length, "s", **labels)
    add(stage, "sent", len(samples), "count", **labels)
    add(stage, "errors", int((~ok).sum()), "count", **labels)
    add(stage, "slo_misses", int((ok & (latency > slo)).sum()), "count", **labels)
    add(stage, "p99_ms", summary["p99_ms"], "ms", **labels)
    add(stage, "p50_ms", summary["p50_ms"], "ms", **labels)
    add(stage, "send_lag_p99_ms", float(np.percentile(result.lag_ms, 99)) if result.lag_ms.size else None, "ms", **labels)
    add(stage, "behind_schedule", int(result.behind), "bool", **labels)
    scaling = serve.autoscaling
    paid = replica_seconds(counts, 0.0, length)
    add(stage, "replica_seconds", paid, "s", **labels,
        **({"cpus_per_replica": serve.cpus_per_replica, "autoscaling": scaling.key if scaling else None,
            "replicas": None if scaling else serve.replicas,
            **({"gpus_per_replica": serve.gpus_per_replica} if ctx.trial.serve_device == "gpu" else {})}
           if paid is not None else {"reason": "no replica count was read"}))
    add(stage, "replicas_max", max((c.running for c in counts), default=None), "count", **labels)


def _store_transition(ctx: TrialContext, stage: str, t: Any) -> None:
    """One change of the offered rate: how long the replicas took to follow it, and what the requests met meanwhile."""
    add, slo, scaling = ctx.record.add, ctx.trial.load.slo_p99_ms, ctx.trial.serve.autoscaling
    change = {"change": t.change.index, "at_s": t.change.at_s, "from_rps": t.change.from_rps,
              "to_rps": t.change.to_rps, "replicas_before": t.replicas_before, "replicas_after": t.replicas_after}
    unmoved = {} if t.settled_s is not None else {"reason": "the replica count did not change before the next "
                                                            "change" if scaling else "fixed replicas"}
    if t.change.direction == "up":
        add(stage, "scale_up_s", t.settled_s, "s", **change, **unmoved)
        add(stage, "scale_up_first_s", t.first_new_s, "s", **change,
            **({} if t.first_new_s is not None else {"reason": "no new replica answered before the next change"}))
    elif t.change.direction == "down":
        add(stage, "scale_down_s", t.settled_s, "s", **change, **unmoved)
    add(stage, "scale_decision_s", t.decision_s, "s", **change, **unmoved)
    window = {**change, "window_end_s": round(t.window_end_s, 3), "slo_p99_ms": slo}
    add(stage, "transition_sent", t.sent, "count", **window)
    add(stage, "transition_slo_misses", t.slo_misses, "count", **window)
    add(stage, "transition_failed", t.failed, "count", **window)
    _store_cold_starts(ctx, stage, t.cold_starts)
