"""Two runs side by side, metric by metric: the medians, the change, and whether it is beyond noise.

Beyond noise: with repeats on both sides (n >= 2), when the two 95% intervals do not overlap; without them, a
change of at least ``threshold`` (10% by default, TorchBench's rule). A change beyond noise is a regression or an
improvement by the metric's direction (``measure.metrics.direction``); metrics with no better side (context such
as host load, facts such as the baseline accuracy) are reported as changed, never as regressions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from raylife.errors import StoreError
from raylife.measure.metrics import direction

DEFAULT_THRESHOLD = 0.10
MATCHES = ("name", "model")
# Context of a measurement, not a measurement of the trial: shown, never judged.
CONTEXT = {"host_load_1m", "host_busy_pct", "host_steal_pct", "host_other_pct", "trials_beside"}


@dataclass(frozen=True)
class Side:
    n: int
    median: float | None
    low: float | None  # 95% interval of the mean (None with one value)
    high: float | None


@dataclass(frozen=True)
class Change:
    trial: str
    stage: str
    metric: str
    labels: str
    unit: str
    a: Side
    b: Side
    change: float | None  # b / a - 1
    rule: str  # "intervals" | "threshold"
    beyond_noise: bool
    verdict: str  # regression | improvement | changed | same


@dataclass(frozen=True)
class Comparison:
    changes: list[Change]
    only_a: int
    only_b: int

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "regression"]

    def count(self, verdict: str) -> int:
        return sum(c.verdict == verdict for c in self.changes)


def _key(row: dict[str, Any], match: str) -> tuple[Any, ...]:
    labels = row["labels"] if isinstance(row["labels"], str) else json.dumps(row["labels"], sort_keys=True)
    labels = json.dumps(json.loads(labels or "{}"), sort_keys=True)
    trial = row["trial"] if match == "name" else f"{row['model']}/{row['framework']}/w{row['num_workers']}"
    return trial, row["stage"], row["metric"], labels


def _side(row: dict[str, Any]) -> Side:
    return Side(int(row["n"]), row["median"], row["ci95_low"], row["ci95_high"])


def judge(a: Side, b: Side, metric: str, unit: str, threshold: float = DEFAULT_THRESHOLD) -> tuple[float | None, str, bool, str]:
    """(change, rule, beyond noise, verdict) for one metric's two sides."""
    if a.median is None or b.median is None:
        return None, "threshold", False, "same"
    change = (b.median / a.median - 1) if a.median != 0 else (0.0 if b.median == 0 else math.inf)
    if a.n >= 2 and b.n >= 2 and None not in (a.low, a.high, b.low, b.high):
        rule, beyond = "intervals", bool(b.low > a.high or b.high < a.low)
        # Deterministic values have zero-width intervals: a float's last digit is not a change.
        beyond = beyond and abs(change) > 1e-9
    else:
        rule, beyond = "threshold", abs(change) >= threshold
    if not beyond:
        return change, rule, False, "same"
    better = 0 if metric in CONTEXT else direction(metric, unit)
    if better == 0:
        return change, rule, True, "changed"
    worse = (b.median > a.median) if better < 0 else (b.median < a.median)
    return change, rule, True, "regression" if worse else "improvement"


def compare(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]], *, match: str = "name",
            threshold: float = DEFAULT_THRESHOLD) -> Comparison:
    """Rows of the ``metric_stats`` view for run A and run B, matched by trial (name, or model/framework/workers)."""
    if match not in MATCHES:
        raise StoreError(f"--match {match!r} is not one of {', '.join(MATCHES)}")
    index_a, index_b = {}, {}
    for rows, index, which in ((rows_a, index_a, "A"), (rows_b, index_b, "B")):
        for row in rows:
            key = _key(row, match)
            if key in index and index[key]["trial"] != row["trial"]:
                raise StoreError(
                    f"run {which} has two trials that both match {key[0]!r} with --match {match}: "
                    f"{index[key]['trial']!r} and {row['trial']!r}",
                    hint="compare with --match name, or narrow with --trial")
            index[key] = row
    common = [k for k in index_a if k in index_b]
    changes = []
    for key in common:
        a, b = index_a[key], index_b[key]
        sa, sb = _side(a), _side(b)
        change, rule, beyond, verdict = judge(sa, sb, a["metric"], a["unit"], threshold)
        labels = " ".join(f"{k}={v}" for k, v in json.loads(key[3]).items())
        changes.append(Change(b["trial"], a["stage"], a["metric"], labels, a["unit"], sa, sb, change, rule, beyond, verdict))
    return Comparison(changes, only_a=len(index_a) - len(common), only_b=len(index_b) - len(common))
