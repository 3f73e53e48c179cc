"""Which trials meet every limit: ``--max p99_ms=20ms --max bytes=50MB --min accuracy=0.95 --by usd_per_million_predictions``.

Candidates are the trials of the given runs (repeats folded into their median), with every column of the
``lifecycle`` and ``costs`` views. A limit names a column (or a short alias) and a value with a unit of the
column's kind; it is converted to the column's unit, so ``p99_ms=0.02s`` and ``p99_ms=20`` are the same limit.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Any

from raylife.decide.pareto import front
from raylife.measure.limits import ALIASES, COLUMNS, Limit, better, parse_limit, resolve_column

__all__ = ["ALIASES", "COLUMNS", "Candidate", "Limit", "better", "choose", "fold", "parse_limit", "resolve_column"]

@dataclass(frozen=True)
class Candidate:
    run_id: str
    trial: str
    framework: str
    repeats: int
    values: dict[str, float | None]
    broken: tuple[str, ...]  # "p99_ms_small 35.2 > 20"
    pareto: bool = False


def fold(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, int, dict[str, float | None]]]:
    """Lifecycle+costs rows → one per (run, trial): the median of each column over the trial's repeats."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["run_id"], row["trial"]), []).append(row)
    out = []
    for (run_id, trial), members in groups.items():
        values = {}
        for column in COLUMNS:
            present = [m[column] for m in members if m.get(column) is not None and not (
                isinstance(m[column], float) and math.isnan(m[column]))]
            values[column] = float(statistics.median(present)) if present else None
        out.append((run_id, trial, members[0]["framework"], len(members), values))
    return out


def choose(rows: list[dict[str, Any]], limits: list[Limit], by: str | None) -> tuple[list[Candidate], list[Candidate], list[str]]:
    """(trials meeting every limit, ranked by ``by`` with Pareto flags over the named columns; the rest with the
    limits each broke; the named columns)."""
    named = list(dict.fromkeys([*(l.column for l in limits), *([by] if by else [])]))
    passing, failing = [], []
    for run_id, trial, framework, repeats, values in fold(rows):
        broken = []
        for limit in limits:
            v = values[limit.column]
            if not limit.met_by(v):
                sign = "<" if limit.bound == "min" else ">"
                broken.append(f"{limit.column} not measured" if v is None else
                              f"{limit.column} {v:.4g} {sign} {limit.value:.4g} {COLUMNS[limit.column][0]}")
        candidate = Candidate(run_id, trial, framework, repeats, values, tuple(broken))
        (failing if broken else passing).append(candidate)
    if by:
        sign = better(by)
        passing.sort(key=lambda c: (c.values[by] is None, -sign * (c.values[by] or 0.0)))
    on_front = front([c.values for c in passing], {c: better(c) for c in named})
    passing = [replace(c, pareto=i in on_front) for i, c in enumerate(passing)]
    return passing, failing, named
