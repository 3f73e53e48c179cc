"""What a trial produces, as plain data: stages fill a TrialRecord, the driver hands it to the store.

Ray workers never open the database (DuckDB has one writer); everything they measure comes back as
these records and is written by the driver in one transaction per trial.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from raylife.frameworks.contract import EpochRecord
from raylife.measure.environment import Fingerprint
from raylife.measure.metrics import check as check_metric
from raylife.plan import Trial


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Measurement:
    stage: str
    metric: str
    value: float | None
    unit: str
    labels: dict[str, Any] = field(default_factory=dict)
    repeat: int = 0  # which repeat of a stage's own measurement ([serve] repeats); trials' repeats are on the trial


@dataclass(frozen=True)
class Placement:
    """Where one process of the trial ran: a training worker (by rank) or a serving replica."""

    stage: str
    role: str  # train_worker | replica
    rank: int | None
    node_id: str | None
    environment: Fingerprint | None  # None where the process could not say (its probe never came back)


@dataclass(frozen=True)
class LatencyBatch:
    """Every request of one measurement (a serve cell, a load window, an update window), column by column, as the
    ``latencies`` table holds them."""

    phase: str
    path: str
    batch_size: int | None
    concurrency: int | None
    offered_rps: float | None
    seq: list[int]
    sent_s: list[float]
    latency_ms: list[float]
    ok: list[bool]
    error: list[str | None]
    version: list[str | None]
    replica: list[str | None]
    repeat: int = 0
    config: str | None = None


@dataclass(frozen=True)
class TokenRequest:
    """One streamed request to a decoder, as the ``token_requests`` table holds it (times in ms from the client)."""

    phase: str  # serve: closed-loop streams; open-loop: arrivals at an offered rate
    concurrency: int | None
    seq: int
    sent_s: float  # since the cell started (open loop: when it was due)
    input_tokens: int
    output_tokens: int
    ttft_ms: float | None
    tpot_ms: float | None
    e2e_ms: float
    itl_ms: list[float]  # every gap between two tokens of the stream
    ok: bool
    error: str | None
    version: str | None
    replica: str | None
    repeat: int = 0
    config: str | None = None
    offered_rps: float | None = None  # open loop


@dataclass(frozen=True)
class TimelineRow:
    """One second of a changing load (``clients.scaling.Second``), with the stage and serving configuration."""

    stage: str
    config: str | None
    second: Any  # clients.scaling.Second

    def columns(self) -> dict[str, Any]:
        return {"stage": self.stage, "config": self.config, **asdict(self.second)}


@dataclass
class TrialRecord:
    run_id: str
    trial: Trial
    status: str = "running"  # running → ok | failed
    error: str | None = None
    traceback: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    environment: Fingerprint | None = None
    measurements: list[Measurement] = field(default_factory=list)
    epochs: list[tuple[str, EpochRecord]] = field(default_factory=list)  # (phase, epoch)
    latencies: list[LatencyBatch] = field(default_factory=list)  # raw request samples, one batch per measurement
    token_requests: list[TokenRequest] = field(default_factory=list)  # a decoder's streams, one row each
    timeline: list[TimelineRow] = field(default_factory=list)  # a changing load's seconds, one row each
    placements: list[Placement] = field(default_factory=list)
    # labels every measurement gets while they are set: the serving configuration being measured
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def trial_id(self) -> str:
        return f"{self.run_id}-{self.trial.index:03d}"

    def add(self, stage: str, metric: str, value: float | None, unit: str, *, repeat: int = 0, **labels: Any) -> None:
        """Record one measurement; NaN/inf become NULL (a number we did not get is not a number).

        The metric must be in the catalogue with this unit (``raylife.measure.metrics``): a typo or a wrong unit
        is a bug that must fail loudly, not a new column nobody documents. A quality metric of a trial on random
        inputs is dropped here, whichever stage measured it: a 0.0 accuracy there would read as a measured one."""
        if check_metric(stage, metric, unit).quality and not self.trial.measures_quality:
            return
        if value is not None:
            value = float(value)
            if not math.isfinite(value):
                value = None
        self.measurements.append(Measurement(stage, metric, value, unit, {**self.context, **labels}, repeat))

    def add_placement(
        self, stage: str, role: str, rank: int | None, node_id: str | None, environment: Fingerprint | None
    ) -> None:
        self.placements.append(Placement(stage, role, rank, node_id, environment))
        if self.environment is None and role == "train_worker" and rank == 0:
            self.environment = environment  # the trial's machine is where its rank-0 worker trained

    def value(self, stage: str, metric: str, **labels: Any) -> float | None:
        for m in self.measurements:
            if m.stage == stage and m.metric == metric and all(m.labels.get(k) == v for k, v in labels.items()):
                return m.value
        return None

    def add_latencies(
        self,
        phase: str,
        path: str,
        samples: Any,
        batch_size: int,
        concurrency: int | None = None,
        offered_rps: float | None = None,
        repeat: int = 0,
    ) -> None:
        """Keep every request of a measurement (a ``measure.loadgen.Samples``) for the ``latencies`` table."""
        self.latencies.append(LatencyBatch(
            phase=phase, path=path, batch_size=batch_size, concurrency=concurrency, offered_rps=offered_rps,
            seq=list(samples.seq), sent_s=list(samples.sent_s), latency_ms=list(samples.latency_ms),
            ok=[o.ok for o in samples.outcomes], error=[o.error for o in samples.outcomes],
            version=[o.version for o in samples.outcomes], replica=[o.replica for o in samples.outcomes],
            repeat=repeat, config=self.context.get("config"),
        ))

    def add_timeline(self, stage: str, seconds: Iterable[Any]) -> None:
        """A changing load's per-second series (``measure.scaling.Second`` rows) for the ``timeline`` table."""
        config = self.context.get("config")
        for row in seconds:
            self.timeline.append(TimelineRow(stage, config, row))

    def add_epochs(self, phase: str, epochs: Iterable[EpochRecord]) -> None:
        self.epochs.extend((phase, e) for e in epochs)
