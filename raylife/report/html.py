"""``raylife report RUN -o report.html``: one self-contained HTML file with the run's lifecycle and plots.

Plotly draws the plots (interactive, and its JavaScript bundle is written into the file once, so the page needs
no network when viewed); every figure names its units and the platform it ran on, and shows the 95% intervals of
repeated measurements as error bars. The page is a Jinja2 template (``templates/report.html.j2``) rendered with
autoescaping: a trial, suite or platform name is text, whatever characters it holds.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from raylife.decide.choose import fold
from raylife.decide.pareto import front
from raylife.lifecycle import STAGE_ORDER
from raylife.report import format as fmt


@dataclass(frozen=True)
class Column:
    """One column of the page's lifecycle table: a column of the lifecycle/costs views, its heading and unit."""

    name: str
    label: str
    unit: str

    @property
    def heading(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit and self.unit != "bytes" else self.label

    def cell(self, value: Any) -> str:
        if fmt.missing(value):
            return "–"
        if self.unit == "bytes":
            return fmt.size(value)
        return f"{value:.4g}"


LIFECYCLE_TABLE = (
    Column("accuracy", "accuracy", "ratio"), Column("train_wall_s", "train", "s"),
    Column("time_to_target_s", "to target", "s"), Column("native_bytes", "size", "bytes"),
    Column("native_load_s", "load", "s"), Column("retrain_wall_s", "retrain", "s"),
    Column("deploy_ready_s", "deploy", "s"), Column("p50_ms_small", "p50", "ms"), Column("p99_ms_small", "p99", "ms"),
    Column("peak_throughput_rps", "peak", "req/s"), Column("max_rps_at_slo", "max at SLO", "req/s"),
    Column("rollout_update_s", "rollout", "s"), Column("usd_per_million_predictions", "$/1M pred.", "USD"),
)


@dataclass
class ReportData:
    run: dict[str, Any]
    platform: str
    candidates: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    epochs: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    targets: dict[str, float] = field(default_factory=dict)
    configs: list[dict[str, Any]] = field(default_factory=list)  # serving_configs rows
    timeline: list[dict[str, Any]] = field(default_factory=list)  # load_timeline rows (a changing load)
    scaling: list[dict[str, Any]] = field(default_factory=list)  # scaling rows


def gather(store: Any, run_id: str) -> ReportData:
    """Everything the page shows, read through the store (the only module that runs SQL)."""
    parts = []
    for e in store.run_machines(run_id):
        gpu = f", {e['gpu_count']}x {e['gpu']}" if e.get("gpu") else ""
        parts.append(f"{e['hostname']}: {e['cpu']} ({e['cpu_count']} CPUs{gpu}), Ray {e['ray']}")
    platform = "; ".join(dict.fromkeys(parts)) or "platform not recorded"
    return ReportData(store.run(run_id), platform, store.candidates([run_id]), store.metric_stats([run_id]),
                      store.training_curves(run_id), store.update_timelines(run_id), store.accuracy_targets(run_id),
                      store.serving_configs(run_id), store.timeline(run_id), store.scaling(run_id))


def _error_y(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not any(r["n"] > 1 and r["ci95_half"] is not None for r in rows):
        return None
    return {"type": "data", "array": [r["ci95_half"] or 0 for r in rows], "visible": True}


def _labels(row: dict[str, Any]) -> dict[str, Any]:
    return row["labels"] if isinstance(row["labels"], dict) else json.loads(row["labels"] or "{}")


def _served(trial: str, labels: dict[str, Any]) -> str:
    """A series' name: the trial, and its serving configuration where it has several."""
    return f"{trial} @ {labels['config']}" if labels.get("config") else trial


def _layout(fig: Any, title: str, x: str, y: str, platform: str, **extra: Any) -> Any:
    settings = {"template": "plotly_white", "height": 420, "margin": {"t": 90}, "legend": {"title": {"text": "trial"}},
                **extra}
    fig.update_layout(  # Plotly reads a title as a small subset of HTML: names in it are escaped as text
        title={"text": f"{html.escape(title)}<br><sup>{html.escape(platform)}</sup>"}, xaxis_title=x, yaxis_title=y,
        **settings)
    return fig


def latency_figures(data: ReportData) -> list[Any]:
    import plotly.graph_objects as go

    serve = defaultdict(list)
    for r in data.stats:
        if r["stage"] == "serve" and r["metric"] in ("p50_ms", "p99_ms"):
            labels = _labels(r)
            if labels.get("path") == "http":
                serve[(_served(r["trial"], labels), r["metric"])].append(
                    {**r, **{k: labels[k] for k in ("batch_size", "concurrency")}})
    if not serve:
        return []
    figures = []
    for axis, other, name in (("batch_size", "concurrency", "batch size (samples per request)"),
                              ("concurrency", "batch_size", "concurrency (closed-loop clients)")):
        fig = go.Figure()
        for (trial, metric), rows in sorted(serve.items()):
            fixed = min(r[other] for r in rows)
            points = sorted((r for r in rows if r[other] == fixed), key=lambda r: r[axis])
            fig.add_trace(go.Scatter(
                x=[r[axis] for r in points], y=[r["median"] for r in points], error_y=_error_y(points),
                mode="lines+markers", name=f"{trial} {metric[:3]} ({other} {fixed})",
                line={"dash": "dot" if metric == "p99_ms" else "solid"}))
        figures.append(_layout(fig, f"Serving latency vs {axis.replace('_', ' ')} (HTTP, p50 solid, p99 dotted)",
                               name, "latency (ms)", data.platform))
    return figures


def load_figure(data: ReportData) -> Any | None:
    import plotly.graph_objects as go

    series = defaultdict(list)
    slo = None
    for r in data.stats:
        if (r["stage"] == "load" and r["metric"] in ("p50_ms", "p99_ms") and "offered_rps" in _labels(r)
                and not _labels(r).get("retried")):
            labels = _labels(r)  # a changing load's figures have no offered rate: the timeline draws them
            series[(_served(r["trial"], labels), r["metric"])].append({**r, "rate": float(labels["offered_rps"])})
        if r["stage"] == "load" and r["metric"] == "goodput_rps":
            slo = _labels(r).get("slo_p99_ms", slo)
    if not series:
        return None
    fig = go.Figure()
    for (trial, metric), rows in sorted(series.items()):
        rows.sort(key=lambda r: r["rate"])
        fig.add_trace(go.Scatter(x=[r["rate"] for r in rows], y=[r["median"] for r in rows], error_y=_error_y(rows),
                                 mode="lines+markers", name=f"{trial} {metric[:3]}",
                                 line={"dash": "dot" if metric == "p99_ms" else "solid"}))
    if slo is not None:
        fig.add_hline(y=float(slo), line={"color": "red", "dash": "dash"}, annotation_text=f"SLO p99 {float(slo):g} ms")
    return _layout(fig, "Open-loop latency vs offered rate (from scheduled send time)", "offered rate (requests/s)",
                   "latency (ms)", data.platform)


TOKEN_SERIES = (("ttft_p50_ms", "TTFT p50", "solid"), ("ttft_p99_ms", "TTFT p99", "dot"), ("tpot_p50_ms", "TPOT p50", "dash"))


def token_figures(data: ReportData) -> list[Any]:
    """A decoder's streams: TTFT and TPOT against closed-loop concurrency, and against the offered rate of the open
    loop with the TTFT limit (``[tokens]``)."""
    import plotly.graph_objects as go

    series: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    slo = None
    for r in data.stats:
        if r["stage"] != "serve" or r["metric"] not in {m for m, _, _ in TOKEN_SERIES}:
            continue
        labels = _labels(r)
        axis = "concurrency" if "concurrency" in labels else "offered_rps" if "offered_rps" in labels else None
        if axis is not None:
            series[(axis, _served(r["trial"], labels), r["metric"])].append({**r, "x": float(labels[axis])})
    for r in data.stats:
        if r["stage"] == "serve" and r["metric"] == "token_goodput_rps":
            slo = _labels(r).get("slo_ttft_ms", slo)
    figures = []
    for axis, title, x_title in (("concurrency", "Decoder streams vs concurrency (closed loop)", "streams at once"),
                                 ("offered_rps", "Decoder streams vs offered rate (open loop, from each request's due "
                                  "time)", "offered rate (requests/s)")):
        drawn = {key: rows for key, rows in series.items() if key[0] == axis}
        if not drawn:
            continue
        fig = go.Figure()
        for (_, trial, metric), rows in sorted(drawn.items()):
            rows.sort(key=lambda r: r["x"])
            label, dash = next((lab, d) for m, lab, d in TOKEN_SERIES if m == metric)
            fig.add_trace(go.Scatter(x=[r["x"] for r in rows], y=[r["median"] for r in rows], error_y=_error_y(rows),
                                     mode="lines+markers", name=f"{trial} {label}", line={"dash": dash}))
        if axis == "offered_rps" and slo is not None:
            fig.add_hline(y=float(slo), line={"color": "red", "dash": "dash"},
                          annotation_text=f"TTFT limit {float(slo):g} ms")
        figures.append(_layout(fig, title, x_title, "latency (ms)", data.platform))
    return figures


def training_figure(data: ReportData) -> Any | None:
    import plotly.graph_objects as go

    if not data.epochs:
        return None
    fig = go.Figure()
    runs = defaultdict(list)
    for e in data.epochs:
        runs[(e["trial"], e["rep"])].append(e)
    for (trial, rep), rows in sorted(runs.items()):
        fig.add_trace(go.Scatter(x=[e["elapsed_s"] for e in rows], y=[e["accuracy"] for e in rows], mode="lines+markers",
                                 name=trial + (f" #{rep + 1}" if any(k[1] for k in runs) else "")))
    for target in sorted(set(data.targets.values())):
        fig.add_hline(y=target, line={"color": "green", "dash": "dash"}, annotation_text=f"target {target:g}")
    return _layout(fig, "Validation accuracy over training time (time to target where it crosses)",
                   "training time since the first step (s)", "validation accuracy (ratio)", data.platform)


def update_figures(data: ReportData) -> list[Any]:
    import plotly.graph_objects as go

    groups = defaultdict(list)
    for r in data.updates:
        groups[(r["trial"], r["phase"])].append(r)
    figures = []
    for (trial, phase), rows in sorted(groups.items()):
        fig = go.Figure()
        ok = [r for r in rows if r["ok"]]
        bad = [r for r in rows if not r["ok"]]
        fig.add_trace(go.Scatter(x=[r["sent_s"] for r in ok], y=[r["latency_ms"] for r in ok], mode="markers",
                                 name="answered", marker={"size": 5}))
        if bad:
            fig.add_trace(go.Scatter(x=[r["sent_s"] for r in bad], y=[r["latency_ms"] for r in bad], mode="markers",
                                     name="failed", marker={"size": 7, "color": "red", "symbol": "x"}))
        start, end = rows[0]["start_s"], rows[0]["end_s"]
        if start is not None and end is not None:
            fig.add_vrect(x0=float(start), x1=float(end), fillcolor="orange", opacity=0.2, line_width=0,
                          annotation_text="update window", annotation_position="top left")
        figures.append(_layout(fig, f"{phase.removeprefix('update-')} update under load · {trial}",
                               "time since the load started (s)", "latency (ms)", data.platform,
                               legend={"title": {"text": "requests"}}))
    return figures


def time_figure(data: ReportData) -> Any | None:
    import plotly.graph_objects as go

    walls = defaultdict(dict)
    for r in data.stats:
        if r["metric"] == "stage_wall_s":
            earlier = walls[r["trial"]].get(r["stage"])  # serving configurations: each one's deploy, serve … add up
            walls[r["trial"]][r["stage"]] = r if earlier is None else {**r, "median": earlier["median"] + r["median"]}
        if r["metric"] == "overhead_s":
            walls[r["trial"]]["overhead"] = r
    if not walls:
        return None
    trials = sorted(walls)
    fig = go.Figure()
    for stage in (*STAGE_ORDER, "overhead"):
        rows = [walls[t].get(stage) for t in trials]
        if not any(rows):
            continue
        fig.add_trace(go.Bar(y=trials, x=[r["median"] if r else 0 for r in rows], name=stage, orientation="h"))
    return _layout(fig, "Where each trial's time went, by stage (medians over repeats)", "wall time (s)", "", data.platform,
                   barmode="stack", height=max(300, 120 + 40 * len(trials)), legend={"title": {"text": "stage"}})


def pareto_figure(data: ReportData) -> Any | None:
    import plotly.graph_objects as go

    folded = [(f.trial, f.values) for f in fold(data.candidates)]
    points = [(t, v) for t, v in folded if v.get("accuracy") is not None and v.get("p50_ms_small") is not None]
    if not points:
        return None
    # higher accuracy, lower latency, smaller size
    on_front = front([v for _, v in points], {"accuracy": 1, "p50_ms_small": -1, "native_bytes": -1})
    sizes = [v.get("native_bytes") or 0 for _, v in points]
    biggest = max(sizes) or 1
    fig = go.Figure()
    for wanted in (True, False):
        chosen = [(t, v, s) for i, ((t, v), s) in enumerate(zip(points, sizes)) if (i in on_front) == wanted]
        if not chosen:
            continue
        fig.add_trace(go.Scatter(
            x=[v["p50_ms_small"] for _, v, _ in chosen], y=[v["accuracy"] for _, v, _ in chosen], mode="markers+text",
            text=[t for t, _, _ in chosen], textposition="top center",
            marker={"size": [12 + 30 * math.sqrt(s / biggest) for _, _, s in chosen],
                    "color": "crimson" if wanted else "steelblue", "opacity": 0.7},
            name="Pareto front" if wanted else "dominated",
            hovertemplate="%{text}<br>p50 %{x:.2f} ms<br>accuracy %{y:.3f}<extra></extra>"))
    return _layout(fig, "Accuracy vs latency vs size (marker area ∝ native size in bytes); Pareto front in red",
                   "p50 latency at the smallest batch (ms)", "test accuracy (ratio)", data.platform)


def configs_figure(data: ReportData) -> Any | None:
    """Serving configurations: each one's throughput against its tail latency, per trial; the front (more requests per
    second at a lower p99, no other configuration better at both) joined by a line; the SLO where the run had one."""
    import plotly.graph_objects as go

    measured = [r for r in data.configs if r["ok"] and r["p99_ms_small"] is not None]
    if not measured:
        return None
    rate = "max_rps_at_slo" if any(r["max_rps_at_slo"] is not None for r in measured) else "peak_throughput_rps"
    fig = go.Figure()
    for trial in dict.fromkeys(r["trial"] for r in measured):
        rows = [r for r in measured if r["trial"] == trial and r[rate] is not None]
        if not rows:
            continue
        fig.add_trace(go.Scatter(
            x=[r[rate] for r in rows], y=[r["p99_ms_small"] for r in rows], mode="markers+text", name=trial,
            text=[r["config"] for r in rows], textposition="top center",
            hovertemplate="%{text}<br>%{x:.1f} req/s<br>p99 %{y:.2f} ms<extra></extra>"))
        best = sorted((rows[i] for i in front([{"x": r[rate], "y": r["p99_ms_small"]} for r in rows], {"x": 1, "y": -1})),
                      key=lambda r: r[rate])
        fig.add_trace(go.Scatter(x=[r[rate] for r in best], y=[r["p99_ms_small"] for r in best], mode="lines",
                                 line={"dash": "dot"}, name=f"{trial} front", hoverinfo="skip"))
    slo = next((_labels(r).get("slo_p99_ms") for r in data.stats if r["metric"] == "max_rps_at_slo"
                and _labels(r).get("slo_p99_ms")), None)
    if slo is not None:
        fig.add_hline(y=float(slo), line_dash="dash", line_color="crimson", annotation_text=f"SLO p99 {slo:g} ms")
    what = "max_rps_at_slo (open loop)" if rate == "max_rps_at_slo" else "peak throughput (closed loop)"
    return _layout(fig, f"Serving configurations: {what} vs p99 at the smallest batch; dotted: the front",
                   "requests per second (requests/s)", "p99 latency (ms)", data.platform)


def timeline_figures(data: ReportData) -> list[Any]:
    """A changing load, second by second, per trial: offered and achieved rates, replicas running, p99 against the SLO,
    and the requests that missed it — each serving configuration (autoscaled, fixed baseline) as its own series."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figures = []
    slo = {(r["trial"], r["config"]): r["slo_p99_ms"] for r in data.scaling}
    for trial in dict.fromkeys(r["trial"] for r in data.timeline):
        rows = [r for r in data.timeline if r["trial"] == trial]
        fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.3, 0.2, 0.3, 0.2],
                            subplot_titles=("requests/s", "replicas running", "p99 latency (ms)", "SLO misses per second"))
        for i, config in enumerate(dict.fromkeys(r["config"] for r in rows)):
            series = [r for r in rows if r["config"] == config]
            name = config or "deployment"
            x = [r["second"] for r in series]
            if i == 0:
                fig.add_trace(go.Scatter(x=x, y=[r["offered_rps"] for r in series], name="offered", mode="lines",
                                         line={"color": "black", "dash": "dot"}), row=1, col=1)
            color = ("steelblue", "darkorange", "seagreen", "purple")[i % 4]
            fig.add_trace(go.Scatter(x=x, y=[r["achieved_rps"] for r in series], name=f"{name}: achieved",
                                     mode="lines", line={"color": color}), row=1, col=1)
            fig.add_trace(go.Scatter(x=x, y=[r["replicas_running"] for r in series], name=f"{name}: replicas",
                                     mode="lines", line={"color": color, "shape": "hv"}), row=2, col=1)
            fig.add_trace(go.Scatter(x=x, y=[r["p99_ms"] for r in series], name=f"{name}: p99", mode="lines+markers",
                                     marker={"size": 4}, line={"color": color}), row=3, col=1)
            fig.add_trace(go.Bar(x=x, y=[r["slo_misses"] for r in series], name=f"{name}: SLO misses",
                                 marker={"color": color}, opacity=0.7), row=4, col=1)
            limit = slo.get((trial, config))
            if i == 0 and limit is not None:
                fig.add_hline(y=float(limit), line_dash="dash", line_color="crimson", row=3, col=1,
                              annotation_text=f"SLO p99 {limit:g} ms")
        fig.update_xaxes(title_text="seconds since the load began (s)", row=4, col=1)
        figures.append(_layout(fig, f"Changing load: {trial}", "", "", data.platform, height=820,
                               legend={"title": {"text": "series"}}, barmode="group"))
    return figures


def lifecycle_rows(data: ReportData) -> list[dict[str, Any]]:
    """The lifecycle table's rows: one per trial (repeats folded into medians), each value formatted."""
    def cell(column: Column, values: dict[str, Any]) -> str:
        if column.name == "accuracy" and values.get("quality_measured") == 0:
            return "random inputs"  # nothing to be right about: no accuracy is stored, and why is said here
        return column.cell(values.get(column.name))

    return [{"trial": trial, "repeats": repeats, "cells": [cell(c, values) for c in LIFECYCLE_TABLE]}
            for trial, repeats, values in ((f.trial, f.repeats, f.values) for f in fold(data.candidates))]


def figures(data: ReportData) -> list[Any]:
    """Every plot this run has data for, in the page's order."""
    found = [*latency_figures(data), load_figure(data), *token_figures(data), training_figure(data), *update_figures(data),
             time_figure(data), pareto_figure(data), configs_figure(data), *timeline_figures(data)]
    return [f for f in found if f is not None]


def render(data: ReportData) -> str:
    """The whole page: the lifecycle table, then every plot this run has data for."""
    import jinja2
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    env = jinja2.Environment(loader=jinja2.PackageLoader("raylife.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    plots = [pio.to_html(f, full_html=False, include_plotlyjs=False, div_id=f"plot-{i}") for i, f in enumerate(figures(data))]
    return env.get_template("report.html.j2").render(
        title=f"raylife · {data.run['suite']} · {data.run['run_id']}", run=data.run, platform=data.platform,
        columns=[Column("trial", "trial", ""), *LIFECYCLE_TABLE], rows=lifecycle_rows(data), plots=plots,
        plotly_js=get_plotlyjs(),
    )
