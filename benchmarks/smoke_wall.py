"""Wall time of `raylife submit suites/smoke.toml`, median of several runs, and where the time goes.

    python benchmarks/smoke_wall.py [--runs 3] [--suite suites/smoke.toml]

Each run is a fresh `raylife` process on a fresh embedded Ray, as a user starts it. The split comes from what
raylife itself stored for that run (ray_start_s and the train/retrain breakdowns), so the numbers printed are the
numbers in the database.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]

PARTS = {
    "ray start-up (ray.init)": "SELECT ray_start_s FROM runs",
    "Ray Train worker start (train + retrain)": "SELECT sum(value) FROM measurements WHERE metric IN ('train_worker_start_s', 'retrain_worker_start_s')",
    "loop setup: data, model, process group": "SELECT sum(value) FROM measurements WHERE metric IN ('train_loop_setup_s', 'retrain_loop_setup_s')",
    "training compute (epochs)": "SELECT sum(value) FROM measurements WHERE metric IN ('train_compute_s', 'retrain_compute_s')",
    "Ray Train teardown": "SELECT sum(value) FROM measurements WHERE metric IN ('train_teardown_s', 'retrain_teardown_s')",
    "Serve start (serve.start)": "SELECT coalesce(serve_start_s, 0) FROM runs",
    "deploy until every replica answers": "SELECT coalesce(sum(value), 0) FROM measurements WHERE metric = 'deploy_ready_s'",
    "updates under load (both strategies)": "SELECT coalesce(sum(value), 0) FROM measurements WHERE metric = 'update_s'",
    "application teardown": "SELECT coalesce(sum(value), 0) FROM measurements WHERE metric = 'teardown_s'",
    "all Ray Train fits (wall)": "SELECT sum(value) FROM measurements WHERE metric IN ('train_wall_s', 'retrain_wall_s')",
    "trials (wall, all stages)": "SELECT sum(wall_s) FROM trials",
    "run (wall, inside the process)": "SELECT wall_s FROM runs",
}


def one_run(suite: Path, workdir: Path) -> dict[str, float]:
    db = workdir / "bench.duckdb"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "raylife", "submit", str(suite), "--db", str(db), "--storage-path", str(workdir / "artifacts")],
        capture_output=True, text=True, cwd=REPO,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"submit failed:\n{result.stdout}\n{result.stderr}")
    con = duckdb.connect(str(db), read_only=True)
    out = {name: float(con.execute(sql).fetchone()[0] or 0) for name, sql in PARTS.items()}
    con.close()
    out["process (wall, as the user waits)"] = wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--suite", type=Path, default=REPO / "suites" / "smoke.toml")
    args = parser.parse_args()
    results = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(one_run(args.suite, Path(tmp)))
        print(f"run {i + 1}/{args.runs}: {results[-1]['process (wall, as the user waits)']:.1f} s", flush=True)
    names = ["process (wall, as the user waits)", *PARTS]
    width = max(map(len, names))
    print(f"\n{args.suite.name}: median of {args.runs} runs (min – max), seconds")
    for name in names:
        values = [r[name] for r in results]
        print(f"  {name:<{width}}  {statistics.median(values):7.2f}  ({min(values):.2f} – {max(values):.2f})")


if __name__ == "__main__":
    main()
