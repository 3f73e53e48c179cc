"""What a live update cost the clients, from the raw samples of the open-loop client around it (no Ray)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np

from raylife.clients.loadgen import Samples
from raylife.measure.stats import latency_summary, longest_gap


def update_metrics(samples: Samples, t_update: float, t_done: float, new_version: str) -> dict[str, Any]:
    """What the clients saw: before the update (baseline), during it [t_update, t_done], and after."""
    sent = np.asarray(samples.sent_s)
    done = sent + samples.latencies / 1000.0
    ok = samples.ok
    before, during, after_start = sent < t_update, (sent >= t_update) & (sent <= t_done), sent >= t_update
    outcomes = samples.outcomes
    replicas_before = {o.replica for o, b in zip(outcomes, before) if o.ok and b}
    replicas_after = {o.replica for o in outcomes if o.ok and o.version == new_version}
    return {
        "update_s": t_done - t_update,
        "failed_requests": int((~ok & after_start).sum()),
        "requests_during_update": int(during.sum()),
        "max_gap_s": longest_gap(done[ok], t_update, t_done),
        "p99_during_update_ms": latency_summary(samples.latencies[ok & during])["p99_ms"],
        "max_during_update_ms": latency_summary(samples.latencies[ok & during])["max_ms"],
        "p99_before_ms": latency_summary(samples.latencies[ok & before])["p99_ms"],
        "replicas_before": len(replicas_before),
        "replicas_after": len(replicas_after),
        "replicas_replaced": len(replicas_before - replicas_after),
    }


def failures_by_replica_state(samples: Samples, counts: Sequence[Any], t0_unix: float) -> dict[str, Any]:
    """Each failed request against what Serve's controller said of the replicas when it was sent (the last count read
    at or before its send time, ``serving.control.ReplicaCount``): how many were sent while a replica was stopping
    or starting, and for how long during the window some replica was stopping. A request that hangs on a stopping
    replica never answers, so its replica is unknown; the states it was sent into are what can be stored."""
    failed = [sent for sent, ok in zip(samples.sent_s, samples.ok) if not ok]
    at = [c.at_unix - t0_unix for c in counts]

    def state(sent_s: float) -> Any:
        i = bisect.bisect_right(at, sent_s) - 1
        return counts[i] if i >= 0 else None

    states = [state(s) for s in failed]
    stopping_s = sum(after - now for now, after, count in zip(at, at[1:], counts) if count.stopping)
    return {
        "failed_while_stopping": sum(1 for c in states if c is not None and c.stopping > 0),
        "failed_while_starting": sum(1 for c in states if c is not None and c.starting > 0),
        "replica_stopping_s": stopping_s if counts else None,  # no count read: not known, not zero
    }
