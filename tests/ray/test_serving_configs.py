"""Serving configurations on a real run: one training, then every combination of the [serve] lists deployed on Ray
Serve, measured (closed-loop cells, the open-loop sweep) and deleted in turn; ``serving_configs`` has a row each and
``choose`` picks among them. By default the files lane measures two configurations per trial
(tests/ray/test_streamed_files.py); this one measures four, with the open loop."""

from __future__ import annotations

import json

import pytest

from tests.ray.helpers import raylife, rows, submit

pytestmark = pytest.mark.ray

FOUR = """
name = "serving-configs"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = { width = 8 }
[train]
epochs = 1
retrain_epochs = 0
[serve]
replicas = [1, 2]
max_batch_size = [1, 4]
cpus_per_replica = 0.25
batch_sizes = [1, 4]
concurrency = [1, 2]
requests = 20
warmup_requests = 2
stable_windows = 1
port = 8138
graceful_shutdown_wait_loop_s = 0.1
[load]
slo_p99_ms = 200
rates = [5, 10]
duration_s = 2
"""


@pytest.mark.slow  # ~2 min: four deployments measured after one training
def test_four_serving_configurations_of_one_trained_model(tmp_path):
    (tmp_path / "s.toml").write_text(FOUR)
    db = tmp_path / "r.duckdb"
    result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--num-cpus", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert rows(db, "SELECT count(*) AS n FROM measurements WHERE metric = 'train_wall_s'") == [{"n": 1}]  # one fit
    configs = rows(db, "SELECT * FROM serving_configs ORDER BY config_index")
    assert [(c["config"], c["replicas"], c["max_batch_size"], c["ok"]) for c in configs] == [
        ("r1-mb1", 1, 1, True), ("r1-mb4", 1, 4, True), ("r2-mb1", 2, 1, True), ("r2-mb4", 2, 4, True)]
    for c in configs:
        assert c["p50_ms_small"] > 0 and c["peak_samples_per_s"] > 0 and c["serve_errors"] == 0, c
        assert c["max_rps_at_slo"] is not None and c["deploy_ready_s"] > 0 and c["replica_rss_mb"] > 0, c
        assert c["usd_per_million_predictions"] > 0, c
    deployed = rows(db, "SELECT labels->>'config' AS config, value FROM measurements WHERE metric = 'replicas' "
                        "ORDER BY config")
    assert [(d["config"], d["value"]) for d in deployed] == [("r1-mb1", 1), ("r1-mb4", 1), ("r2-mb1", 2), ("r2-mb4", 2)]
    chosen = raylife("choose", "--db", db, "--by", "usd_per_million_predictions", "-f", "json")
    assert chosen.exit_code == 0, chosen.output
    picked = json.loads(chosen.stdout)
    assert sorted(p["trial"] for p in picked) == [f"cnn_small[width=8]/torch/w1 @ {c['config']}" for c in configs]
    assert picked[0]["usd_per_million_predictions"] == min(c["usd_per_million_predictions"] for c in configs)


GUIDED = FOUR.replace("port = 8138", "port = 8139").replace("max_batch_size = [1, 4]", "max_batch_size = [1, 2, 4]") + """
[serve.search]
algorithm = "optuna"
max_configs = 3
constraints = { p50_ms_small = "0.001ms" }
"""


@pytest.mark.slow  # ~1.5 min: three of six configurations, each stopped after its closed-loop cells
def test_a_guided_search_measures_what_tune_proposes_and_stops_what_breaks_a_limit(tmp_path):
    (tmp_path / "s.toml").write_text(GUIDED)
    db = tmp_path / "r.duckdb"
    result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--num-cpus", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    chosen = rows(db, "SELECT labels->>'config' AS config, CAST(value AS INTEGER) AS i, labels->>'chosen_by' AS by, "
                      "CAST(labels->>'order' AS INTEGER) AS n FROM measurements WHERE metric = 'serving_config' ORDER BY n")
    assert [c["n"] for c in chosen] == [1, 2, 3] and chosen[0]["i"] == 0  # the trial's own first, then Tune's picks
    assert {c["by"] for c in chosen} == {"optuna"} and len({c["config"] for c in chosen}) == 3
    # no answer takes a microsecond: every configuration broke the limit after its cells, and skipped the sweep
    stopped = rows(db, "SELECT labels->>'config' AS config, labels->>'reason' AS reason FROM measurements "
                       "WHERE metric = 'serving_config_stopped'")
    assert sorted(s["config"] for s in stopped) == sorted(c["config"] for c in chosen)
    assert all(s["reason"].startswith("p50_ms_small ") for s in stopped)
    assert rows(db, "SELECT count(*) AS n FROM measurements WHERE stage = 'load'") == [{"n": 0}]
