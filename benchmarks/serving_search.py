"""Does a guided search find a good serving configuration while measuring few? suites/serving_search.toml's grid of 24
configurations, measured once, against searches over the same figures.

    python benchmarks/serving_search.py [--db serving_search.duckdb] [--run RUN] [--seeds 0 1 2]
                                        [--against OTHER.duckdb[:RUN]]

Without ``--run`` it first submits the suite with ``algorithm = "grid"`` (every configuration deployed and measured,
~30 min on 2 cores) into ``--db``. ``--against`` names another grid run of the suite and prints how well the two
agree (Spearman rank correlation of the objective over the same configurations): a search can only find "the best"
where measuring the grid twice gives the same ranking. Then, for each seed, it runs raylife's own proposer (``runner.serving_search``: Ray
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
    parser.add_argument("--per-cpu", choices=("suite", "on", "off"), default="suite",
                        help="replay with the objective divided by the configuration's replica CPUs or not "
                             "(default: as the suite says); the same measured grid answers both")
    parser.add_argument("--against", help="another grid run, FILE.duckdb[:RUN] (default run: the last)")
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
        if args.per_cpu != "suite":
            trial = replace(trial, serve_search=replace(trial.serve_search, per_cpu=args.per_cpu == "on"))
        replay(trial, run_id, args.db, args.seeds)
        if args.against:
            other_db, _, other_run = args.against.partition(":")
            agreement(trial, (args.db, run_id), (Path(other_db), other_run or "last"))


def grid_figures(db: Path, run: str, trial_name: str, objective: str) -> dict[str, float | None]:
    """One stored run's objective per configuration of a trial."""
    from raylife.store import Store

    with Store(db, read_only=True) as store:
        run_id = store.resolve_run(run)
        return {r["config"]: r.get(objective) for r in store.serving_configs(run_id) if r["trial"] == trial_name}


def agreement(trial, run: tuple[Path, str], other: tuple[Path, str]) -> None:
    """How two grid runs of the same configurations agree: Spearman rank correlation of the objective (SciPy's,
    ties averaged; a configuration without a figure ranks last), and the largest ratio between them."""
    from scipy.stats import spearmanr

    objective = trial.serve_search.objective
    a, b = grid_figures(*run, trial.name, objective), grid_figures(*other, trial.name, objective)
    keys = sorted(set(a) & set(b))
    if len(keys) < 3:
        print(f"  {trial.name}: the runs share {len(keys)} configurations; nothing to correlate")
        return
    x = [a[k] if a[k] is not None else 0.0 for k in keys]
    y = [b[k] if b[k] is not None else 0.0 for k in keys]
    rho = spearmanr(x, y).statistic
    ratios = sorted((max(p, q) / min(p, q), k) for k, p, q in zip(keys, x, y) if p and q)
    widest = f"; widest apart {ratios[-1][1]} ({ratios[-1][0]:.2f}x)" if ratios else ""
    top_a, top_b = max(keys, key=lambda k: a[k] or 0), max(keys, key=lambda k: b[k] or 0)
    print(f"  {trial.name}: against {other[0]}:{other[1]}, Spearman rho {rho:.2f} over {len(keys)} configurations; "
          f"best {top_a} here, {top_b} there{widest}")


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
    print(f"{trial.name}, run {run_id}: {len(grid)} configurations measured; best {plan.objective}{' per CPU' if plan.per_cpu else ''} {best:g} ({best_key}); "
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
