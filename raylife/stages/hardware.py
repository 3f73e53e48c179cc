"""Energy and GPU counters of the stages that do not train: read by the trial's actor (evaluate) and by the Serve
replicas (serve, load, update), stored under the stage's prefix. A figure the hardware did not give is stored as
NULL — the reason is the trial's one ``telemetry_unavailable`` row — never as a zero."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raylife.measure.telemetry import Mark, Reading, between
from raylife.serving.messages import ReplicaStats
from raylife.stages.context import TrialContext

PREFIX = {"evaluate": "eval", "serve": "serve", "load": "load", "update": "update"}


def record_reading(ctx: TrialContext, stage: str, reading: Reading, gpu: bool, **labels: Any) -> None:
    add, prefix = ctx.record.add, PREFIX[stage]
    add(stage, f"{prefix}_cpu_energy_j", reading.cpu_energy_j, "J", **labels)
    if gpu:
        add(stage, f"{prefix}_gpu_energy_j", reading.gpu_energy_j, "J", **labels)
        add(stage, f"{prefix}_gpu_util_pct", reading.gpu_util_mean_pct, "%", **labels)
        add(stage, f"{prefix}_gpu_power_w", reading.gpu_power_mean_w, "W", **labels)
        add(stage, f"{prefix}_gpu_mem_peak_mb", reading.gpu_mem_peak_mb, "MiB", **labels)


def replica_marks(stats: dict[str, ReplicaStats]) -> dict[str, Mark]:
    return {replica: s.meter for replica, s in stats.items() if s.meter is not None}


class ReplicaMeter:
    """Marks of every replica at a stage's start, and at its end the reading between (``stop``).

    ``stats`` reads the replicas (``ServeApp.replica_stats``); a replica that cannot be read at the start leaves the
    stage without a reading rather than failing it.
    """

    def __init__(self, stats: Callable[[], dict[str, ReplicaStats]]) -> None:
        self.stats = stats
        try:
            self.before: dict[str, Mark] | None = replica_marks(stats())
        except Exception:  # noqa: BLE001 - the stage measures latency; its energy is secondary
            self.before = None

    def stop(self, ctx: TrialContext, stage: str, gpu: bool, after: dict[str, ReplicaStats] | None = None,
             **labels: Any) -> dict[str, ReplicaStats] | None:
        """Record the stage's reading; returns the end's stats (for callers that need them too)."""
        if self.before is None:
            return None
        try:
            after = after if after is not None else self.stats()
        except Exception:  # noqa: BLE001 - a replica lost during the stage is already in its errors
            return None
        record_reading(ctx, stage, between(self.before, replica_marks(after)), gpu, **labels)
        return after
