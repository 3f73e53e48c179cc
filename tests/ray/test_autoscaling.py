"""Autoscaling on a real local Ray: one training, then Serve autoscaling between 1 and 2 replicas and 2 fixed replicas,
each under the same step profile (low, high, low) from the open-loop client. The autoscaled deployment must scale up
and back down, with every figure stored: scale_up_s, the cold start's parts, SLO misses, scale_down_s,
replica_seconds against the fixed baseline, and the per-second timeline."""

from __future__ import annotations

import pytest

from tests.ray.helpers import one_small_cnn, raylife, rows, submit

pytestmark = pytest.mark.ray

SUITE = one_small_cnn("autoscaling-test") + """
[serve]
cpus_per_replica = 0.25
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 2
stable_windows = 1
port = 8141
graceful_shutdown_wait_loop_s = 0.1
[serve.autoscaling]
min_replicas = 1
max_replicas = 2
target_ongoing_requests = 0.1
upscale_delay_s = 0.5
downscale_delay_s = 3
look_back_period_s = 1
metrics_interval_s = 0.25
baseline_replicas = 2
[load]
slo_p99_ms = 100
profile = [{ rps = 2, s = 5 }, { rps = 60, s = 15 }, { rps = 2, s = 12 }]
"""


@pytest.mark.slow  # ~2 min: one training, then two deployments under a 32 s profile each
def test_autoscaling_steps_up_and_down_and_stores_what_it_cost(tmp_path):
    (tmp_path / "s.toml").write_text(SUITE)
    db = tmp_path / "r.duckdb"
    result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--num-cpus", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    auto, fixed = rows(db, "SELECT * FROM scaling ORDER BY config")
    assert (auto["config"], fixed["config"]) == ("auto1-2", "r2")
    assert auto["replicas_max"] == 2 and auto["new_replicas"] >= 1, auto  # at least one scale-up observed
    # Serve reports the replica running before the proxy routes it a request: either can come first
    assert 0 < auto["scale_up_first_s"] < 15 and 0 < auto["scale_up_s"] < 15, auto
    for part in ("cold_scheduling_s", "cold_constructor_s", "cold_load_s", "cold_first_answer_s"):
        assert auto[part] is not None and auto[part] >= 0, (part, auto)
    assert auto["scale_down_s"] is not None and 0 < auto["scale_down_s"] < 12, auto
    assert auto["transition_slo_misses"] is not None and auto["transition_failed"] == 0, auto
    # the fixed baseline pays two replicas all along; the autoscaled one pays two only while the load is high
    assert fixed["replicas_max"] == 2 and fixed["scale_up_s"] is None and fixed["new_replicas"] == 0, fixed
    assert 0 < auto["replica_seconds"] < fixed["replica_seconds"] <= 2 * 32 + 1, (auto, fixed)
    assert auto["sent"] == fixed["sent"] > 800  # one schedule, sent to both
    seconds = rows(db, "SELECT config, second, offered_rps, replicas_running FROM load_timeline ORDER BY config, second")
    assert len([s for s in seconds if s["config"] == "auto1-2"]) == 32
    running = [s["replicas_running"] for s in seconds if s["config"] == "auto1-2"]
    # down again after the drop (the policy, reading noise at 2 requests/s, may add a replica again after that)
    assert running[0] == 1 and max(running) == 2 and min(running[20:]) == 1, running
    shown = raylife("show", "--db", db)
    assert shown.exit_code == 0 and "changing load" in shown.stdout, shown.output


TRACED = one_small_cnn("trace-test") + """
[serve]
cpus_per_replica = 0.5
batch_sizes = [1]
concurrency = [1]
requests = 10
warmup_requests = 2
stable_windows = 1
port = 8142
[load]
slo_p99_ms = 200
trace = "arrivals.csv"
"""


@pytest.mark.slow  # ~1 min: a trace of 120 requests of two batch sizes replayed against one replica
def test_a_trace_is_replayed_with_each_requests_batch_size(tmp_path):
    lines = ["send_s,batch_size"] + [f"{i * 0.05:.2f},{1 if i % 3 else 4}" for i in range(120)]
    (tmp_path / "arrivals.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "s.toml").write_text(TRACED)
    db = tmp_path / "r.duckdb"
    result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--num-cpus", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [row] = rows(db, "SELECT * FROM scaling")
    assert row["sent"] == 120 and row["errors"] == 0 and row["trace"].endswith("arrivals.csv"), row
    assert row["replicas"] == 1 and row["replica_seconds"] == pytest.approx(5.95, abs=0.6), row
    [sent] = rows(db, "SELECT count(*) AS n, count(batch_size) AS sized FROM latencies WHERE phase = 'load-profile'")
    assert sent == {"n": 120, "sized": 0}  # two batch sizes in one schedule: none is the measurement's
    seconds = rows(db, "SELECT second, offered_rps FROM load_timeline ORDER BY second")
    assert [s["offered_rps"] for s in seconds] == [20] * 6  # sends at 0.00, 0.05 .. 5.95 s
