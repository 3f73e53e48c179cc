"""Latency statistics, pure functions. Percentiles interpolate linearly between samples, the same
definition as DuckDB's quantile_cont, so stored summaries can be recomputed in SQL from raw samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0, "p999_ms": 99.9}


def latency_summary(latencies_ms: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """p50/p90/p95/p99/p99.9, mean and max of the given latencies (ms); None for each when empty."""
    values = np.asarray(latencies_ms, dtype=np.float64)
    if values.size == 0:
        return {**{k: None for k in PERCENTILES}, "mean_ms": None, "max_ms": None}
    points = np.percentile(values, list(PERCENTILES.values()), method="linear")
    return {
        **{k: float(v) for k, v in zip(PERCENTILES, points)},
        "mean_ms": float(values.mean()),
        "max_ms": float(values.max()),
    }


def longest_gap(times: Sequence[float] | np.ndarray, start: float, end: float) -> float:
    """The longest interval in [start, end] with none of ``times`` in it (e.g. no successful answer)."""
    inside = np.sort(np.asarray([t for t in times if start <= t <= end], dtype=np.float64))
    edges = np.concatenate([[start], inside, [end]])
    return float(np.diff(edges).max()) if edges.size > 1 else 0.0
