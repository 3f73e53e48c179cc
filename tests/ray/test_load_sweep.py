"""The open-loop sweep on a real run: ``sweep.refine`` bisects between the last rate kept and the first broken, and
``confirm`` measures a broken rate again; both stored as the views read them. (The default run checks ``confirm``
through the cluster lane's repeated run, and the bisection itself in tests/unit.)"""

from __future__ import annotations

import json

import pytest

from tests.ray.helpers import one_small_cnn, rows, submit

pytestmark = pytest.mark.ray

REFINED = one_small_cnn("refined") + """
[serve]
cpus_per_replica = 0.5
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 2
stable_windows = 1
port = 8143
graceful_shutdown_wait_loop_s = 0.1
[load]
slo_p99_ms = 40
duration_s = 1
max_duration_s = 7   # 80 req/s: 6.9 s for the 459+ answers of a p99 verdict
confirm = 1
sweep = { start = 80, factor = 4, max = 5000, refine = 2 }   # 80, 320, 1280, 5120: one replica breaks on the way
"""


@pytest.mark.slow  # ~50 s: one training, one deployment, a sweep refined twice
def test_a_refined_sweep_measures_between_the_last_rate_kept_and_the_first_broken(tmp_path):
    (tmp_path / "s.toml").write_text(REFINED)
    db = tmp_path / "r.duckdb"
    result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--num-cpus", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    load = rows(db, "SELECT offered_rps, windows, p99_ms, errors, achieved_rps FROM load_summary ORDER BY offered_rps")
    swept = [r["offered_rps"] for r in load if r["offered_rps"] in (80, 320, 1280, 5120)]
    refined = [r for r in load if r["offered_rps"] not in swept]
    assert len(refined) == 2, load  # two middles, each between a rate kept and one broken
    [best] = rows(db, "SELECT value, labels FROM metrics WHERE metric = 'max_rps_at_slo'")
    [broken] = rows(db, "SELECT value FROM metrics WHERE metric = 'saturation_rps'")
    assert best["value"] is not None and "bound" not in json.loads(best["labels"]), best
    # the bracket closed to a quarter of the sweep's step (4 ** (1/4) = 1.41x), the knee inside it
    assert broken["value"] / best["value"] == pytest.approx(4 ** 0.25, rel=0.01)
    kept = [r["offered_rps"] for r in load if r["p99_ms"] is not None and r["p99_ms"] <= 40 and not r["errors"]]
    assert best["value"] == max(kept)
    # every rate that broke the SLO was measured twice (confirm = 1); the view holds the deciding window
    assert all(r["windows"] == 2 for r in load if r["offered_rps"] >= broken["value"])
