"""What a changing load did to a deployment: per-second timeline, scale-ups and -downs per load change, each new
replica's cold start, SLO misses while the replica count moved, and the replica time paid.

Pure functions of what was observed, on one clock (seconds from the load's start): the client's requests, Serve's
replica counts as the controller reported them (polled), and each replica's own clocks (constructor start, model
load, first answer). No Ray here: the tests feed them made-up observations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from raylife.clients.profile import LoadChange


@dataclass(frozen=True)
class CountAt:
    """Serve's replica counts at ``t_s``: running, and starting or stopping (both hold their resources)."""

    t_s: float
    running: int
    starting: int
    stopping: int

    @property
    def held(self) -> int:
        return self.running + self.starting + self.stopping


@dataclass(frozen=True)
class ReplicaClock:
    """One replica's cold start on the load's clock (its own clocks, shifted): constructor start, model loaded,
    constructor end, first answer (None until it answered)."""

    replica: str
    started_s: float
    load_start_s: float
    load_end_s: float
    ready_s: float
    first_answer_s: float | None


@dataclass(frozen=True)
class Second:
    """One second of the timeline."""

    second: int
    offered_rps: float  # requests scheduled in it
    achieved_rps: float  # successful answers that arrived in it
    p99_ms: float | None  # of the requests scheduled in it that were answered
    slo_misses: int  # scheduled in it and answered over the SLO or failed
    errors: int
    replicas_running: float | None  # the last count seen in it (None: no poll yet)
    replicas_starting: float | None


def timeline(sent_s: np.ndarray, latency_ms: np.ndarray, ok: np.ndarray, counts: Sequence[CountAt], slo_ms: float,
             length_s: float) -> list[Second]:
    seconds = max(1, math.ceil(length_s))
    done_s = sent_s + latency_ms / 1000.0
    rows = []
    count_t = np.array([c.t_s for c in counts])
    for k in range(seconds):
        sent = (sent_s >= k) & (sent_s < k + 1)
        answered = ok & (done_s >= k) & (done_s < k + 1)
        good = sent & ok
        late = sent & (~ok | (latency_ms > slo_ms))
        polled = np.nonzero(count_t < k + 1)[0]
        last = counts[polled[-1]] if polled.size else None
        rows.append(Second(
            second=k, offered_rps=float(sent.sum()), achieved_rps=float(answered.sum()),
            p99_ms=float(np.percentile(latency_ms[good], 99)) if good.any() else None,
            slo_misses=int(late.sum()), errors=int((sent & ~ok).sum()),
            replicas_running=float(last.running) if last else None,
            replicas_starting=float(last.starting) if last else None,
        ))
    return rows


def replica_seconds(counts: Sequence[CountAt], start_s: float, end_s: float) -> float | None:
    """Replica time held between ``start_s`` and ``end_s``: each poll's count until the next poll (a replica being
    started or stopped holds its CPUs too)."""
    if not counts:
        return None
    total = 0.0
    for here, after in zip(counts, [*counts[1:], None]):
        lo = max(here.t_s, start_s)
        hi = min(after.t_s if after else end_s, end_s)
        if hi > lo:
            total += here.held * (hi - lo)
    first = counts[0]
    if first.t_s > start_s:  # before the first poll: the first count held already
        total += first.held * (min(first.t_s, end_s) - start_s)
    return total


@dataclass(frozen=True)
class ColdStart:
    """One new replica's start, in parts: the controller's decision until its constructor ran (scheduling, actor
    start), the constructor until the model load (framework import, set-up), the load, and its first answer after
    its constructor (Serve marking it ready, routers learning of it, the request)."""

    replica: str
    change: int | None  # the profile's change it followed; None for a trace
    scheduling_s: float | None
    constructor_s: float
    load_s: float
    first_answer_s: float | None


@dataclass(frozen=True)
class Transition:
    """What one load change did."""

    change: LoadChange
    replicas_before: int | None
    replicas_after: int | None  # the count the policy reached before the next change
    decision_s: float | None  # the change until Serve began adding or removing replicas
    first_new_s: float | None  # up: the change until the first new replica answered
    settled_s: float | None  # the change until the count reached replicas_after (scale_up_s / scale_down_s)
    window_end_s: float  # SLO misses and failures are counted from the change to here
    sent: int
    slo_misses: int  # answered over the SLO
    failed: int
    cold_starts: tuple[ColdStart, ...]


def _count_at(counts: Sequence[CountAt], t: float) -> CountAt | None:
    before = [c for c in counts if c.t_s <= t]
    return before[-1] if before else (counts[0] if counts else None)


def _rises(counts: Sequence[CountAt]) -> list[float]:
    """When Serve was seen deciding to add replicas: polls whose running + starting count rose over the poll before."""
    return [here.t_s for prev, here in zip(counts, counts[1:]) if here.running + here.starting > prev.running + prev.starting]


def _decided(rises: list[float], started_s: float, slack_s: float) -> float | None:
    """The decision that started a replica: the last rise seen before its constructor began (a poll may see the
    replica as starting only after its constructor began: up to one poll interval, ``slack_s``)."""
    seen = [t for t in rises if t <= started_s + slack_s]
    return min(seen[-1], started_s) if seen else None


def _cold_start(r: ReplicaClock, change: int | None, rises: list[float], poll_s: float) -> ColdStart:
    decided = _decided(rises, r.started_s, poll_s)
    return ColdStart(
        replica=r.replica, change=change, scheduling_s=r.started_s - decided if decided is not None else None,
        constructor_s=r.load_start_s - r.started_s, load_s=r.load_end_s - r.load_start_s,
        first_answer_s=(r.first_answer_s - r.ready_s) if r.first_answer_s is not None else None,
    )


def cold_starts(counts: Sequence[CountAt], replicas: Sequence[ReplicaClock], poll_s: float = 0.25) -> list[ColdStart]:
    """Every replica started during the load, in parts (a trace has no steps to attribute them to)."""
    rises = _rises(counts)
    return [_cold_start(r, None, rises, poll_s) for r in replicas if r.started_s >= 0]


def transitions(changes: Sequence[LoadChange], counts: Sequence[CountAt], replicas: Sequence[ReplicaClock],
                sent_s: np.ndarray, latency_ms: np.ndarray, ok: np.ndarray, slo_ms: float,
                poll_s: float = 0.25) -> list[Transition]:
    """What each load change did. Up: the first poll after it whose running + starting count exceeds the one at the
    change is Serve's decision (a replica started before the change, on the load before it, is not this change's);
    down: the first poll whose running count is below the one at the change. Each new replica's scheduling counts
    from the decision that started it, whichever change that was."""
    rises = _rises(counts)
    out = []
    for change in changes:
        inside = [c for c in counts if change.at_s <= c.t_s < change.until_s]
        before = _count_at(counts, change.at_s)
        running_before = before.running if before else None
        if before is None:
            moved = []
        elif change.direction == "up":
            moved = [c for c in inside if c.running + c.starting > before.running + before.starting]
        else:
            moved = [c for c in inside if c.running < before.running]
        decision = moved[0].t_s - change.at_s if moved else None
        new = [r for r in replicas if change.at_s <= r.started_s < change.until_s]
        after, settled = running_before, None  # no poll inside: the count last seen held
        if inside and running_before is not None:
            target = (max if change.direction == "up" else min)(c.running for c in inside)
            if target != running_before:
                after = target
                settled = next(c.t_s for c in inside if c.running == target) - change.at_s
        answers = [r.first_answer_s for r in new if r.first_answer_s is not None]
        first_new = min(answers) - change.at_s if answers and change.direction == "up" else None
        end = change.at_s + settled if settled is not None else change.until_s
        window = (sent_s >= change.at_s) & (sent_s < end)
        cold = [_cold_start(r, change.index, rises, poll_s) for r in new]
        out.append(Transition(
            change=change, replicas_before=running_before, replicas_after=after, decision_s=decision,
            first_new_s=first_new, settled_s=settled, window_end_s=end, sent=int(window.sum()),
            slo_misses=int((window & ok & (latency_ms > slo_ms)).sum()), failed=int((window & ~ok).sum()),
            cold_starts=tuple(cold),
        ))
    return out
