"""How busy the driver's machine was while a stage ran, so a noisy number carries its context.

Read from what Linux tells (``/proc/stat``, ``os.getloadavg``) and psutil (which Ray ships) for raylife's own
process tree: the driver and every descendant (Ray's processes on this machine, Train workers and Serve replicas
among them), counting the CPU time of descendants already reaped through their parents' ``children_*`` times.
Where the OS does not tell (no ``/proc/stat``: macOS, Windows), nothing is stored and the reason is given.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuTimes:
    total: float  # seconds of all CPUs, every state
    idle: float  # idle + iowait
    steal: float  # taken by the hypervisor for other guests
    own: float  # CPU seconds of raylife's process tree
    at: float


def _tree_cpu_s() -> float:
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def read() -> CpuTimes | None:
    try:
        fields = PROC_STAT.read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) / ticks for v in fields]
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
    total = sum(values[:8])
    return CpuTimes(total=total, idle=values[3] + values[4], steal=values[7] if len(values) > 7 else 0.0,
                    own=_tree_cpu_s(), at=time.monotonic())


@dataclass(frozen=True)
class HostLoad:
    load_avg_1m: float | None
    busy_pct: float | None  # all CPUs, every process
    steal_pct: float | None
    other_pct: float | None  # busy outside raylife's process tree (never below 0)
    missing: str | None = None


def between(start: CpuTimes | None, end: CpuTimes | None) -> HostLoad:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if start is None or end is None or end.total <= start.total:
        return HostLoad(load, None, None, None, missing="/proc/stat is not readable here (not Linux)")
    span = end.total - start.total
    busy = span - (end.idle - start.idle)
    own = end.own - start.own
    return HostLoad(
        load_avg_1m=load,
        busy_pct=100.0 * busy / span,
        steal_pct=100.0 * (end.steal - start.steal) / span,
        other_pct=100.0 * max(0.0, busy - own) / span,
    )
