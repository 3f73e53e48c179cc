"""Changing load for the open-loop client: a profile of steps and ramps, or a trace of send times replayed.

A profile's send times come from one arrival process run on the profile's *cumulative* rate (time rescaling): draw
arrivals at 1 request per unit on the axis Λ(t) = ∫ rate, then map each back through Λ⁻¹. A Poisson draw becomes an
inhomogeneous Poisson process with exactly the profile's rate at every moment, and a uniform or gamma draw keeps its
regularity or burstiness while the rate changes — one method for every arrival the steady sweep offers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from raylife.clients.open_loop import schedule
from raylife.suite.spec import ProfileStep

GRID_S = 0.001  # Λ is tabulated on this grid: send times are exact to well under the client's own lateness


@dataclass(frozen=True)
class LoadChange:
    """Where a profile's rate changes: the step that starts at ``at_s`` (seconds from the load's start)."""

    index: int
    at_s: float
    from_rps: float
    to_rps: float
    until_s: float  # the next change, or the profile's end

    @property
    def direction(self) -> str:
        return "up" if self.to_rps > self.from_rps else "down" if self.to_rps < self.from_rps else "same"


def profile_length_s(steps: Sequence[ProfileStep]) -> float:
    return float(sum(step.s for step in steps))


def profile_rate(steps: Sequence[ProfileStep], t: np.ndarray) -> np.ndarray:
    """The offered rate at times ``t`` (seconds from the start); 0 past the end."""
    rate = np.zeros_like(t, dtype=np.float64)
    start, before = 0.0, 0.0
    for step in steps:
        inside = (t >= start) & (t < start + step.s)
        if step.ramp:
            rate[inside] = before + (step.rps - before) * (t[inside] - start) / step.s
        else:
            rate[inside] = step.rps
        start, before = start + step.s, step.rps
    return rate


def profile_schedule(steps: Sequence[ProfileStep], arrival: str = "poisson", burstiness: float = 1.0,
                     seed: int = 0) -> np.ndarray:
    """Send times (s from the start) following the profile's rate (see the module)."""
    length = profile_length_s(steps)
    grid = np.arange(0.0, length + GRID_S, GRID_S)
    rate = profile_rate(steps, grid)
    cumulative = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(grid))])
    total = float(cumulative[-1])
    if total <= 0:
        return np.zeros(0)
    units = schedule(1.0, total, arrival, burstiness, seed=seed)
    # Λ is flat where the rate is 0: np.interp on the strictly increasing part maps each unit into the busy stretch
    keep = np.concatenate([[True], np.diff(cumulative) > 0])
    times = np.interp(units, cumulative[keep], grid[keep])
    return times[times < length]


def profile_changes(steps: Sequence[ProfileStep]) -> list[LoadChange]:
    """Every step after the first whose rate differs from the one before (a ramp changes where it starts)."""
    changes: list[LoadChange] = []
    starts = np.concatenate([[0.0], np.cumsum([step.s for step in steps])])
    length = float(starts[-1])
    for i, step in enumerate(steps[1:], start=1):
        if step.rps != steps[i - 1].rps:
            changes.append(LoadChange(len(changes), float(starts[i]), steps[i - 1].rps, step.rps, 0.0))
    return [LoadChange(c.index, c.at_s, c.from_rps, c.to_rps,
                       changes[c.index + 1].at_s if c.index + 1 < len(changes) else length) for c in changes]


@dataclass(frozen=True)
class Trace:
    """Send times from a file, and each request's batch size where the file gives one."""

    times: np.ndarray
    batch_sizes: np.ndarray | None

    @property
    def length_s(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0


class TraceError(ValueError):
    """A trace file that cannot be replayed; the message names the file and the line."""


MAX_TRACE_REQUESTS = 10_000_000


def read_trace(path: str | Path) -> Trace:
    """A CSV of send times in seconds (first column) and optionally batch sizes (second column); a first line that
    is not a number is a header. Times must start at 0 or later and never go back."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"trace file not found: {path}")
    times: list[float] = []
    sizes: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            try:
                t = float(row[0])
            except ValueError:
                if number == 1 and not times:
                    continue  # a header
                raise TraceError(f"{path}, line {number}: send time {row[0]!r} is not a number") from None
            if not math.isfinite(t) or t < 0:
                raise TraceError(f"{path}, line {number}: send time {row[0]} is negative or not finite")
            if times and t < times[-1]:
                raise TraceError(f"{path}, line {number}: send time {t:g} comes before the line above's "
                                 f"{times[-1]:g}; sort the file by time")
            times.append(t)
            if len(row) > 1 and row[1].strip():
                try:
                    size = int(row[1])
                except ValueError:
                    raise TraceError(f"{path}, line {number}: batch size {row[1]!r} is not a whole number") from None
                if not 1 <= size <= 65_536:
                    raise TraceError(f"{path}, line {number}: batch size {size} is outside 1 .. 65536")
                sizes.append(size)
            elif sizes:
                raise TraceError(f"{path}, line {number}: no batch size, where the lines above give one")
            if len(times) > MAX_TRACE_REQUESTS:
                raise TraceError(f"{path}: more than {MAX_TRACE_REQUESTS:,} requests")
    if not times:
        raise TraceError(f"{path}: no send times (one per line, in seconds)")
    if sizes and len(sizes) != len(times):
        raise TraceError(f"{path}: some lines give a batch size and some do not")
    return Trace(np.asarray(times), np.asarray(sizes) if sizes else None)
