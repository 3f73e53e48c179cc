"""Limits on stored metrics (``p99_ms=20ms``, ``bytes=50MiB``, ``accuracy=0.95``): which column a name means, its unit,
which way is better, and a limit written in any unit of the column's kind converted to the column's own. Pure: the
planner checks a serving search's constraints with it, ``choose`` applies it to stored runs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from raylife.errors import StoreError, close_matches
from raylife.measure.metrics import LIFECYCLE_COLUMNS, direction, unit_of

ALIASES = {
    "p50_ms": "p50_ms_small", "p99_ms": "p99_ms_small", "bytes": "native_bytes", "size": "native_bytes",
    "throughput_rps": "peak_throughput_rps", "samples_per_s": "peak_samples_per_s",
}

# Column → (unit, the catalogue metric that says which way is better).
COLUMNS: dict[str, tuple[str, str]] = {c.alias: (unit_of(c.stage, c.metric), c.metric) for c in LIFECYCLE_COLUMNS}
COLUMNS.update({
    "p50_ms_small": ("ms", "p50_ms"), "p99_ms_small": ("ms", "p99_ms"), "p50_ms_large": ("ms", "p50_ms"),
    "p99_ms_large": ("ms", "p99_ms"), "peak_throughput_rps": ("requests/s", "throughput_rps"),
    "peak_samples_per_s": ("samples/s", "samples_per_s"), "trial_wall_s": ("s", "stage_wall_s"),
    "train_usd": ("USD", "train_usd"), "retrain_usd": ("USD", "retrain_usd"), "deploy_usd": ("USD", "deploy_usd"),
    "evaluate_usd": ("USD", "evaluate_usd"), "persist_usd": ("USD", "persist_usd"),
    "usd_per_million_predictions": ("USD", "usd_per_million_predictions"), "reconfigure_usd": ("USD", "reconfigure_usd"),
    "rollout_usd": ("USD", "rollout_usd"), "train_kwh": ("kWh", "train_kwh"), "retrain_kwh": ("kWh", "retrain_kwh"),
    "eval_kwh": ("kWh", "eval_kwh"), "serve_kwh": ("kWh", "serve_kwh"),
})

_SIZES = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SECONDS = {"s": 1, "ms": 1e-3, "us": 1e-6, "min": 60, "h": 3600}
# For each column unit: the units a limit may be written in, as factors to the column's unit ("" = as stored).
UNITS: dict[str, dict[str, float]] = {
    "s": {"": 1, **_SECONDS},
    "ms": {"": 1, **{k: v * 1e3 for k, v in _SECONDS.items()}},
    "bytes": {"": 1, **_SIZES},
    "MiB": {"": 1, **{k: v / 2**20 for k, v in _SIZES.items()}},
    "ratio": {"": 1, "%": 0.01},
    "requests/s": {"": 1, "/s": 1, "rps": 1},
    "samples/s": {"": 1, "/s": 1},
    "USD": {"": 1, "usd": 1, "$": 1},
    "kWh": {"": 1, "kwh": 1, "wh": 1e-3, "j": 1 / 3.6e6},
}
KINDS = {"s": "a time", "ms": "a time", "bytes": "a size", "MiB": "a size", "ratio": "a fraction",
         "requests/s": "a rate", "samples/s": "a rate", "USD": "an amount of money", "kWh": "an energy"}
_QUANTITY = re.compile(r"^\s*(\$)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%/$]*)\s*$")


@dataclass(frozen=True)
class Limit:
    column: str
    bound: str  # max | min
    value: float  # in the column's unit
    text: str  # as the user wrote it

    def met_by(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return value <= self.value if self.bound == "max" else value >= self.value


def resolve_column(name: str, where: str) -> str:
    column = ALIASES.get(name, name)
    if column not in COLUMNS:
        names = sorted({*COLUMNS, *ALIASES})
        hint = close_matches(name, names)
        raise StoreError(f"unknown metric {name!r}", where=where,
                         hint=f"{hint + ' ' if hint else ''}metrics: {', '.join(names)}")
    return column


def parse_limit(text: str, bound: str) -> Limit:
    """``NAME=VALUE[UNIT]`` → a Limit in the column's own unit; a clear error for anything else."""
    where = f"--{bound} {text}"
    if "=" not in text:
        raise StoreError("a limit is NAME=VALUE", where=where, hint="e.g. --max p99_ms=20ms or --min accuracy=0.95")
    name, raw = (part.strip() for part in text.split("=", 1))
    column = resolve_column(name, where)
    unit = COLUMNS[column][0]
    found = _QUANTITY.match(raw)
    if not found:
        raise StoreError(f"{raw!r} is not a number with an optional unit", where=where,
                         hint=f"{name} is in {unit}, e.g. {name}=10{unit if unit in ('ms', 's') else ''}")
    dollar, number, suffix = found.groups()
    suffix = ("$" if dollar else "") + suffix
    table = UNITS.get(unit, {"": 1})
    factor = table.get(suffix) if suffix in table else table.get(suffix.lower())
    if factor is None:
        allowed = ", ".join(k for k in table if k) or "none: give a plain number"
        raise StoreError(f"unit {suffix!r} does not fit {name}, which is {KINDS.get(unit, unit)} ({unit})", where=where,
                         hint=f"units it takes: {allowed}")
    value = float(number) * factor
    if not math.isfinite(value):
        raise StoreError(f"{raw!r} is not a finite number", where=where)
    return Limit(column, bound, value, text)


def better(column: str) -> int:
    """+1 higher is better, -1 lower is better (columns with no better side count as lower: cheaper, smaller)."""
    unit, metric = COLUMNS[column]
    return direction(metric, unit) or -1
