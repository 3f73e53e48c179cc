"""Which trials meet every limit: ``--max p99_ms=20ms --max bytes=50MB --min accuracy=0.95 --by usd_per_million_predictions``.

Candidates are the trials of the given runs (repeats folded into their median), with every column of the
``lifecycle`` and ``costs`` views. A limit names a column (or a short alias) and a value with a unit of the
column's kind; it is converted to the column's unit, so ``p99_ms=0.02s`` and ``p99_ms=20`` are the same limit.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from collections.abc import Mapping
from typing import Any

from raylife.decide.pareto import front
from raylife.measure.limits import ALIASES, COLUMNS, Limit, better, parse_limit, resolve_column
from raylife.measure.stats import early_stopping_answers

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


# Percentile columns a --max limit is judged on by MLPerf's early-stopping rule, over the raw answers of their cell.
TAIL_COLUMNS = {"p50_ms_small": ("small", 0.50), "p99_ms_small": ("small", 0.99),
                "p50_ms_large": ("large", 0.50), "p99_ms_large": ("large", 0.99)}
Answers = Mapping[tuple[str, "str | None"], Mapping[str, tuple[list[float], int]]]


def fold(rows: list[dict[str, Any]], answers: Answers | None = None) -> list[Folded]:
    """Lifecycle+costs rows → one per (run, trial): the median of each column over the trial's repeats, and the raw
    answers of its cells pooled over them."""
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
        pooled: dict[str, tuple[list[float], int]] = {}
        for m in members:
            for cell, (latencies, failed) in (answers or {}).get((m.get("trial_id"), m.get("config")), {}).items():
                before = pooled.get(cell, ([], 0))
                pooled[cell] = (before[0] + list(latencies), before[1] + failed)
        out.append(Folded(run_id, trial, members[0]["framework"], len(members), values, pooled))
    return out


@dataclass(frozen=True)
class Folded:
    run_id: str
    trial: str
    framework: str
    repeats: int
    values: dict[str, float | None]
    answers: dict[str, tuple[list[float], int]]  # "small" / "large" cell → (answered latencies, failed)


def broken_by(limit: Limit, folded: Folded, judge_tails: bool) -> str | None:
    """Why the trial does not meet the limit, or None. A --max on a percentile that the stored figure meets is met
    only when enough raw answers back it at 99% confidence (MLPerf's early stopping, ``early_stopping_answers`` for
    as many of them over the limit): too few is 'undecided', never met."""
    v = folded.values[limit.column]
    unit = COLUMNS[limit.column][0]
    if not limit.met_by(v):
        sign = "<" if limit.bound == "min" else ">"
        return f"{limit.column} not measured" if v is None else f"{limit.column} {v:.4g} {sign} {limit.value:.4g} {unit}"
    if limit.column in TAIL_COLUMNS and limit.bound == "max" and judge_tails:
        cell, percentile = TAIL_COLUMNS[limit.column]
        if cell not in folded.answers:
            return f"{limit.column} undecided: no raw answers stored"
        latencies, _ = folded.answers[cell]
        over = sum(1 for x in latencies if x > limit.value)
        needed = early_stopping_answers(percentile, over)
        if len(latencies) < needed:
            return (f"{limit.column} undecided: {len(latencies)} answers ({over} over {limit.value:.4g} {unit}), "
                    f"{needed} needed at 99% confidence")
    return None


def choose(rows: list[dict[str, Any]], limits: list[Limit], by: str | None, answers: Answers | None = None,
           ) -> tuple[list[Candidate], list[Candidate], list[str]]:
    """(trials meeting every limit, ranked by ``by`` with Pareto flags over the named columns; the rest with the
    limits each broke; the named columns). With ``answers`` (``Store.tail_answers``), a limit on a percentile is
    judged on the raw answers by MLPerf's early-stopping rule."""
    named = list(dict.fromkeys([*(l.column for l in limits), *([by] if by else [])]))
    passing, failing = [], []
    for folded in fold(rows, answers):
        broken = tuple(b for limit in limits if (b := broken_by(limit, folded, answers is not None)) is not None)
        candidate = Candidate(folded.run_id, folded.trial, folded.framework, folded.repeats, folded.values, broken)
        (failing if broken else passing).append(candidate)
    if by:
        sign = better(by)
        passing.sort(key=lambda c: (c.values[by] is None, -sign * (c.values[by] or 0.0)))
    on_front = front([c.values for c in passing], {c: better(c) for c in named})
    passing = [replace(c, pareto=i in on_front) for i, c in enumerate(passing)]
    return passing, failing, named
