"""Does a guided search find a good serving configuration while measuring few? suites/serving_search.toml's grid of 24
configurations, measured once, against searches over the same figures.

    python benchmarks/serving_search.py [--db serving_search.duckdb] [--run RUN] [--seeds 0 1 2]

Without ``--run`` it first submits the suite with ``algorithm = "grid"`` (every configuration deployed and measured,
~10 min on 2 cores) into ``--db``. Then, for each seed, it runs raylife's own proposer (``runner.serving_search``: Ray
Tune's OptunaSearch with TPE, and with a random sampler as the baseline) with ``max_configs`` = 30% of the grid,
answering each proposal with the figures the grid run **measured** for that configuration — so every search sees
real numbers, and the searches differ only in what they choose to measure. Printed per search: configurations
measured, the best objective found against the grid's best; and the medians over the seeds. Target: a guided search
measures <= 30% of the grid and finds a configuration within 10% of the grid's best (median of 3 searches).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SUITE = REPO / "suites" / "serving_search.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("serving_search.duckdb"))
    parser.add_argument("--run", help="a stored grid run of the suite (default: submit one now)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    from raylife.plan import plan_trials
    from raylife.store import Store
    from raylife.suite import load_suite

    run = args.run
    if run is None:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "raylife", "submit", str(SUITE), "--db", str(args.db)], cwd=REPO)
        if done.returncode != 0:
            raise SystemExit("Error: the grid run failed; see its output above")
        run = "last"
        print(f"grid run: {time.perf_counter() - started:.0f} s")
    with Store(args.db, read_only=True) as store:
        run_id = store.resolve_run(run)
    suite, _ = load_suite(SUITE)
    for trial in plan_trials(suite, str(SUITE)):
        replay(trial, run_id, args.db, args.seeds)


def replay(trial, run_id: str, db: Path, seeds: list[int]) -> None:
    """Searches over one trial's measured grid (see the module)."""
    from raylife.plan.serving import GUIDED_SHARE, SearchPlan
    from raylife.runner.serving_search import ConfigProposer
    from raylife.store import Store

    with Store(db, read_only=True) as store:
        measured = {r["config"]: r for r in store.serving_configs(run_id) if r["trial"] == trial.name}
    grid = trial.serve_configs
    plan = trial.serve_search
    missing = [c.key for c in grid if c.key not in measured]
    if missing:
        raise SystemExit(f"Error: run {run_id} lacks configurations {', '.join(missing[:5])}: measure the whole grid")

    def figures(config):
        return {k: measured[config.key].get(k) for k in ("max_rps_at_slo", "p50_ms_small", "p99_ms_small",
                                                          "peak_samples_per_s", "replica_rss_mb",
                                                          "usd_per_million_predictions", "deploy_ready_s")}

    scores = {c.key: plan.score(figures(c), c.spec.replicas * c.spec.cpus_per_replica) for c in grid}
    best_key = max((k for k in scores if scores[k] is not None), key=lambda k: scores[k] * (1 if plan.mode == "max" else -1))
    best = scores[best_key]
    budget = int(GUIDED_SHARE * len(grid))
    print(f"{trial.name}, run {run_id}: {len(grid)} configurations measured; best {plan.objective} {best:g} ({best_key}); "
          f"searches measure {budget} ({budget / len(grid):.0%})")
    results: dict[str, list[float]] = {}
    for algorithm in ("optuna", "random"):
        for seed in seeds:
            search = SearchPlan(algorithm, plan.objective, plan.mode, plan.per_cpu, budget, plan.limits, seed)
            proposer = ConfigProposer(replace(trial, serve_search=search))
            chosen = []
            for config in proposer:
                chosen.append(config.key)
                proposer.measured(config, figures(config))
            scored = [s for s in proposer.scores.values() if s is not None]
            found = (max(scored) if plan.mode == "max" else min(scored)) if scored else None
            share = 0.0 if found is None else found / best if plan.mode == "max" else best / found
            results.setdefault(algorithm, []).append(share)
            print(f"  {algorithm} seed {seed}: measured {len(chosen)} ({', '.join(chosen)}); best found {found} "
                  f"= {share:.1%} of the grid's best")
    for algorithm, shares in results.items():
        print(f"{algorithm}: median of {len(shares)} searches finds {statistics.median(shares):.1%} of the grid's best "
              f"measuring {budget}/{len(grid)} configurations (target for the guided search: >= 90%)")


if __name__ == "__main__":
    main()
