"""``raylife report RUN -o report.html``: one self-contained HTML file with the run's lifecycle and plots.

Plotly draws the plots (interactive, and its JavaScript bundle is written into the file once, so the page needs
no network when viewed); every figure names its units and the platform it ran on, and shows the 95% intervals of
repeated measurements as error bars.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from raylife.report.choose import dominates, fold

STAGES = ("train", "evaluate", "persist", "retrain", "deploy", "serve", "load", "update", "teardown")
LIFECYCLE_TABLE = (
    ("trial", "trial", ""), ("accuracy", "accuracy", "ratio"), ("train_wall_s", "train", "s"),
    ("time_to_target_s", "to target", "s"), ("native_bytes", "size", "bytes"), ("native_load_s", "load", "s"),
    ("retrain_wall_s", "retrain", "s"), ("deploy_ready_s", "deploy", "s"), ("p50_ms_small", "p50", "ms"),
    ("p99_ms_small", "p99", "ms"), ("peak_throughput_rps", "peak", "req/s"), ("max_rps_at_slo", "max at SLO", "req/s"),
    ("rollout_update_s", "rollout", "s"), ("usd_per_million_predictions", "$/1M pred.", "USD"),
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


def gather(store: Any, run_id: str) -> ReportData:
    run = store.run(run_id)
    envs = store.rows(
        "SELECT DISTINCT e.hostname, e.cpu, e.cpu_count, e.gpu, e.gpu_count, t.device, e.ray, e.torch, e.tensorflow "
        "FROM trials t JOIN environments e USING (trial_id) WHERE t.run_id = ?", [run_id])
    parts = []
    for e in envs:
        gpu = f", {e['gpu_count']}x {e['gpu']}" if e.get("gpu") else ""
        parts.append(f"{e['hostname']}: {e['cpu']} ({e['cpu_count']} CPUs{gpu}), Ray {e['ray']}")
    platform = "; ".join(dict.fromkeys(parts)) or "platform not recorded"
    epochs = store.rows(
        "SELECT t.name AS trial, t.\"repeat\" AS rep, e.epoch, e.elapsed_s, e.accuracy FROM epochs e JOIN trials t "
        "USING (trial_id) WHERE t.run_id = ? AND e.phase = 'train' AND t.status = 'ok' ORDER BY t.name, rep, e.epoch",
        [run_id])
    updates = store.rows(
        "SELECT t.name AS trial, l.phase, l.sent_s, l.latency_ms, l.ok, m.labels->>'window_start_s' AS start_s, "
        "m.labels->>'window_end_s' AS end_s FROM latencies l JOIN trials t USING (trial_id) "
        "JOIN measurements m ON m.trial_id = l.trial_id AND m.stage = 'update' AND m.metric = 'update_s' "
        "AND 'update-' || (m.labels->>'strategy') = l.phase "
        "WHERE t.run_id = ? AND t.\"repeat\" = 0 AND l.phase LIKE 'update-%' ORDER BY t.name, l.phase, l.sent_s",
        [run_id])
    targets = {r["trial"]: r["target"] for r in store.rows(
        "SELECT name AS trial, CAST(params->>'$.target_accuracy' AS DOUBLE) AS target FROM trials WHERE run_id = ?",
        [run_id]) if r["target"] is not None}
    return ReportData(run, platform, store.candidates([run_id]), store.metric_stats([run_id]), epochs, updates, targets)


def _error_y(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not any(r["n"] > 1 and r["ci95_half"] is not None for r in rows):
        return None
    return {"type": "data", "array": [r["ci95_half"] or 0 for r in rows], "visible": True}


def _labels(row: dict[str, Any]) -> dict[str, Any]:
    return row["labels"] if isinstance(row["labels"], dict) else json.loads(row["labels"] or "{}")


def _layout(fig: Any, title: str, x: str, y: str, platform: str, **extra: Any) -> Any:
    settings = {"template": "plotly_white", "height": 420, "margin": {"t": 90}, "legend": {"title": {"text": "trial"}},
                **extra}
    fig.update_layout(
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
                serve[(r["trial"], r["metric"])].append({**r, **{k: labels[k] for k in ("batch_size", "concurrency")}})
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
        if r["stage"] == "load" and r["metric"] in ("p50_ms", "p99_ms"):
            labels = _labels(r)
            series[(r["trial"], r["metric"])].append({**r, "rate": float(labels["offered_rps"])})
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
            walls[r["trial"]][r["stage"]] = r
        if r["metric"] == "overhead_s":
            walls[r["trial"]]["overhead"] = r
    if not walls:
        return None
    trials = sorted(walls)
    fig = go.Figure()
    for stage in (*STAGES, "overhead"):
        rows = [walls[t].get(stage) for t in trials]
        if not any(rows):
            continue
        fig.add_trace(go.Bar(y=trials, x=[r["median"] if r else 0 for r in rows], name=stage, orientation="h"))
    return _layout(fig, "Where each trial's time went, by stage (medians over repeats)", "wall time (s)", "", data.platform,
                   barmode="stack", height=max(300, 120 + 40 * len(trials)), legend={"title": {"text": "stage"}})


def pareto_figure(data: ReportData) -> Any | None:
    import plotly.graph_objects as go

    folded = [(trial, values) for _, trial, _, _, values in fold(data.candidates)]
    points = [(t, v) for t, v in folded if v.get("accuracy") is not None and v.get("p50_ms_small") is not None]
    if not points:
        return None
    named = ["accuracy", "p50_ms_small", "native_bytes"]
    front = [t for t, v in points if not any(dominates(o, v, named) for _, o in points if o is not v)]
    sizes = [v.get("native_bytes") or 0 for _, v in points]
    biggest = max(sizes) or 1
    fig = go.Figure()
    for on_front in (True, False):
        chosen = [(t, v, s) for (t, v), s in zip(points, sizes) if (t in front) == on_front]
        if not chosen:
            continue
        fig.add_trace(go.Scatter(
            x=[v["p50_ms_small"] for _, v, _ in chosen], y=[v["accuracy"] for _, v, _ in chosen], mode="markers+text",
            text=[t for t, _, _ in chosen], textposition="top center",
            marker={"size": [12 + 30 * math.sqrt(s / biggest) for _, _, s in chosen],
                    "color": "crimson" if on_front else "steelblue", "opacity": 0.7},
            name="Pareto front" if on_front else "dominated",
            hovertemplate="%{text}<br>p50 %{x:.2f} ms<br>accuracy %{y:.3f}<extra></extra>"))
    return _layout(fig, "Accuracy vs latency vs size (marker area ∝ native size in bytes); Pareto front in red",
                   "p50 latency at the smallest batch (ms)", "test accuracy (ratio)", data.platform)


def _cell(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return html.escape(value)
    if unit == "bytes":
        return f"{value / 1e6:.3g} MB" if value >= 1e5 else f"{value / 1e3:.3g} KB"
    return f"{value:.4g}"


def lifecycle_table(data: ReportData) -> str:
    head = "".join(f"<th>{html.escape(label)}{f' ({unit})' if unit and unit != 'bytes' else ''}</th>"
                   for _, label, unit in LIFECYCLE_TABLE)
    rows = []
    for run_id, trial, framework, repeats, values in fold(data.candidates):
        cells = [f"<td>{html.escape(trial)}{f' (median of {repeats})' if repeats > 1 else ''}</td>"]
        cells += [f"<td class='num'>{_cell(values.get(col), unit)}</td>" for col, _, unit in LIFECYCLE_TABLE[1:]]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='lifecycle'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render(data: ReportData) -> str:
    """The whole page: the lifecycle table, then every plot this run has data for."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    figures = [*latency_figures(data), load_figure(data), training_figure(data), *update_figures(data),
               time_figure(data), pareto_figure(data)]
    figures = [f for f in figures if f is not None]
    divs = "\n".join(
        f"<section class='plot'>{pio.to_html(f, full_html=False, include_plotlyjs=False, div_id=f'plot-{i}')}</section>"
        for i, f in enumerate(figures))
    run = data.run
    title = f"raylife · {run['suite']} · {run['run_id']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table.lifecycle {{ border-collapse: collapse; font-size: 13px; }}
table.lifecycle th, table.lifecycle td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
section.plot {{ margin: 1.5em 0; }}
</style>
<script>{get_plotlyjs()}</script></head>
<body data-plots="{len(figures)}">
<h1>{html.escape(title)}</h1>
<p>Suite <b>{html.escape(run['suite'])}</b> · {run['trials']} trials ({run['failed_trials'] or 0} failed) ·
status {html.escape(str(run['status']))} · submitted {run['submitted_at']:%Y-%m-%d %H:%M} UTC ·
raylife {html.escape(str(run['raylife_version']))} ({html.escape(str(run['git_commit'] or 'no commit'))})</p>
<p>Platform: {html.escape(data.platform)}</p>
<h2>Lifecycle</h2>
{lifecycle_table(data)}
<p>Medians over repeats; error bars in the plots are 95% Student-t intervals of the mean where a measurement was
repeated. Every number: <code>raylife query "select * from metric_stats where run_id = '{run['run_id']}'"</code>.</p>
<h2>Plots</h2>
{divs}
</body></html>
"""
