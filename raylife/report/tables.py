"""Rich tables for plans, run summaries, run lists and query results."""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from raylife.lifecycle import STAGE_ORDER
from raylife.measure.environment import ClusterInfo, NodeInfo
from raylife.plan import Trial
from raylife.report import format as fmt


def variant(text: str) -> str:
    """A trial's ``TrialName.variant`` as Rich text."""
    # Escaped: a name carries model options in brackets ("mlp[depth=1]"), which Rich would take for markup.
    return escape(text)


def plan_table(trials: list[Trial], title: str | None = None) -> Table:
    stage_lists = {" → ".join(t.stages) for t in trials}
    shared = len(stage_lists) == 1
    caption = f"stages: {stage_lists.pop()}" if shared and trials else None
    with_configs = next((t for t in trials if t.serve_configs), None)
    if with_configs is not None:  # the deploy … teardown stages run once per serving configuration measured
        search = with_configs.serve_search
        measured = (f"all {len(with_configs.serve_configs)}" if search is None or not search.guided else
                    f"at most {search.max_configs} of {len(with_configs.serve_configs)}, chosen by {search.algorithm}")
        caption = (caption + "\n" if caption else "") + (
            f"serving configurations per trial: {measured} ({', '.join(c.key for c in with_configs.serve_configs[:4])}"
            f"{', …' if len(with_configs.serve_configs) > 4 else ''}), one training each")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, caption=caption, caption_justify="left")
    mixed = len({t.workload for t in trials}) > 1
    columns = ["#", "model", "framework", "workers", "CPUs/w", "batch", "epochs", "lr", "formats"]
    if mixed:
        columns.insert(1, "workload")
    for column in columns + ([] if shared else ["stages"]):
        table.add_column(column, justify="left" if column in {"model", "workload", "framework", "formats", "stages"} else "right")
    for t in trials:
        row = [
            str(t.index), variant(t.key.variant), t.framework, str(t.num_workers),
            f"{t.cpus_per_worker:g}", str(t.batch_size), str(t.epochs), f"{t.learning_rate:g}", ", ".join(t.formats),
        ]
        if mixed:
            row.insert(1, t.workload)
        table.add_row(*row, *([] if shared else [" → ".join(t.stages)]))
    return table


SUMMARY_COLUMNS = (
    ("model", "left"),
    ("framework", "left"),
    ("workers", "right"),
    ("accuracy", "right"),
    ("baseline", "right"),
    ("train", "right"),
    ("to target", "right"),
    ("size", "right"),
    ("save", "right"),
    ("load", "right"),
    ("retrain", "right"),
    ("retrained", "right"),
)


def summary_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """One row per trial from the ``lifecycle`` view; failed trials in red with their one-line error."""
    labels = [variant(r["variant"]) for r in rows]
    failures = [f"✗ {r['trial']}: {r['error'] or 'unknown error'}" for r in rows if r["status"] != "ok"]
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
        caption=Text("\n".join(failures), style="red") if failures else None, caption_justify="left",
    )
    # decoders: accuracy is per next token, and perplexity against the unigram model's says more
    decoders = any(not fmt.missing(r.get("perplexity")) or not fmt.missing(r.get("baseline_perplexity")) for r in rows)
    columns = [*SUMMARY_COLUMNS[:5], *([("ppl (unigram)", "right")] if decoders else []), *SUMMARY_COLUMNS[5:]]
    for name, justify in columns:
        width = max((len(label) for label in labels), default=5) if name == "model" else None
        table.add_column(name, justify=justify, no_wrap=True, min_width=width)  # type: ignore[arg-type]
    for r, label in zip(rows, labels):
        if r["status"] != "ok":
            table.add_row(
                Text(label, style="red"), Text(r["framework"], style="red"), str(r["num_workers"]),
                Text("failed", style="bold red"), *[""] * (len(columns) - 4),
            )
            continue
        ppl = [_perplexity(r)] if decoders else []
        table.add_row(
            label, r["framework"], str(r["num_workers"]), quality(r, "accuracy"), quality(r, "baseline_accuracy"), *ppl,
            fmt.seconds(r["train_wall_s"]), fmt.seconds(r["time_to_target_s"]), fmt.size(r["native_bytes"]),
            fmt.seconds(r["native_save_s"]), fmt.seconds(r["native_load_s"]), fmt.seconds(r["retrain_wall_s"]),
            quality(r, "retrain_accuracy") if not fmt.missing(r.get("retrain_wall_s")) else "–",
        )
    return table


def _perplexity(row: dict[str, Any]) -> str:
    """A decoder's test perplexity beside the unigram model's (the bar it must clear)."""
    if row.get("quality_measured") == 0:
        return "random inputs"
    if fmt.missing(row.get("perplexity")):
        return "–"
    return f"{row['perplexity']:.2f} ({row['baseline_perplexity']:.1f})"


def quality(row: dict[str, Any], column: str) -> str:
    """An accuracy cell; a trial on random inputs says so instead of a dash that reads as a failure."""
    return "random inputs" if row.get("quality_measured") == 0 else fmt.ratio(row.get(column))


def _update_cell(seconds: float | None, failed: float | None) -> str:
    if fmt.missing(seconds):
        return "–"
    return f"{seconds:.2f} s · {int(failed or 0)}"


def _p50_p99(p50: float | None, p99: float | None) -> str:
    if fmt.missing(p50):
        return "–"
    return f"{p50:.1f}/{p99:.1f}"


def deployment_table(rows: list[dict[str, Any]], title: str | None = None) -> Table | None:
    """Deployment half of the summary (trials that deployed); latencies are HTTP, at the fewest clients."""
    deployed = [r for r in rows if r["status"] == "ok" and not fmt.missing(r.get("deploy_ready_s"))]
    if not deployed:
        return None
    small = sorted({r["small_batch"] for r in deployed if not fmt.missing(r.get("small_batch"))})
    large = sorted({r["large_batch"] for r in deployed if not fmt.missing(r.get("large_batch"))})
    columns = [
        "trial", "deploy", "1st\nrequest", f"batch {'/'.join(map(str, small))}\np50/p99", f"batch {'/'.join(map(str, large))}\np50/p99",
        "peak\nsamp/s", "served\nacc", "reconfigure\ns · failed", "rollout\ns · failed",
    ]
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, caption_justify="left",
        caption="latency in ms over HTTP at the fewest clients; update: seconds until every answer came from the new "
        "model · failed requests",
    )
    for name in columns:
        table.add_column(name, justify="left" if name == "trial" else "right", no_wrap=True)
    for r in deployed:
        table.add_row(
            escape(r["trial"]), fmt.seconds(r["deploy_ready_s"]), fmt.milliseconds(r["first_request_ms"]),
            _p50_p99(r["p50_ms_small"], r["p99_ms_small"]), _p50_p99(r["p50_ms_large"], r["p99_ms_large"]),
            "–" if fmt.missing(r["peak_samples_per_s"]) else f"{r['peak_samples_per_s']:.0f}",
            fmt.ratio(r["served_accuracy"]),
            _update_cell(r["reconfigure_update_s"], r["reconfigure_failed_requests"]),
            _update_cell(r["rollout_update_s"], r["rollout_failed_requests"]),
        )
    return table


def _pct(value: float | None, thin: bool) -> Text | str:
    """A percentile; one with too few samples beyond it is dimmed with a ~ (see the caption)."""
    if fmt.missing(value):
        return "–"
    return Text(f"~{fmt.milliseconds(value)}", style="dim") if thin else fmt.milliseconds(value)


def latency_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """One trial's load measurements: a row per path x batch size x concurrency."""
    thin = any(r.get("p99_thin") or r.get("p999_thin") for r in rows)
    unstable = any(r.get("stable") == 0 for r in rows)
    notes = []
    if thin:
        notes.append("~ thin: fewer than 100 (p99) or 1,000 (p99.9) answers behind it, not an exact percentile")
    if unstable:
        notes.append("unstable: the windows never agreed within the tolerance (figures of the last windows)")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  caption="; ".join(notes) or None, caption_justify="left")
    for name in ("path", "batch", "clients", "requests", "errors", "p50", "p90", "p99", "p99.9", "max", "req/s",
                 "samples/s", "windows"):
        table.add_column(name, justify="left" if name == "path" else "right", no_wrap=True)
    for r in rows:
        stable = r.get("stable")
        windows = "–" if fmt.missing(r.get("windows")) else f"{r['windows']:.0f}"
        if stable == 0:
            windows = Text(f"{windows} unstable", style="yellow")
        table.add_row(
            r["path"], str(r["batch_size"]), str(r["concurrency"]), fmt.number(r["requests"]), fmt.number(r["errors"]),
            fmt.milliseconds(r["p50_ms"]), fmt.milliseconds(r["p90_ms"]), _pct(r["p99_ms"], bool(r.get("p99_thin"))),
            _pct(r["p999_ms"], bool(r.get("p999_thin"))), fmt.milliseconds(r["max_ms"]),
            "–" if fmt.missing(r["throughput_rps"]) else f"{r['throughput_rps']:.1f}",
            "–" if fmt.missing(r["samples_per_s"]) else f"{r['samples_per_s']:.0f}", windows,
        )
    return table


def token_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """A decoder's streams: a row per concurrency level (closed loop) or offered rate (open loop), as LLM serving
    benchmarks print them."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  caption="TTFT: time to the first token; ITL: every gap between tokens; TPOT: per request, "
                  "(e2e - TTFT) / (tokens - 1)", caption_justify="left")
    for name in ("load", "requests", "failed", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99", "TPOT p50", "E2E p50",
                 "tokens/s", "goodput req/s"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in rows:
        load = (f"{r['concurrency']} stream{'s' if r['concurrency'] != 1 else ''}" if r.get("concurrency") is not None
                else f"{r['offered_rps']:g} req/s")
        table.add_row(
            load, fmt.number(r["requests"]), fmt.number(r["failed"]),
            *[fmt.milliseconds(r[k]) for k in ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "tpot_p50_ms",
                                                "e2e_p50_ms")],
            "–" if fmt.missing(r.get("output_tokens_per_s")) else f"{r['output_tokens_per_s']:.1f}",
            "–" if fmt.missing(r.get("token_goodput_rps")) else f"{r['token_goodput_rps']:.2f}",
        )
    return table


def serving_configs_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """A row per trial x serving configuration: its settings and headline figures, or why it failed."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("trial", "config", "replicas", "CPUs", "max batch", "wait", "format", "p50", "p99", "peak samples/s",
                 "max rps at SLO", "replica RSS", "$/M predictions"):
        table.add_column(name, justify="left" if name in ("trial", "config", "format") else "right", no_wrap=True)
    for r in rows:
        if r.get("autoscaling"):  # Serve chose the count: its bounds say it
            r = {**r, "replicas": r["autoscaling"].removeprefix("auto").replace("-", "..")}
        if not r["ok"]:
            table.add_row(r["trial"], r["config"], str(r["replicas"]), f"{r['cpus_per_replica']:g}",
                          str(r["max_batch_size"]), f"{r['batch_wait_timeout_s']:g} s", r["format"],
                          Text(f"failed: {r['error']}", style="red"), *[""] * 5)
            continue
        table.add_row(
            r["trial"], r["config"], str(r["replicas"]), f"{r['cpus_per_replica']:g}", str(r["max_batch_size"]),
            f"{r['batch_wait_timeout_s']:g} s", r["format"], fmt.milliseconds(r["p50_ms_small"]),
            fmt.milliseconds(r["p99_ms_small"]),
            "–" if fmt.missing(r["peak_samples_per_s"]) else f"{r['peak_samples_per_s']:.0f}",
            "–" if fmt.missing(r["max_rps_at_slo"]) else f"{r['max_rps_at_slo']:g}",
            "–" if fmt.missing(r["replica_rss_mb"]) else f"{r['replica_rss_mb']:.0f} MiB",
            "–" if fmt.missing(r["usd_per_million_predictions"]) else f"{r['usd_per_million_predictions']:.3g}",
        )
    return table


def scaling_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """A changing load per trial x configuration: what it cost in replica time and in SLO misses, how fast the replica
    count followed the load, and a new replica's cold start in parts."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  caption="scale-up: to the first new replica's answer / to the count reached; cold start (medians): "
                  "scheduling · constructor · model load · first answer", caption_justify="left")
    for name in ("trial", "config", "replicas", "sent", "SLO misses", "failed", "p99", "replica·s", "$", "scale-up",
                 "scale-down", "new", "cold start"):
        table.add_column(name, justify="left" if name in ("trial", "config") else "right", no_wrap=True)

    def s(value: Any, digits: int = 1) -> str:
        return "–" if fmt.missing(value) else f"{value:.{digits}f} s"

    for r in rows:
        replicas = (r["autoscaling"].removeprefix("auto").replace("-", "..") if r.get("autoscaling")
                    else "–" if r.get("replicas") is None else str(r["replicas"]))
        cold = " · ".join(s(r[k], 2) for k in ("cold_scheduling_s", "cold_constructor_s", "cold_load_s",
                                               "cold_first_answer_s")) if r["new_replicas"] else "–"
        table.add_row(
            r["trial"], r["config"] or "", replicas, f"{r['sent']:.0f}", f"{r['slo_misses']:.0f}",
            f"{r['errors']:.0f}", fmt.milliseconds(r["p99_ms"]),
            "–" if fmt.missing(r["replica_seconds"]) else f"{r['replica_seconds']:.0f}",
            "–" if fmt.missing(r["replica_usd"]) else f"{r['replica_usd']:.2g}",
            f"{s(r['scale_up_first_s'])} / {s(r['scale_up_s'])}", s(r["scale_down_s"]),
            "–" if fmt.missing(r["new_replicas"]) else f"{r['new_replicas']:.0f}", cold,
        )
    return table


def load_table(rows: list[dict[str, Any]], best: dict[str, Any] | None, title: str | None = None) -> Table:
    """One trial's open-loop sweep: a row per offered rate, and its max_rps_at_slo in the caption."""
    slo = next((r["slo_p99_ms"] for r in rows if r.get("slo_p99_ms")), None)
    caption = None
    if best is not None:
        labels = best.get("labels") or {}
        value = best.get("value")
        if fmt.missing(value):
            caption = f"max_rps_at_slo: none ({labels.get('reason', 'no rate met the SLO')})"
        else:
            bound = " or more: the sweep never saturated (a lower bound)" if labels.get("bound") == "lower" else ""
            backed = f", {labels['answers']:,} answers at 99% confidence" if labels.get("answers") else ""
            caption = f"max_rps_at_slo {value:g} req/s at p99 ≤ {slo:g} ms{backed}{bound}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, caption=caption,
                  caption_justify="left")
    retried = any((r.get("windows") or 1) > 1 for r in rows)  # [load] confirm measured some rate again
    for name in ("offered/s", "sent", "achieved/s", "goodput/s", "errors", "p50", "p99", "p99 verdict (answers)",
                 "send lag p99", "schedule", *(["windows"] if retried else [])):
        table.add_column(name, justify="right", no_wrap=True)
    for r in rows:
        within = not fmt.missing(r["p99_ms"]) and slo is not None and r["p99_ms"] <= slo and not r["errors"]
        p99 = _pct(r["p99_ms"], bool(r.get("p99_thin")))
        table.add_row(
            f"{r['offered_rps']:g}", fmt.number(r["sent"]), f"{r['achieved_rps']:.1f}", f"{r['goodput_rps']:.1f}",
            fmt.number(r["errors"]), fmt.milliseconds(r["p50_ms"]),
            p99 if within else Text(str(p99), style="red"), _verdict(r), fmt.milliseconds(r["send_lag_p99_ms"]),
            Text("behind", style="yellow") if r.get("behind_schedule") else "kept",
            *([str(r.get("windows") or 1)] if retried else []),
        )
    return table


def _verdict(row: dict[str, Any]) -> Text | str:
    """MLPerf's early-stopping verdict on the rate's p99 and the answers behind it (undecided: too few to say met)."""
    verdict, answers = row.get("verdict"), row.get("answers")
    if verdict is None:
        return "-"
    style = {"met": "", "broken": "red", "undecided": "yellow"}.get(verdict, "")
    return Text(f"{verdict} ({fmt.number(answers)})", style=style)


# The metrics `show` summarises over repeats; every metric is in the metric_stats view.
HEADLINE = ("accuracy", "train_wall_s", "epoch_s", "time_to_target_s", "train_samples_per_s", "bytes", "load_s",
            "deploy_ready_s", "first_request_ms", "p50_ms", "p99_ms", "throughput_rps", "max_rps_at_slo", "update_s",
            "overhead_s")


def _labels_text(labels: dict[str, Any]) -> str:
    keep = {k: v for k, v in labels.items() if k not in ("native", "note", "device", "slo_p99_ms", "arrival")}
    return " ".join(f"{k}={v}" for k, v in keep.items())


def _sig(value: float, unit: str = "") -> str:
    """Four significant digits; a size in binary units (the size convention)."""
    return fmt.in_unit(value, unit) if unit in ("bytes", "MiB") else f"{value:.4g}"


def stats_table(rows: list[dict[str, Any]], title: str | None = None) -> Table | None:
    """Metrics measured more than once (trial or serve repeats): median ± the 95% interval's half-width."""
    rows = [r for r in rows if r["n"] > 1 and r["metric"] in HEADLINE and not fmt.missing(r["median"])]
    if not rows:
        return None
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, caption_justify="left",
                  caption="median ± half-width of the 95% Student-t interval of the mean, over n repeats; "
                  "every metric: raylife query \"select * from metric_stats\"")
    for name in ("trial", "stage", "metric", "labels", "n", "median ± 95%", "min – max", "unit"):
        table.add_column(name, justify="right" if name in ("n", "median ± 95%", "min – max") else "left", no_wrap=True)
    order = {m: i for i, m in enumerate(HEADLINE)}
    for r in sorted(rows, key=lambda r: (r["trial"], order[r["metric"]], str(r["labels"]))):
        labels = r["labels"] if isinstance(r["labels"], dict) else json.loads(r["labels"] or "{}")
        unit = r["unit"]
        half = "" if fmt.missing(r["ci95_half"]) else f" ± {_sig(r['ci95_half'], unit)}"
        table.add_row(escape(r["trial"]), r["stage"], r["metric"], escape(_labels_text(labels)), str(r["n"]),
                      f"{_sig(r['median'], unit)}{half}{' ~' if r['thin'] else ''}",
                      f"{_sig(r['min'], unit)} – {_sig(r['max'], unit)}", unit)
    return table


def cluster_line(cluster: ClusterInfo | None) -> str:
    if cluster is None:
        return "unknown cluster"
    nodes = cluster.node_count or 0
    return (
        f"{nodes} node{'s' if nodes != 1 else ''}, {cluster.cpus:g} CPUs, "
        f"{cluster.gpus:g} GPUs, {cluster.memory_gb or 0:g} GB for Ray"
    )


NODE_COLUMNS = ["node", "hostname", "CPU", "GPU", "memory_gb", "custom resources", "labels"]


def node_rows(nodes: tuple[NodeInfo, ...]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``raylife cluster``'s columns and a row per node: what [platforms] can select."""
    return NODE_COLUMNS, [(
        n.address, n.hostname, n.resource("CPU"), n.resource("GPU"), round(n.resource("memory") / 1024**3, 2),
        ", ".join(f"{k}={v:g}" for k, v in sorted(n.custom_resources.items())) or "–",
        ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())) or "–",
    ) for n in nodes]


def runs_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="runs (newest first)", title_justify="left")
    for column in ("run", "suite", "status", "trials", "failed", "submitted (UTC)", "wall", "cluster"):
        table.add_column(column)
    for r in rows:
        style = {"ok": "green", "failed": "red", "interrupted": "yellow"}.get(r["status"], "")
        table.add_row(
            r["run_id"], r["suite"], Text(r["status"], style=style), str(r["trials"]), str(r["failed_trials"]),
            f"{r['submitted_at']:%Y-%m-%d %H:%M:%S}", fmt.seconds(r["wall_s"]), r["ray_address"],
        )
    return table


def metrics_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("trial", "stage", "metric", "value", "unit", "labels"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for r in rows:
        labels = r["labels"] if r["labels"] not in (None, "{}") else ""
        table.add_row(escape(r["trial"]), r["stage"], r["metric"], fmt.number(r["value"]), r["unit"], escape(labels))
    return table


def query_table(columns: list[str], rows: list[tuple[Any, ...]]) -> Table:
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["NULL" if v is None else fmt.number(v) if isinstance(v, float) else str(v) for v in row])
    return table




def busy_seconds(trial_rows: list[dict[str, Any]]) -> float:
    """Seconds during which at least one trial ran (the union of their [started_at, finished_at] spans); the sum of
    their walls where the times are not known."""
    spans = sorted((t["started_at"], t["finished_at"]) for t in trial_rows if t.get("started_at") and t.get("finished_at"))
    if len(spans) < len(trial_rows):
        return sum(t["wall_s"] or 0 for t in trial_rows)
    total, current = 0.0, None
    for start, end in spans:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            total += (current[1] - current[0]).total_seconds()
        current = (start, end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def time_table(stage_rows: list[dict[str, Any]], trial_rows: list[dict[str, Any]], run: dict[str, Any]) -> Table | None:
    """Where the run's time went: each trial's stages and raylife's overhead, then Ray and Serve start-up."""
    if not stage_rows:
        return None
    by_trial: dict[str, dict[str, float]] = {}
    for r in stage_rows:
        by_trial.setdefault(r["trial_id"], {})[r["stage"]] = r["value"]
    stages = [s for s in (*STAGE_ORDER, "overhead") if any(s in t for t in by_trial.values())]
    summed = sum(t["wall_s"] or 0 for t in trial_rows)
    trials_s = busy_seconds(trial_rows)  # side by side, trials overlap: the time any trial ran, counted once
    ray_s, serve_s, wall_s = run.get("ray_start_s") or 0, run.get("serve_start_s") or 0, run.get("wall_s")
    rest = wall_s - ray_s - serve_s - trials_s if wall_s is not None else None
    side = f" (side by side; {fmt.seconds(summed)} summed)" if summed > trials_s * 1.01 else ""
    serve = f" + Serve start-up {fmt.seconds(serve_s)}" if run.get("serve_start_s") is not None else ""
    caption = (f"run {fmt.seconds(wall_s)} = Ray start-up {fmt.seconds(ray_s)}{serve}"
               f" + trials {fmt.seconds(trials_s)}{side} + driver (connect, checks, storing) {fmt.seconds(rest)}")
    table = Table(title="where the time went (s)", box=box.SIMPLE_HEAD, caption=caption, caption_justify="left")
    table.add_column("trial", no_wrap=True)
    for stage in stages:
        table.add_column(stage, justify="right")
    table.add_column("trial wall", justify="right")
    for t in trial_rows:
        parts = by_trial.get(t["trial_id"], {})
        table.add_row(escape(t["trial"]), *(f"{parts[s]:.1f}" if s in parts else "–" for s in stages),
                      f"{t['wall_s']:.1f}" if t["wall_s"] is not None else "–")
    return table
