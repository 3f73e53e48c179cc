"""Serving configurations ([serve] settings given as lists): planned once per trial, stored with their settings, one
row each in ``serving_configs``, and ``choose`` ranks model x configuration. On a run written through ``Store`` in the
shapes the runner records them (the runner itself, deploying each: tests/ray/test_serving_configs.py)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from raylife.cli import app
from raylife.errors import RaylifeError
from raylife.plan import plan_trials
from raylife.records import TrialRecord
from raylife.runner.run import stage_groups
from raylife.store import Store
from raylife.suite import parse_suite
from tests.stored_runs import MACHINE, samples, store_records

CONFIGS = """name = "configs"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[train]
epochs = 1
[serve]
replicas = [1, 2]
max_batch_size = [1, 8]
cpus_per_replica = 0.5
batch_sizes = [1, 8]
concurrency = [1]
[update]
strategies = ["reconfigure"]
[cost]
cpu_hour_usd = 0.36
"""
RUN = "20261201-100000-conf"


def test_settings_given_as_lists_plan_configurations_inside_one_trial():
    [trial] = plan_trials(parse_suite(CONFIGS))
    assert [c.key for c in trial.serve_configs] == ["r1-mb1", "r1-mb8", "r2-mb1", "r2-mb8"]
    assert trial.serve.replicas == 1 and trial.serve.max_batch_size == 1  # the trial's own: the first
    assert [c.spec.replicas * c.spec.cpus_per_replica for c in trial.serve_configs] == [0.5, 0.5, 1.0, 1.0]
    groups = stage_groups(trial)
    assert groups[0] == (None, ["train", "evaluate", "persist", "retrain"])
    assert [(c.key, names) for c, names in groups[1:]] == [
        ("r1-mb1", ["deploy", "serve", "update", "teardown"]), ("r1-mb8", ["deploy", "serve", "teardown"]),
        ("r2-mb1", ["deploy", "serve", "teardown"]), ("r2-mb8", ["deploy", "serve", "teardown"])]
    assert trial.params()["serve_configs"][3] == {
        "index": 3, "key": "r2-mb8", "replicas": 2, "cpus_per_replica": 0.5, "gpus_per_replica": 1.0,
        "max_batch_size": 8, "batch_wait_timeout_s": 0.005, "max_ongoing_requests": 32, "format": "state_dict",
        "autoscaling": None}
    [single] = plan_trials(parse_suite(CONFIGS.replace("replicas = [1, 2]\nmax_batch_size = [1, 8]\n", "")))
    assert single.serve_configs == () and stage_groups(single) == [(None, list(single.stages))]


@pytest.mark.parametrize("setting, message", [
    ("replicas = [1, 1]", "serve.replicas = [1, 1] is invalid: 1 is listed twice"),
    ("replicas = []", "serve.replicas = [] is invalid"),
    ("max_batch_size = [0, 4]", "serve.max_batch_size[0] = 0 is invalid: Input should be greater than or equal to 1"),
    ("replicas = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]\nmax_batch_size = "
     "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]", "272 serving configurations (17 x 16); at most 256"),
])
def test_bad_serving_lists_fail_in_one_line(setting, message):
    text = CONFIGS.replace("replicas = [1, 2]\nmax_batch_size = [1, 8]\n", setting + "\n")
    with pytest.raises(RaylifeError) as info:
        parse_suite(text, "s.toml")
    assert message in str(info.value)


def record_with_configs(trial) -> TrialRecord:
    """The measurements the runner stores for a trial with serving configurations: training once, then per
    configuration its settings and serve cells under the configuration's labels. More replicas answer more requests
    per second; server-side batching cuts the latency of batch-8 requests (a test's inputs, not measurements)."""
    r = TrialRecord(run_id=RUN, trial=trial, status="ok")
    r.started_at, r.finished_at, r.environment = datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 10, 5), MACHINE
    r.add("train", "train_wall_s", 12.0, "s")
    r.add("evaluate", "accuracy", 0.93, "ratio")
    for config in trial.serve_configs:
        r.context = config.labels()
        r.add("deploy", "serving_config", config.index, "count", **config.settings())
        r.add("deploy", "deploy_ready_s", 3.0 * config.spec.replicas, "s", replicas=config.spec.replicas)
        r.add("deploy", "replica_rss_mb", 300.0 + config.spec.max_batch_size, "MiB")
        if config.key == "r2-mb1":
            r.add("deploy", "serving_config_failed", 1, "count", error="ClusterError: 2 replicas x 0.5 CPUs need 1 CPUs")
            r.context = {}
            continue
        for batch in (1, 8):
            p50 = 5.0 * (1 + batch / (8 if config.spec.max_batch_size == 1 else 32))
            labels = {"repeat": 0, "path": "http", "batch_size": batch, "concurrency": 1}
            r.add("serve", "p50_ms", p50, "ms", **labels)
            r.add("serve", "p99_ms", 2 * p50, "ms", **labels)
            r.add("serve", "throughput_rps", 1000 / p50 * config.spec.replicas, "requests/s", **labels)
            r.add("serve", "samples_per_s", 1000 / p50 * config.spec.replicas * batch, "samples/s", **labels)
            r.add("serve", "errors", 0, "count", **labels)
            r.add_latencies("serve", "http", samples(p50 / 1.1, 30), batch, 1)  # raw answers around the stored p50
        r.context = {}
    return r


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    db = tmp_path_factory.mktemp("configs") / "c.duckdb"
    [trial] = plan_trials(parse_suite(CONFIGS))
    store_records(db, RUN, CONFIGS, [record_with_configs(trial)], suite="configs", submitted_at=datetime(2026, 12, 1, 10))
    return db


def test_serving_configs_has_a_row_per_configuration_with_its_settings_and_figures(db):
    with Store(db, read_only=True) as store:
        rows = store.rows("SELECT * FROM serving_configs ORDER BY config_index")
        lifecycle = store.rows("SELECT p50_ms_small, peak_samples_per_s, deploy_ready_s FROM lifecycle")
        configs_of_latencies = store.rows("SELECT DISTINCT config FROM latencies ORDER BY config")
    assert [(r["config"], r["replicas"], r["max_batch_size"], r["ok"]) for r in rows] == [
        ("r1-mb1", 1, 1, True), ("r1-mb8", 1, 8, True), ("r2-mb1", 2, 1, False), ("r2-mb8", 2, 8, True)]
    r1, r1b, failed, r2b = rows
    assert failed["error"].startswith("ClusterError: 2 replicas") and failed["p50_ms_small"] is None
    assert r1["p50_ms_small"] == pytest.approx(5.0 * 9 / 8) and r1b["p50_ms_small"] == pytest.approx(5.0 * 33 / 32)
    assert r2b["peak_samples_per_s"] == pytest.approx(2 * r1b["peak_samples_per_s"])
    assert r2b["deploy_ready_s"] == 6.0 and r1b["replica_rss_mb"] == 308.0
    # the replicas' CPU-hours over the predictions per hour at the configuration's peak
    assert r2b["usd_per_million_predictions"] == pytest.approx(2 * 0.5 * 0.36 / 3600 / r2b["peak_samples_per_s"] * 1e6)
    # the trial's own figures are its first configuration's; the raw requests keep their configuration
    assert lifecycle == [{"p50_ms_small": r1["p50_ms_small"], "peak_samples_per_s": r1["peak_samples_per_s"],
                          "deploy_ready_s": 3.0}]
    assert [c["config"] for c in configs_of_latencies] == ["r1-mb1", "r1-mb8", "r2-mb8"]


def test_choose_ranks_model_and_serving_configuration(db):
    result = CliRunner().invoke(app, ["choose", "--db", str(db), "--by", "usd_per_million_predictions",
                                      "--max", "p50_ms=5.5ms", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    # the failed configuration is no candidate; r1-mb1's batch-1 p50 (5.6 ms) breaks the limit
    assert [(r["trial"], r["meets"]) for r in rows] == [
        ("cnn_small/torch/w1 @ r1-mb8", True), ("cnn_small/torch/w1 @ r2-mb8", True), ("cnn_small/torch/w1 @ r1-mb1", False)]
    assert rows[0]["usd_per_million_predictions"] == pytest.approx(rows[1]["usd_per_million_predictions"])


def test_show_lists_the_configurations_and_latency_per_configuration(db):
    result = CliRunner().invoke(app, ["show", "--db", str(db)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "serving configurations (one trained model each)" in out
    assert "failed: ClusterError: 2 replicas" in out
    for key in ("r1-mb1", "r1-mb8", "r2-mb8"):
        assert f"latency · cnn_small/torch/w1 @ {key}" in out


def test_the_report_plots_the_configurations_with_their_front(db, tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "Serving configurations: peak throughput (closed loop) vs p99 at the smallest batch" in page
    assert "w1 front" in page and "r2-mb8" in page  # Plotly writes the trial name with escaped slashes
