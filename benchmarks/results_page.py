"""Measured figures as Markdown, generated from stored runs: one row per run with its command, machine, date and
wall time, and one per trial with its headline figures (median, min and max over its repeats).

    python benchmarks/results_page.py RESULTS.duckdb [MORE.duckdb ...] [--runs RUN ...] > figures.md

docs/results.md pastes what this prints; nothing in it is typed in by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

HEADLINE = ("accuracy", "train_wall_s", "p50_ms", "p99_ms", "max_rps_at_slo", "update_s", "deploy_ready_s")


def runs(db: Path, only: list[str]) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        where = f"WHERE r.run_id IN ({', '.join('?' * len(only))})" if only else ""
        return con.execute(
            "SELECT r.run_id, r.suite, r.suite_path, r.submitted_at, r.wall_s, r.status, r.raylife_version, "
            "r.git_commit, any_value(e.cpu), any_value(e.cpu_count), any_value(e.memory_gb), any_value(e.gpu), "
            "any_value(e.ray), any_value(e.torch), any_value(e.tensorflow) "
            f"FROM runs r LEFT JOIN trials t USING (run_id) LEFT JOIN environments e USING (trial_id) {where} "
            "GROUP BY ALL ORDER BY r.submitted_at", only).fetchall()


def figures(db: Path, run_id: str) -> list[tuple]:
    """Per trial and headline metric: the median, min, max and count over its repeats (metric_stats)."""
    with duckdb.connect(str(db), read_only=True) as con:
        marks = ", ".join("?" * len(HEADLINE))
        return con.execute(
            "SELECT trial, stage, metric, unit, median, min, max, n, CAST(labels AS VARCHAR) FROM metric_stats "
            f"WHERE run_id = ? AND metric IN ({marks}) AND median IS NOT NULL ORDER BY trial, stage, metric, labels",
            [run_id, *HEADLINE]).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dbs", nargs="+", type=Path)
    parser.add_argument("--runs", nargs="*", default=[], help="only these run ids")
    args = parser.parse_args()
    print("| run | suite | command | date (UTC) | machine | wall | status |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    found = []
    for db in args.dbs:
        for (run_id, suite, path, submitted, wall, status, version, commit, cpu, cpus, memory, gpu, ray, torch,
             tf) in runs(db, args.runs):
            machine = f"{cpus} x {cpu}, {memory:.0f} GiB, {gpu or 'no GPU'}; Ray {ray}, torch {torch}, TensorFlow {tf}"
            print(f"| `{run_id}` | {suite} | `raylife submit {path}` (raylife {version}, {(commit or '')[:7]}) | "
                  f"{submitted:%Y-%m-%d %H:%M} | {machine} | {wall:.0f} s | {status} |")
            found.append((db, run_id))
    for db, run_id in found:
        print(f"\n`{run_id}`, median [min, max] over n repeats:\n")
        print("| trial | stage | metric | labels | median | min | max | n |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for trial, stage, metric, unit, median, low, high, n, labels in figures(db, run_id):
            print(f"| {trial} | {stage} | {metric} ({unit}) | `{labels}` | {median:.4g} | {low:.4g} | {high:.4g} | {n} |")


if __name__ == "__main__":
    main()
