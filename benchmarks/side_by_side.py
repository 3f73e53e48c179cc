"""Wall time of one development-only suite with trials one at a time vs two at a time (Ray Tune), alternating.

    python benchmarks/side_by_side.py [--runs 3] [--concurrency 1 2]

The suite: cnn_small in PyTorch on digits, four trials (batch size 32/64 x learning rate 0.003/0.001), 2 epochs,
1 worker each, no retraining, no serving. Each run is a fresh `raylife submit` process on a fresh embedded Ray, as a
user starts it; the runs alternate between the settings so drift on a shared machine hits both. Printed: each run's
process wall time and the run's own stored wall, the medians, the speed-up, and the median train_wall_s per setting
(the cost of sharing the cores, which every trial also stores as trials_beside).
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

SUITE = """
name = "side-by-side-bench"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[train]
epochs = 2
batch_size = [32, 64]
learning_rate = [0.003, 0.001]
retrain_epochs = 0
[run]
max_concurrent_trials = {concurrency}
"""


def one_run(concurrency: int, workdir: Path) -> dict[str, float]:
    suite = workdir / f"suite-{concurrency}-{time.time_ns()}.toml"
    suite.write_text(SUITE.format(concurrency=concurrency))
    db = workdir / f"{suite.stem}.duckdb"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "raylife", "submit", str(suite), "--db", str(db), "--storage-path", str(workdir / "artifacts")],
        capture_output=True, text=True, cwd=REPO,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"submit failed:\n{result.stdout}\n{result.stderr}")
    con = duckdb.connect(str(db), read_only=True)
    run_wall = con.execute("SELECT wall_s FROM runs").fetchone()[0]
    trials = con.execute("SELECT count(*) FROM trials WHERE status = 'ok'").fetchone()[0]
    train = con.execute("SELECT median(value) FROM measurements WHERE metric = 'train_wall_s'").fetchone()[0]
    beside = con.execute("SELECT max(value) FROM measurements WHERE metric = 'trials_beside'").fetchone()[0]
    con.close()
    assert trials == 4, f"{trials} of 4 trials ok"
    return {"process_s": wall, "run_s": run_wall, "train_wall_s": train, "max_trials_beside": beside}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    results: dict[int, list[dict[str, float]]] = {c: [] for c in args.concurrency}
    with tempfile.TemporaryDirectory(prefix="raylife-sbs-") as tmp:
        for run in range(args.runs):
            for concurrency in args.concurrency:
                out = one_run(concurrency, Path(tmp))
                results[concurrency].append(out)
                print(f"run {run + 1}, max_concurrent_trials={concurrency}: process {out['process_s']:.1f} s, "
                      f"run {out['run_s']:.1f} s, median train_wall_s {out['train_wall_s']:.1f} s, "
                      f"max trials_beside {out['max_trials_beside']:g}", flush=True)
    medians = {c: statistics.median(r["process_s"] for r in rs) for c, rs in results.items()}
    for c, rs in results.items():
        print(f"max_concurrent_trials={c}: median process wall {medians[c]:.1f} s "
              f"(run {statistics.median(r['run_s'] for r in rs):.1f} s), "
              f"median train_wall_s {statistics.median(r['train_wall_s'] for r in rs):.1f} s")
    base = args.concurrency[0]
    for c in args.concurrency[1:]:
        print(f"speed-up {base} → {c}: {medians[base] / medians[c]:.2f}x")


if __name__ == "__main__":
    main()
