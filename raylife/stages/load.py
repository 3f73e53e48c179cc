"""load: open-loop load at rising offered rates until the service saturates; the highest rate within the SLO.

Per offered rate: achieved rate, p50/p99 (from the scheduled send time), errors, goodput (answers within
``slo_p99_ms`` per second) and whether the client kept its schedule. Per trial: ``max_rps_at_slo``, the highest
offered rate whose p99 stayed within the SLO with no failed request. A sweep stops at the first rate that
saturates (p99 over the SLO, achieved below 90% of offered, or any failed request); one that reaches its
``max`` unsaturated stores ``saturated = 0`` and its max_rps_at_slo as a lower bound (label ``bound``).

With ``confirm = N`` a rate whose window broke the SLO is measured again, up to N more windows on the same arrivals,
and the last window decides it: on a shared machine one pause in one 2-second window otherwise ends a sweep far below
what the service sustains, and the figure a search ranks configurations by becomes a lottery. Every window is stored;
those measured again carry ``retried = true`` (their raw requests phase ``load-retried``) and stay out of
``load_summary``.

With ``sweep.refine = K`` a sweep that saturated measures K more rates, each the geometric middle of the highest rate
kept and the lowest that broke: a sweep by 15% steps gives max_rps_at_slo to one step, and configurations within one
step of each other tie — refined twice, to 3.6%. ``saturation_rps`` is then the lowest rate that broke.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from raylife.clients.open_loop import Scheduled, run_schedule, schedule, sweep_rates
from raylife.clients.requests import RequestSet
from raylife.measure.stats import TailVerdict, latency_summary, tail_verdict, thin
from raylife.stages.context import TrialContext
from raylife.stages.hardware import ReplicaMeter

ACHIEVED_FLOOR = 0.9  # achieved below this fraction of offered: the service no longer keeps up


class LoadStage:
    name = "load"

    def run(self, ctx: TrialContext) -> None:
        spec, serve = ctx.trial.load, ctx.trial.serve
        if spec.changing:
            from raylife.stages.load_profile import run_changing_load

            run_changing_load(self.name, ctx)
            return
        data, app = ctx.artifacts.need("serving_data"), ctx.artifacts.need("app")
        requests = RequestSet(data.x, data.y, data.offline_pred, spec.batch_size)
        rates = spec.rates if spec.rates is not None else sweep_rates(spec.sweep.start, spec.sweep.factor, spec.sweep.max)
        within: list[float] = []
        undecided: list[float] = []  # rates whose p99 looked within the SLO on too few answers to say so
        answers: dict[float, int] = {}
        saturated_at: float | None = None
        meter = ReplicaMeter(lambda: app.replica_stats(timeout_s=10))
        steps = 0

        def measure(rate: float, note: str = "") -> RateWindows:
            nonlocal steps
            duration_s = spec.window_s(rate)
            times = schedule(rate, duration_s, spec.arrival, spec.burstiness, seed=ctx.trial.seed + steps)
            steps += 1

            def window(attempt: int) -> Scheduled:
                again = f" · again ({attempt + 1} of {1 + spec.confirm}): the last window broke the SLO" if attempt else ""
                ctx.on_progress(f"open loop · {rate:g} req/s offered ({spec.arrival}) · {duration_s:g} s{note}{again}")
                # the same arrivals again: what changes between the windows is the service, not the draw
                return run_schedule(app.url, requests.bodies, requests.check, times, timeout_s=serve.request_timeout_s,
                                    max_in_flight=spec.max_in_flight, duration_s=duration_s)

            measured = measure_rate(window, len(times), duration_s, spec.slo_p99_ms, spec.confirm)
            for attempt, result in enumerate(measured.windows, 1):
                # only the last window at a rate decides it; earlier ones stay stored, marked as measured again
                tried = ({} if len(measured.windows) == 1
                         else {"attempt": attempt, **({"retried": True} if attempt < len(measured.windows) else {})})
                self._store_rate(ctx, rate, result, duration_s, tried)
            if measured.within:
                within.append(rate)
                answers[rate] = measured.verdict.answers
            elif measured.verdict.verdict == "undecided":
                undecided.append(rate)
            return measured

        for rate in rates:
            if measure(rate).saturated:
                saturated_at = rate
                if spec.rates is None:
                    break  # a sweep climbs only until the service saturates
        if spec.rates is None and spec.sweep.refine and within and saturated_at is not None and saturated_at > max(within):
            _, saturated_at = refine_knee(max(within), saturated_at, spec.sweep.refine,
                                          lambda rate, i: measure(rate, f" · refining {i + 1} of {spec.sweep.refine}").saturated)
        labels: dict[str, Any] = {"slo_p99_ms": spec.slo_p99_ms, "arrival": spec.arrival, "batch_size": spec.batch_size}
        best = max(within, default=None)
        if best is None:
            labels["reason"] = ("no offered rate kept p99 within the SLO without failed requests" if not undecided else
                                f"too few answers at {', '.join(f'{r:g}' for r in undecided)} req/s for a p99 verdict at "
                                "99% confidence (MLPerf early stopping): raise load.max_duration_s")
        else:
            labels["answers"] = answers[best]
            if saturated_at is None or saturated_at < best:
                labels["bound"] = "lower"  # the service never saturated up to the highest rate offered
        add = ctx.record.add
        add(self.name, "max_rps_at_slo", best, "requests/s", **labels)
        add(self.name, "saturated", int(saturated_at is not None), "bool", **labels)
        add(self.name, "saturation_rps", saturated_at, "requests/s", **labels)
        meter.stop(ctx, self.name, ctx.trial.serve_device == "gpu")

    def _store_rate(self, ctx: TrialContext, rate: float, result: Scheduled, duration_s: float,
                    tried: dict[str, Any]) -> None:
        spec = ctx.trial.load
        samples = result.samples
        ok = samples.ok
        latencies = samples.latencies
        span = max(duration_s, samples.wall_s)
        answered = int(ok.sum())
        summary = latency_summary(latencies[ok])
        labels = {"offered_rps": rate, "arrival": spec.arrival, "batch_size": spec.batch_size, **tried}

        def add(metric: str, value: Any, unit: str, **extra: Any) -> None:
            ctx.record.add(self.name, metric, value, unit, **labels, **extra)

        achieved = answered / span
        add("achieved_rps", achieved, "requests/s")
        add("sent", len(samples), "count")
        add("errors", int((~ok).sum()), "count")
        for metric in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms"):
            add(metric, summary[metric], "ms", **({"thin": True} if thin(metric, answered) else {}))
        verdict = tail_verdict(latencies[ok], int((~ok).sum()), spec.slo_p99_ms)
        add("slo_answers", verdict.answers, "count", verdict=verdict.verdict, needed=verdict.needed, over=verdict.over,
            window_s=round(duration_s, 3))
        add("goodput_rps", int((ok & (latencies <= spec.slo_p99_ms)).sum()) / span, "requests/s",
            slo_p99_ms=spec.slo_p99_ms)
        add("send_lag_p99_ms", float(np.percentile(result.lag_ms, 99)) if result.lag_ms.size else None, "ms")
        add("behind_schedule", int(result.behind), "bool")
        ctx.record.add_latencies("load-retried" if tried.get("retried") else "load", "http", samples, spec.batch_size,
                                 offered_rps=rate)


def refine_knee(low: float, high: float, times: int, saturates: Callable[[float, int], bool]) -> tuple[float, float]:
    """Bisect (geometrically: rates are a ratio scale) between ``low``, a rate kept, and ``high``, one that broke:
    ``saturates(rate, i)`` measures the i-th middle. The highest rate kept and the lowest that broke."""
    for i in range(times):
        middle = round(math.sqrt(low * high), 3)
        if saturates(middle, i):
            high = middle
        else:
            low = middle
    return low, high


@dataclass(frozen=True)
class RateWindows:
    """The windows measured at one offered rate (the last decides it) and the last one's verdict figures."""

    windows: tuple[Scheduled, ...]
    slo_p99_ms: float
    p99_ms: float | None  # of the answered requests; None when none was
    errors: int
    achieved_rps: float
    saturated: bool  # p99 over the SLO, a failed request, or achieved below ACHIEVED_FLOOR of what was scheduled
    verdict: TailVerdict  # MLPerf's early-stopping verdict on the last window's p99

    @property
    def within(self) -> bool:
        """Kept the SLO, backed by enough answers at 99% confidence, no failed request (what max_rps_at_slo counts)."""
        return not self.saturated and self.verdict.verdict == "met"


def measure_rate(window: Callable[[int], Scheduled], scheduled: int, duration_s: float, slo_p99_ms: float,
                 confirm: int) -> RateWindows:
    """Measure one offered rate: ``window(attempt)`` runs one window; while the last broke the SLO, up to ``confirm``
    more. ``scheduled`` requests were offered in ``duration_s`` per window (a Poisson draw varies around the rate).
    A window too short for a p99 verdict is undecided: not broken (no retry), not kept."""
    windows: list[Scheduled] = []
    for attempt in range(1 + confirm):
        windows.append(window(attempt))
        samples = windows[-1].samples
        ok = samples.ok
        p99 = latency_summary(samples.latencies[ok])["p99_ms"]
        errors = int((~ok).sum())
        achieved = int(ok.sum()) / max(duration_s, samples.wall_s)
        verdict = tail_verdict(samples.latencies[ok], errors, slo_p99_ms)
        saturated = verdict.verdict == "broken" or achieved < ACHIEVED_FLOOR * scheduled / duration_s
        if not saturated:
            break
    return RateWindows(tuple(windows), slo_p99_ms, p99, errors, achieved, saturated, verdict)
