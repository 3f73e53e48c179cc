"""Serving configurations on a real run: one training, then every combination of the [serve] lists deployed on Ray
Serve, measured (closed-loop cells, the open-loop sweep) and deleted in turn; ``serving_configs`` has a row each and
``choose`` picks among them. By default the files lane measures two configurations per trial
(tests/ray/test_streamed_files.py); this one measures four, with the open loop."""

from __future__ import annotations

import json

import pytest

from tests.ray.helpers import one_small_cnn, raylife, rows, submit

pytestmark = pytest.mark.ray

FOUR = one_small_cnn("serving-configs") + """
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
rates = [60]
duration_s = 2
max_duration_s = 10   # 9.2 s at 60 req/s: the answers a p99 verdict needs
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


@pytest.mark.slow  # ~2.5 min: a search killed after two of its three configurations, then resumed
def test_submit_resume_continues_a_search_where_it_was_killed(tmp_path):
    import os
    import signal
    import subprocess
    import time

    from tests.conftest import RAYLIFE, REPO

    suite, db = tmp_path / "s.toml", tmp_path / "r.duckdb"
    suite.write_text(GUIDED.replace("port = 8139", "port = 8140"))
    args = [*RAYLIFE, "submit", str(suite), "--db", str(db), "--storage-path", str(tmp_path / "art"), "--num-cpus", "2"]
    first = subprocess.Popen(args, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "(2 of 3 configurations)" in line:
            break
    killed_at = time.time()
    os.killpg(first.pid, signal.SIGKILL)  # the driver and its embedded Ray, as a lost machine would take them
    first.wait(timeout=30)
    assert any("(2 of 3 configurations)" in line for line in seen), "".join(seen)
    _wait_port_free(8140)  # the dead driver's Ray (its Serve proxy) goes down on its own, within seconds
    [trial] = rows(db, "SELECT status, error FROM trials")
    assert trial["status"] == "failed" and trial["error"].startswith("interrupted after 2 of 3 serving configurations")
    before = rows(db, "SELECT labels->>'config' AS config FROM measurements WHERE metric = 'serving_config' ORDER BY value")

    resumed = subprocess.run([*args, "--resume", "last"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    [trial] = rows(db, "SELECT status FROM trials")
    assert trial["status"] == "ok"
    chosen = rows(db, "SELECT labels->>'config' AS config, CAST(labels->>'order' AS INTEGER) AS n FROM measurements "
                      "WHERE metric = 'serving_config' ORDER BY n")
    assert [c["n"] for c in chosen] == [1, 2, 3] and len({c["config"] for c in chosen}) == 3  # none twice
    assert {c["config"] for c in chosen[:2]} == {b["config"] for b in before}  # taken over, in the search's order
    deployed = rows(db, "SELECT labels->>'config' AS config, CAST(labels->>'started_unix' AS DOUBLE) AS at "
                        "FROM measurements WHERE stage = 'deploy' AND metric = 'stage_wall_s'")
    when = {d["config"]: d["at"] for d in deployed}
    assert all(when[c["config"]] < killed_at for c in chosen[:2]) and when[chosen[2]["config"]] > killed_at, when
    assert rows(db, "SELECT count(*) AS n FROM measurements WHERE metric = 'train_wall_s'") == [{"n": 1}]


def _wait_port_free(port: int, timeout_s: float = 60) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                return
            except OSError:
                assert time.monotonic() < deadline, f"port {port} still held {timeout_s:.0f} s after the driver died"
        time.sleep(0.5)
