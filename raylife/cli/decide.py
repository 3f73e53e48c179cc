"""compare / choose: did a change make things worse, and which trial meets my limits. Parses, calls
``raylife.decide``, renders with ``raylife.report.decisions``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from raylife.cli.common import DEFAULT_DB_PATH, DbOption, console
from raylife.cli.results import OutputFormat, emit
from raylife.decide.choose import TAIL_COLUMNS, choose as choose_trials, parse_limit, resolve_column
from raylife.decide.compare import DEFAULT_THRESHOLD, MATCHES, compare as compare_runs
from raylife.errors import StoreError
from raylife.report.decisions import compare_summary, compare_table, failing_table, none_qualify, passing_table
from raylife.store import Store


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
        if shown:
            console.print(compare_table(shown, title=f"{a} (A) → {b} (B)"))
        console.print(compare_summary(result, all_rows))
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
        answers = store.tail_answers(run_ids) if any(l.column in TAIL_COLUMNS for l in limits) else None
    if not rows:
        raise StoreError(f"no finished trial in run{'s' if len(run_ids) > 1 else ''} {', '.join(run_ids)}")
    passing, failing, named = choose_trials(rows, limits, column, answers)
    if output is not OutputFormat.table:
        columns = ["run_id", "trial", "framework", "repeats", "meets", "rank", "pareto", *named, "broken"]
        out = [(c.run_id, c.trial, c.framework, c.repeats, True, i + 1, c.pareto, *(c.values[n] for n in named), "")
               for i, c in enumerate(passing)]
        out += [(c.run_id, c.trial, c.framework, c.repeats, False, None, False, *(c.values[n] for n in named),
                 "; ".join(c.broken)) for c in failing]
        emit(columns, out, output)
        return
    several = len(run_ids) > 1
    console.print(passing_table(passing, named, column, several) if passing else none_qualify(len(failing)))
    if failing:
        console.print(failing_table(failing, several))
