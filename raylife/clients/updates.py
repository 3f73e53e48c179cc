"""What a live update cost the clients, from the raw samples of the open-loop client around it (no Ray)."""

from __future__ import annotations

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
