"""A rollout under load with ``[update] max_surge_percent = 0`` (Serve's default: stop the old replica, then start the
new one) against ``100`` (start the new one first), both frameworks, one suite run each, back to back.

    python benchmarks/update_surge.py [--rate 20] [--timeout 5]

Prints, per framework and setting, what the clients saw (update_s, failed requests, the longest gap without an
answer) and the replica states the failed requests were sent into (failed_while_starting: no replica was running
yet; failed_while_stopping), from what each run stored.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
SUITE = """
name = "update-surge-{surge}"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch", "tensorflow"]
[train]
epochs = 1
retrain_epochs = 1
[serve]
cpus_per_replica = 0.5
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 5
request_timeout_s = {timeout}
[update]
strategies = ["rollout"]
rate_rps = {rate}
before_s = 1.0
settle_s = 0.5
max_surge_percent = {surge}
"""
METRICS = ("update_s", "failed_requests", "max_gap_s", "failed_while_starting", "failed_while_stopping",
           "replica_stopping_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="raylife-surge-"))
    print(f"| framework | max_surge_percent | {' | '.join(METRICS)} |")
    print("| --- | --- |" + " --- |" * len(METRICS))
    for surge in (0, 100):
        suite, db = root / f"surge-{surge}.toml", root / f"surge-{surge}.duckdb"
        suite.write_text(SUITE.format(surge=surge, rate=args.rate, timeout=args.timeout))
        result = subprocess.run([sys.executable, "-m", "raylife", "submit", str(suite), "--db", str(db),
                                 "--storage-path", str(root / f"art-{surge}")], capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
            sys.exit(1)
        with duckdb.connect(str(db), read_only=True) as con:
            found = con.execute("SELECT t.framework, m.metric, m.value FROM measurements m JOIN trials t USING (trial_id) "
                                "WHERE m.stage = 'update' AND m.metric IN (" + ", ".join("?" * len(METRICS)) + ")",
                                list(METRICS)).fetchall()
        for framework in ("torch", "tensorflow"):
            values = {m: v for f, m, v in found if f == framework}
            cells = [f"{values[m]:.2f}" if m.endswith("_s") and values.get(m) is not None else
                     ("–" if values.get(m) is None else f"{values[m]:g}") for m in METRICS]
            print(f"| {framework} | {surge} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
