"""compare / choose: did a change make things worse, and which trial meets my limits."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from raylife.cli.common import DEFAULT_DB_PATH, DbOption, console
from raylife.cli.results import OutputFormat, emit
from raylife.errors import StoreError
from raylife.report.choose import COLUMNS, choose as choose_trials, parse_limit, resolve_column
from raylife.report.compare import DEFAULT_THRESHOLD, MATCHES, Change, compare as compare_runs
from raylife.store import Store

VERDICT_STYLE = {"regression": "bold red", "improvement": "green", "changed": "yellow", "same": "dim"}


def _num(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _side(n: int, median: float | None, low: float | None, high: float | None) -> str:
    if median is None:
        return "–"
    return f"{median:.4g}" + (f" ±{(high - low) / 2:.2g}" if low is not None and high is not None and n > 1 else "")


def _change(c: Change) -> str:
    if c.change is None:
        return "–"
    return "new" if math.isinf(c.change) else f"{c.change:+.1%}"


def compare(
    run_a: Annotated[str, typer.Argument(help="The baseline: a run id, a unique prefix, or 'last'.")],
    run_b: Annotated[str, typer.Argument(help="The run to judge against it.")] = "last",
    db: DbOption = DEFAULT_DB_PATH,
    trial: Annotated[Optional[list[str]], typer.Option("--trial", help="Only trials whose name contains this (repeatable).")] = None,
    metric: Annotated[Optional[list[str]], typer.Option("--metric", help="Only these metrics (repeatable).")] = None,
    match: Annotated[str, typer.Option(help="Pair trials by 'name', or by 'model' (model/framework/workers, options ignored).")] = "name",
    threshold: Annotated[float, typer.Option(min=0.0, max=100.0, help="Change that counts without repeats (fraction).")] = DEFAULT_THRESHOLD,
    all_rows: Annotated[bool, typer.Option("--all", help="List every metric compared, not only changes beyond noise.")] = False,
    fail_on_regression: Annotated[bool, typer.Option("--fail-on-regression", help="Exit 1 when any metric regressed (for CI).")] = False,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Compare two runs metric by metric: medians, the change, and whether it is beyond noise (the 95% intervals
    of the repeats do not overlap; without repeats, a change of at least --threshold)."""
    if match not in MATCHES:
        raise StoreError(f"--match {match!r} is not one of {', '.join(MATCHES)}")
    with Store(db, read_only=True) as store:
        a, b = store.resolve_run(run_a), store.resolve_run(run_b)
        info_a, info_b = store.run(a), store.run(b)
        rows_a, rows_b = store.metric_stats([a]), store.metric_stats([b])
    if trial:
        rows_a = [r for r in rows_a if any(t in r["trial"] for t in trial)]
        rows_b = [r for r in rows_b if any(t in r["trial"] for t in trial)]
    if metric:
        known = {r["metric"] for r in rows_a + rows_b}
        for name in metric:
            if name not in known:
                raise StoreError(f"no metric {name!r} in either run", where="--metric",
                                 hint="see `raylife metrics` or `raylife show RUN --metrics`")
        rows_a = [r for r in rows_a if r["metric"] in metric]
        rows_b = [r for r in rows_b if r["metric"] in metric]
    for ref, rows in ((run_a, rows_a), (run_b, rows_b)):
        if not rows:
            raise StoreError(f"run {ref} has no finished trial to compare" + (" matching --trial" if trial else ""))
    result = compare_runs(rows_a, rows_b, match=match, threshold=threshold)
    if not result.changes:
        raise StoreError(
            f"runs {a} (suite {info_a['suite']}) and {b} (suite {info_b['suite']}) share no trial and metric",
            hint="compare runs of the same suite, or pair trials by model with --match model")
    shown = result.changes if all_rows or output is not OutputFormat.table else [c for c in result.changes if c.beyond_noise]
    if output is OutputFormat.table:
        table = Table(title=f"{a} (A) → {b} (B)", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
        for name in ("trial", "stage", "metric", "labels", "A", "B", "change", "by", "verdict"):
            table.add_column(name, justify="right" if name in ("A", "B", "change") else "left", no_wrap=True)
        for c in shown:
            table.add_row(escape(c.trial), c.stage, c.metric, escape(c.labels),
                          _side(c.a.n, c.a.median, c.a.low, c.a.high), _side(c.b.n, c.b.median, c.b.low, c.b.high),
                          _change(c), c.rule, Text(c.verdict, style=VERDICT_STYLE[c.verdict]))
        if shown:
            console.print(table)
        console.print(
            f"{len(result.changes)} metrics compared: {result.count('regression')} regressions, "
            f"{result.count('improvement')} improvements, {result.count('changed')} changed without a better side, "
            f"{result.count('same')} within noise"
            + (f"; only in A: {result.only_a}, only in B: {result.only_b}" if result.only_a or result.only_b else "")
            + ("" if all_rows else " (--all lists every metric)")
        )
    else:
        columns = ["trial", "stage", "metric", "labels", "unit", "a_n", "a_median", "a_ci95_low", "a_ci95_high", "b_n",
                   "b_median", "b_ci95_low", "b_ci95_high", "change", "rule", "beyond_noise", "verdict"]
        emit(columns, [(c.trial, c.stage, c.metric, c.labels, c.unit, c.a.n, c.a.median, c.a.low, c.a.high, c.b.n,
                        c.b.median, c.b.low, c.b.high, c.change, c.rule, c.beyond_noise, c.verdict) for c in shown], output)
    if fail_on_regression and result.regressions:
        typer.echo(f"{len(result.regressions)} regressions beyond noise: "
                   + ", ".join(f"{c.trial} {c.metric}" for c in result.regressions[:5]), err=True)
        raise typer.Exit(1)


def choose(
    runs: Annotated[Optional[list[str]], typer.Argument(help="Runs to choose from (ids, prefixes, 'last'; default: last).")] = None,
    db: DbOption = DEFAULT_DB_PATH,
    maximum: Annotated[Optional[list[str]], typer.Option("--max", help="NAME=VALUE[UNIT]: an upper limit, e.g. p99_ms=20ms, bytes=50MB.")] = None,
    minimum: Annotated[Optional[list[str]], typer.Option("--min", help="NAME=VALUE[UNIT]: a lower limit, e.g. accuracy=0.95 or 95%.")] = None,
    by: Annotated[Optional[str], typer.Option(help="Rank the trials that qualify by this metric (best first).")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """The trials that meet every limit, ranked, with the Pareto front of the metrics named; and for each
    trial that fails, the limits it broke. Metrics: any column of the lifecycle and costs views (`raylife query
    --schema`), and the short names p50_ms, p99_ms (smallest batch), bytes (native format), throughput_rps."""
    limits = [parse_limit(t, "max") for t in maximum or []] + [parse_limit(t, "min") for t in minimum or []]
    column = resolve_column(by, f"--by {by}") if by else None
    if not limits and column is None:
        raise StoreError("no limit and nothing to rank by", hint="give --max NAME=VALUE, --min NAME=VALUE and/or --by NAME")
    with Store(db, read_only=True) as store:
        run_ids = list(dict.fromkeys(store.resolve_run(r) for r in (runs or ["last"])))
        rows = store.candidates(run_ids)
    if not rows:
        raise StoreError(f"no finished trial in run{'s' if len(run_ids) > 1 else ''} {', '.join(run_ids)}")
    passing, failing, named = choose_trials(rows, limits, column)
    if output is not OutputFormat.table:
        columns = ["run_id", "trial", "framework", "repeats", "meets", "rank", "pareto", *named, "broken"]
        out = [(c.run_id, c.trial, c.framework, c.repeats, True, i + 1, c.pareto, *(c.values[n] for n in named), "")
               for i, c in enumerate(passing)]
        out += [(c.run_id, c.trial, c.framework, c.repeats, False, None, False, *(c.values[n] for n in named),
                 "; ".join(c.broken)) for c in failing]
        emit(columns, out, output)
        return
    several = len(run_ids) > 1
    if passing:
        table = Table(title=f"{len(passing)} trial{'s meet' if len(passing) != 1 else ' meets'} every limit"
                      + (f", best {column} first" if column else ""), title_justify="left", box=box.SIMPLE_HEAD,
                      show_edge=False, caption="★ on the Pareto front of the metrics named (no other qualifying trial "
                      "is at least as good in all of them and better in one); values are medians over repeats",
                      caption_justify="left")
        for name in ["#", *(["run"] if several else []), "trial", *(f"{n}\n{COLUMNS[n][0]}" for n in named), "front"]:
            table.add_column(name, justify="left" if name in ("trial", "run") else "right", no_wrap=True)
        for i, c in enumerate(passing):
            table.add_row(str(i + 1), *([c.run_id] if several else []), escape(c.trial),
                          *(_num(c.values[n]) for n in named), "★" if c.pareto else "")
        console.print(table)
    else:
        console.print(Text(f"No trial meets every limit ({len(failing)} checked).", style="bold yellow"))
    if failing:
        table = Table(title="do not qualify", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
        for name in [*(["run"] if several else []), "trial", "limits broken"]:
            table.add_column(name, no_wrap=name != "limits broken")
        for c in failing:
            table.add_row(*([c.run_id] if several else []), escape(c.trial), escape("; ".join(c.broken)))
        console.print(table)
