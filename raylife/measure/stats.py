"""Latency statistics, pure functions. Percentiles interpolate linearly between samples, the same
definition as DuckDB's quantile_cont, so stored summaries can be recomputed in SQL from raw samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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


# A percentile rests on the samples beyond it: p99 of 60 requests is the largest answer but one, not a tail.
# Below these counts (ten samples at or beyond the percentile; p99 from fewer than 100, p99.9 from fewer than
# 1,000) a stored percentile carries the label thin = true and is shown as such, not as if exact.
MIN_SAMPLES = {"p90_ms": 10, "p95_ms": 20, "p99_ms": 100, "p999_ms": 1000}


def thin(metric: str, samples: int) -> bool:
    """Whether a percentile from ``samples`` values has too few behind it to be read as exact."""
    return samples < MIN_SAMPLES.get(metric, 0)


def t_quantile(df: int, level: float = 0.95) -> float:
    """Student's t quantile for a two-sided ``level`` interval with ``df`` degrees of freedom (SciPy)."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class Spread:
    """Repeated measurements of one metric: median, extremes and a 95% Student-t interval of the mean."""

    n: int
    median: float
    low: float  # min
    high: float  # max
    mean: float
    ci95_half: float | None  # None with one value: one run gives no interval
    ci95_low: float | None
    ci95_high: float | None


def spread(values: Sequence[float] | np.ndarray) -> Spread | None:
    """The summary the ``metric_stats`` view computes in SQL, in Python (for checks and tests)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return None
    half = None
    if v.size > 1:
        half = t_quantile(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    mean = float(v.mean())
    return Spread(
        n=int(v.size), median=float(np.median(v)), low=float(v.min()), high=float(v.max()), mean=mean,
        ci95_half=half, ci95_low=None if half is None else mean - half, ci95_high=None if half is None else mean + half,
    )


def windows_agree(values: Sequence[float | None], tolerance: float) -> bool:
    """perf_analyzer's stability rule: every value within ``tolerance`` (a fraction) of the values' mean."""
    if not values or any(v is None or not np.isfinite(v) for v in values):
        return False
    mean = float(np.mean(values))
    if mean == 0:
        return all(v == 0 for v in values)
    return all(abs(float(v) - mean) <= tolerance * abs(mean) for v in values)


# MLPerf Inference's early-stopping rule (loadgen/early_stopping.cc): a percentile meets its limit only when, were the
# true share of answers over the limit exactly 1 - percentile, seeing this few over it in this many answers would
# have a probability of at most 1 - confidence. p99 at 99%: 459 answers with none over, 662 with one; p90: 44.
TAIL_CONFIDENCE = 0.99
Verdict = str  # "met" | "broken" | "undecided"


@dataclass(frozen=True)
class TailVerdict:
    """Whether a latency percentile meets a limit, with the answers it rests on (``verdict`` is one of met, broken,
    undecided: too few answers to say met at ``confidence``, though the observed percentile is within)."""

    verdict: Verdict
    answers: int  # answered requests the percentile is taken over
    over: int  # of them, over the limit
    needed: int  # answers the rule asks for with ``over`` of them over the limit (met needs answers >= needed)
    errors: int = 0


def early_stopping_answers(percentile: float, over: int = 0, confidence: float = TAIL_CONFIDENCE) -> int:
    """The fewest answers with ``over`` of them over the limit that show the ``percentile`` (0.99 for p99) within it
    at ``confidence`` (SciPy's binomial CDF; the CDF falls as the count grows, so a bisection finds it)."""
    from scipy.stats import binom

    tail, alpha = 1.0 - percentile, 1.0 - confidence
    low, high = over + 1, max(over + 2, 16)
    while binom.cdf(over, high, tail) > alpha:
        low, high = high, high * 2
    while low < high:
        middle = (low + high) // 2
        if binom.cdf(over, middle, tail) <= alpha:
            high = middle
        else:
            low = middle + 1
    return low


def tail_verdict(latencies_ms: Sequence[float] | np.ndarray, errors: int, limit_ms: float, percentile: float = 0.99,
                 confidence: float = TAIL_CONFIDENCE) -> TailVerdict:
    """The early-stopping verdict on answered requests' latencies: ``broken`` by a failed request or an observed
    percentile over the limit, ``met`` when enough answers back it, else ``undecided``."""
    values = np.asarray(latencies_ms, dtype=np.float64)
    over = int((values > limit_ms).sum())
    needed = early_stopping_answers(percentile, over, confidence)
    if errors > 0 or values.size == 0 or float(np.percentile(values, 100 * percentile, method="linear")) > limit_ms:
        verdict = "broken"
    elif values.size >= needed:
        verdict = "met"
    else:
        verdict = "undecided"
    return TailVerdict(verdict, int(values.size), over, needed, errors)
