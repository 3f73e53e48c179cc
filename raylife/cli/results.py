"""runs / show / query: read stored results."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from raylife.cli.common import DEFAULT_DB_PATH, DbOption, console
from raylife.errors import StoreError
from raylife.measure.environment import ClusterInfo
from raylife.report.tables import (
    cluster_line,
    deployment_table,
    latency_table,
    token_table,
    load_table,
    scaling_table,
    serving_configs_table,
    metrics_table,
    query_table,
    runs_table,
    stats_table,
    summary_table,
    time_table,
)
from raylife.report.jsonable import jsonable
from raylife.store import Store
from raylife.store.schema import table_names, view_names


def runs(
    db: DbOption = DEFAULT_DB_PATH,
    limit: Annotated[int, typer.Option(min=1, help="How many runs to list.")] = 20,
) -> None:
    """List the suites run into the database, newest first."""
    with Store(db, read_only=True) as store:
        rows = store.runs(limit)
    if not rows:
        console.print(f"No runs in {db} yet: try `raylife submit suites/smoke.toml`.")
        return
    console.print(runs_table(rows))


def show(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")] = "last",
    db: DbOption = DEFAULT_DB_PATH,
    metrics: Annotated[bool, typer.Option("--metrics", help="Also list every stored measurement.")] = False,
) -> None:
    """Print one run's summary again."""
    if not run.strip():
        raise StoreError("no run given (an empty run id)", hint="give a run id, a unique prefix of one, or 'last'")
    with Store(db, read_only=True) as store:
        run_id = store.resolve_run(run)
        info = store.run(run_id)
        rows = store.lifecycle(run_id)
        latencies = store.latency_summary(run_id)
        streams = store.token_summary(run_id)
        loads, best_rates = store.load_summary(run_id), store.max_rps_at_slo(run_id)
        configs = store.serving_configs(run_id)
        store_rows_confirmed = store.confirmed(run_id)
        scaling = store.scaling(run_id)
        stats = store.metric_stats([run_id])
        stage_times, trial_walls = store.stage_times(run_id), store.trial_walls(run_id)
        measured = store.measurements(run_id) if metrics else []
    console.print(
        f"run [bold]{run_id}[/] · suite {escape(info['suite'])} · {info['status']} · "
        f"{info['trials']} trials ({info['failed_trials'] or 0} failed) · Ray {info['ray_address']}: "
        f"{cluster_line(ClusterInfo.from_json(json.loads(info['cluster'])) if info['cluster'] else None)}"
    )
    console.print(summary_table(rows))
    deployed = deployment_table(rows, title="deployment on Ray Serve")
    if deployed is not None:
        console.print(deployed)
    if configs:
        console.print(serving_configs_table(configs, title="serving configurations (one trained model each)"))
        for line in confirmed_lines(store_rows_confirmed):
            console.print(line)
    for trial, config in dict.fromkeys((r["trial"], r["config"]) for r in latencies):
        console.print(latency_table([r for r in latencies if (r["trial"], r["config"]) == (trial, config)],
                                    title=escape(f"latency · {trial}" + (f" @ {config}" if config else ""))))
    for trial in dict.fromkeys(r["trial"] for r in streams):
        console.print(token_table([r for r in streams if r["trial"] == trial],
                                  title=escape(f"token by token · {trial}")))
    for trial_id, config in dict.fromkeys((r["trial_id"], r["config"]) for r in loads):
        rows_of = [r for r in loads if (r["trial_id"], r["config"]) == (trial_id, config)]
        at = f" @ {config}" if config else ""
        console.print(load_table(rows_of, best_rates.get((trial_id, config)),
                                 title=escape(f"open-loop load ({rows_of[0]['arrival']}) · {rows_of[0]['trial']}{at}")))
    if scaling:
        console.print(scaling_table(scaling, title=escape("changing load ([load] profile or trace)")))
    repeated = stats_table(stats, title="over repeats")
    if repeated is not None:
        console.print(repeated)
    split = time_table(stage_times, trial_walls, info)
    if split is not None:
        console.print(split)
    if metrics:
        console.print(metrics_table(measured, title="measurements"))


def report(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")] = "last",
    db: DbOption = DEFAULT_DB_PATH,
    out: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """Write one self-contained HTML file (no network needed to view it) with the run's lifecycle table and plots:
    latency vs batch size and concurrency, latency vs offered rate with the SLO, accuracy over training time, each
    update's latency timeline, where the time went, and the accuracy–latency–size Pareto front."""
    from raylife.report.html import gather, render

    if out.exists() and out.is_dir():
        raise StoreError("the report's path is a folder", where=str(out), hint="give a file name, e.g. -o report.html")
    if not out.parent.exists():
        raise StoreError("the report's folder does not exist", where=str(out.parent), hint="create it first")
    with Store(db, read_only=True) as store:
        run_id = store.resolve_run(run)
        page = render(gather(store, run_id))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a report
    console.print(f"Wrote {out} ({len(page) / 1e6:.1f} MB): run {run_id}")


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def emit(columns: list[str], rows: list[tuple[Any, ...]], output: OutputFormat) -> None:
    """Rows as a Rich table, CSV, or strict JSON (every DuckDB type; NaN and infinity as null)."""
    if output is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
    elif output is OutputFormat.json:
        typer.echo(json.dumps([{c: jsonable(v) for c, v in zip(columns, row)} for row in rows], indent=2, allow_nan=False))
    else:
        console.print(query_table(columns, rows))


def query(
    sql: Annotated[Optional[str], typer.Argument(help="Read-only SQL, e.g. \"select * from lifecycle\".")] = None,
    db: DbOption = DEFAULT_DB_PATH,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    schema: Annotated[bool, typer.Option("--schema", help="List the tables and views with their columns.")] = False,
) -> None:
    # The docstring (the command's help) is set below from the schema itself.
    if not sql and not schema:
        raise StoreError("no SQL given", hint='pass a query, e.g. raylife query "select * from lifecycle", or --schema')
    with Store(db, read_only=True) as store:
        columns, rows = store.schema() if schema else store.query(sql or "")
    emit(columns, rows, output)


query.__doc__ = (
    "Run read-only SQL on the results: SELECT, PIVOT or EXPLAIN; DuckDB itself is locked against writes, file and "
    "network access and extensions. "
    f"Tables: {', '.join(table_names())}. Views: {', '.join(view_names())}. "
    "See every column with --schema."
)


def confirmed_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per trial whose serving search measured its best configurations again: what won then, and where
    it had ranked on its first measurement."""
    import json

    lines = []
    for trial in dict.fromkeys(r["trial"] for r in rows):
        mine = [r for r in rows if r["trial"] == trial]
        again = [json.loads(r["labels"]) | {"value": r["value"]} for r in mine if r["metric"] == "serving_config_confirmed"]
        best = next((json.loads(r["labels"]) for r in mine if r["metric"] == "serving_config_best"), None)
        scores = ", ".join(f"{a['config']} {a['value']:.4g} (first {a['first_score']:.4g})" if a["value"] is not None
                           else f"{a['config']} failed" for a in again)
        verdict = (f"best: [bold]{escape(best['config'])}[/], first ranked {best['first_rank']}" if best
                   else "none kept a score")
        lines.append(f"{escape(trial)}: the best {len(again)} measured again in fresh windows · {escape(scores)} · {verdict}")
    return lines
