"""Rich tables for the decisions: ``compare`` (did a run get worse than another) and ``choose`` (which trials meet
the limits). Rendering only: the decisions themselves are ``raylife.decide``."""

from __future__ import annotations

import math

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from raylife.decide.choose import COLUMNS, Candidate
from raylife.decide.compare import Change, Comparison
from raylife.report import format as fmt

VERDICT_STYLE = {"regression": "bold red", "improvement": "green", "changed": "yellow", "same": "dim"}
SIZED = ("bytes", "MiB")  # units whose values carry their own (binary) unit in a table


def _side(n: int, median: float | None, low: float | None, high: float | None, unit: str) -> str:
    if median is None:
        return "–"
    half = (high - low) / 2 if low is not None and high is not None and n > 1 else None
    if unit in SIZED:
        return fmt.in_unit(median, unit) + (f" ±{fmt.in_unit(half, unit)}" if half is not None else "")
    return f"{median:.4g}" + (f" ±{half:.2g}" if half is not None else "")


def _change(c: Change) -> str:
    if c.change is None:
        return "–"
    return "new" if math.isinf(c.change) else f"{c.change:+.1%}"


def compare_table(changes: list[Change], title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("trial", "stage", "metric", "labels", "A", "B", "change", "by", "verdict"):
        table.add_column(name, justify="right" if name in ("A", "B", "change") else "left", no_wrap=True)
    for c in changes:
        table.add_row(escape(c.trial), c.stage, c.metric, escape(c.labels),
                      _side(c.a.n, c.a.median, c.a.low, c.a.high, c.unit),
                      _side(c.b.n, c.b.median, c.b.low, c.b.high, c.unit),
                      _change(c), c.rule, Text(c.verdict, style=VERDICT_STYLE[c.verdict]))
    return table


def compare_summary(result: Comparison, all_rows: bool) -> str:
    return (
        f"{len(result.changes)} metrics compared: {result.count('regression')} regressions, "
        f"{result.count('improvement')} improvements, {result.count('changed')} changed without a better side, "
        f"{result.count('same')} within noise"
        + (f"; only in A: {result.only_a}, only in B: {result.only_b}" if result.only_a or result.only_b else "")
        + ("" if all_rows else " (--all lists every metric)")
    )


def _heading(column: str) -> str:
    unit = COLUMNS[column][0]
    return column if unit in SIZED else f"{column}\n{unit}"


def passing_table(passing: list[Candidate], named: list[str], by: str | None, several_runs: bool) -> Table:
    table = Table(title=f"{len(passing)} trial{'s meet' if len(passing) != 1 else ' meets'} every limit"
                  + (f", best {by} first" if by else ""), title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False, caption="★ on the Pareto front of the metrics named (no other qualifying trial "
                  "is at least as good in all of them and better in one); values are medians over repeats; sizes "
                  "in binary units (KiB, MiB)", caption_justify="left")
    for name in ["#", *(["run"] if several_runs else []), "trial", *(_heading(n) for n in named), "front"]:
        table.add_column(name, justify="left" if name in ("trial", "run") else "right", no_wrap=True)
    for i, c in enumerate(passing):
        table.add_row(str(i + 1), *([c.run_id] if several_runs else []), escape(c.trial),
                      *(fmt.in_unit(c.values[n], COLUMNS[n][0]) for n in named), "★" if c.pareto else "")
    return table


def failing_table(failing: list[Candidate], several_runs: bool) -> Table:
    table = Table(title="do not qualify", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for name in [*(["run"] if several_runs else []), "trial", "limits broken"]:
        table.add_column(name, no_wrap=name != "limits broken")
    for c in failing:
        table.add_row(*([c.run_id] if several_runs else []), escape(c.trial), escape("; ".join(c.broken)))
    return table


def none_qualify(checked: int) -> Text:
    return Text(f"No trial meets every limit ({checked} checked).", style="bold yellow")


__all__ = ["compare_summary", "compare_table", "failing_table", "none_qualify", "passing_table"]
