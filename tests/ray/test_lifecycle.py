"""The whole lifecycle as README's main command runs it (``raylife submit suites/smoke.toml`` on an embedded Ray):
Ray Train in PyTorch and TensorFlow, Ray Serve, a real DuckDB file — one run, read by every test here."""

from __future__ import annotations

import json

import pytest

from tests.ray.helpers import metric, raylife, rows

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]

# Every development metric of the lifecycle, with its unit (issue #2, item 4).
REQUIRED = {
    "train": {"train_wall_s": "s", "train_setup_s": "s", "time_to_target_s": "s", "final_loss": "loss",
              "train_peak_rss_mb": "MiB", "epoch_s": "s", "train_samples_per_s": "samples/s"},
    "evaluate": {"accuracy": "ratio", "top5_accuracy": "ratio", "eval_loss": "loss", "baseline_accuracy": "ratio"},
    "persist": {"save_s": "s", "load_s": "s", "bytes": "bytes", "params": "count", "roundtrip_max_abs_diff": "logit"},
    "retrain": {"retrain_wall_s": "s", "accuracy": "ratio", "restore_s": "s"},
    # The deployment half (issue #3).
    "deploy": {"deploy_ready_s": "s", "first_request_ms": "ms", "replica_init_s": "s", "replica_load_s": "s",
               "replica_rss_mb": "MiB"},
    "serve": {"p50_ms": "ms", "p90_ms": "ms", "p95_ms": "ms", "p99_ms": "ms", "p999_ms": "ms", "mean_ms": "ms",
              "max_ms": "ms", "throughput_rps": "requests/s", "samples_per_s": "samples/s", "errors": "count",
              "served_accuracy": "ratio", "replica_peak_rss_mb": "MiB"},
    "update": {"update_s": "s", "failed_requests": "count", "max_gap_s": "s", "p99_during_update_ms": "ms",
               "p99_before_ms": "ms", "replicas_replaced": "count"},
    "teardown": {"teardown_s": "s"},
}


@pytest.fixture(scope="module")
def smoke(smoke_lane):
    return smoke_lane.result, smoke_lane.db, smoke_lane.storage


def test_smoke_exits_zero_and_prints_the_summary(smoke):
    result, _, _ = smoke
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Error" not in result.stderr
    # Words only the final summary prints (its title, column heads, the closing hint), not the progress lines.
    for text in ("run 2026", "· smoke ·", "to target", "retrained", "deployment on Ray Serve", "reconfigure", "rollout",
                 "Stored in", "Explore: raylife show"):
        assert text in result.stdout, text


def test_smoke_stores_every_metric_with_its_unit(smoke):
    _, db, _ = smoke
    trials = rows(db, "SELECT name, framework, status FROM trials")
    assert sorted((t["framework"], t["status"]) for t in trials) == [("tensorflow", "ok"), ("torch", "ok")]
    for t in trials:
        for stage, metrics in REQUIRED.items():
            for name, unit in metrics.items():
                found = metric(db, t["name"], stage, name)
                assert found, f"{t['name']}: no {stage}.{name}"
                assert {m["unit"] for m in found} == {unit}, (t["name"], stage, name)
        formats = {json.loads(m["labels"])["format"] for m in metric(db, t["name"], "persist", "bytes")}
        assert formats == ({"state_dict", "onnx"} if t["framework"] == "torch" else {"keras", "savedmodel"})
        assert all(m["value"] < 1e-4 for m in metric(db, t["name"], "persist", "roundtrip_max_abs_diff"))
        assert all(m["value"] > 0 for m in metric(db, t["name"], "persist", "bytes"))


def test_smoke_models_learn(smoke):
    _, db, _ = smoke
    for row in rows(db, "SELECT trial, accuracy, top5_accuracy FROM lifecycle"):
        baseline = metric(db, row["trial"], "evaluate", "baseline_accuracy")[0]["value"]
        assert row["accuracy"] > baseline + 0.5, row  # digits: ~0.1 for the majority class
        assert row["top5_accuracy"] >= row["accuracy"]


def test_smoke_timing_breakdown_adds_up(smoke):
    _, db, _ = smoke
    for row in rows(db, "SELECT trial FROM lifecycle"):
        value = {m: metric(db, row["trial"], "train", m)[0]["value"] for m in (
            "train_wall_s", "train_setup_s", "train_worker_start_s", "train_loop_setup_s", "train_compute_s", "train_teardown_s")}
        assert 0 < value["train_compute_s"] < value["train_wall_s"]
        assert value["train_setup_s"] == pytest.approx(value["train_worker_start_s"] + value["train_loop_setup_s"], abs=1e-6)
        assert value["train_setup_s"] + value["train_compute_s"] + value["train_teardown_s"] <= value["train_wall_s"] + 0.05


def test_smoke_stores_epochs_environment_and_run(smoke):
    _, db, artifacts = smoke
    counts = rows(db, "SELECT t.framework, e.phase, count(*) AS n FROM epochs e JOIN trials t USING (trial_id) GROUP BY ALL")
    assert sorted((c["framework"], c["phase"], c["n"]) for c in counts) == [
        ("tensorflow", "retrain", 1), ("tensorflow", "train", 5), ("torch", "retrain", 1), ("torch", "train", 5)
    ]
    envs = rows(db, "SELECT * FROM environments")
    assert len(envs) == 2
    for env in envs:
        assert env["hostname"] and env["cpu"] and env["cpu_count"] >= 1 and env["memory_gb"] > 0
        assert env["ray"].startswith("2.60") and env["torch"] and env["tensorflow"] and env["nodes"] == 1
    [run] = rows(db, "SELECT * FROM runs")
    assert run["status"] == "ok" and run["trials"] == 2 and run["failed_trials"] == 0
    assert run["ray_start_s"] > 0 and run["ray_address"] == "local" and "cnn_small" in run["spec_toml"]
    saved = {p.name for p in artifacts.glob("*/*/models/*") if any(f.is_file() for f in p.rglob("*"))}
    assert saved == {"state_dict", "onnx", "keras", "savedmodel"}


# TensorFlow on two data-parallel workers, and a trial whose model code fails inside the workers:
# tests/ray/test_distributed.py (the fault suite runs them).


def test_smoke_keeps_every_request_and_its_percentiles_recompute_in_sql(smoke):
    _, db, _ = smoke
    cells = rows(db, "SELECT trial_id, batch_size, concurrency, count(*) AS n FROM latencies WHERE phase = 'serve' GROUP BY ALL")
    # Each cell keeps the requests of its three agreeing windows of 40 (or of its last three, when unstable).
    assert sorted((c["batch_size"], c["concurrency"], c["n"]) for c in cells) == sorted(
        [(b, c, 120) for b in (1, 8) for c in (1, 2)] * 2
    )
    recomputed = {
        (r["trial_id"], r["batch_size"], r["concurrency"]): r
        for r in rows(db, """
            SELECT trial_id, batch_size, concurrency,
                   quantile_cont(latency_ms, 0.5) AS p50_ms, quantile_cont(latency_ms, 0.9) AS p90_ms,
                   quantile_cont(latency_ms, 0.95) AS p95_ms, quantile_cont(latency_ms, 0.99) AS p99_ms,
                   quantile_cont(latency_ms, 0.999) AS p999_ms, avg(latency_ms) AS mean_ms, max(latency_ms) AS max_ms
            FROM latencies WHERE phase = 'serve' AND ok GROUP BY ALL""")
    }
    summaries = rows(db, "SELECT * FROM latency_summary")
    assert len(summaries) == 8
    for summary in summaries:
        raw = recomputed[(summary["trial_id"], summary["batch_size"], summary["concurrency"])]
        for column in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms"):
            assert summary[column] == pytest.approx(raw[column], rel=1e-9), column
        assert summary["requests"] == 120 and summary["errors"] == 0
        assert summary["windows"] >= 3 and summary["stable"] in (0, 1)
        assert summary["p99_thin"] is False and summary["p999_thin"] is True  # 120 answers: p99.9 is not exact


def test_smoke_served_predictions_match_offline_ones(smoke):
    _, db, _ = smoke
    for row in rows(db, "SELECT trial FROM lifecycle"):
        served = metric(db, row["trial"], "serve", "served_accuracy")[0]["value"]
        offline = metric(db, row["trial"], "serve", "offline_accuracy")[0]["value"]
        assert served == offline and served > 0.8


def test_smoke_update_strategies_differ_as_serve_says(smoke):
    _, db, _ = smoke
    for row in rows(db, "SELECT trial FROM lifecycle"):
        replaced = {json.loads(m["labels"])["strategy"]: m["value"] for m in metric(db, row["trial"], "update", "replicas_replaced")}
        assert replaced == {"reconfigure": 0, "rollout": 1}  # in place vs. a new replica
        for m in metric(db, row["trial"], "update", "update_s"):
            assert m["value"] > 0  # no upper bound: a busy machine's update took 107.6 s once, and that is a figure
        phases = {r["phase"] for r in rows(db, "SELECT DISTINCT phase FROM latencies")}
        assert phases == {"serve", "load", "update-reconfigure", "update-rollout"}
        versions = rows(db, "SELECT DISTINCT version FROM latencies WHERE phase = 'update-rollout' AND ok")
        assert {v["version"] for v in versions} >= {"rollout-3"}


def test_raylife_metrics_lists_every_metric_a_smoke_run_stores_with_its_unit(smoke):
    _, db, _ = smoke
    listed = raylife("metrics", "-f", "json").stdout
    catalogue: dict[tuple[str, str], list[str]] = {}
    for m in json.loads(listed):  # a name may be catalogued per stage (p50_ms: serve and load)
        catalogue.setdefault((m["metric"], m["unit"]), []).extend(m["stages"].split(", "))
    stored = rows(db, "SELECT DISTINCT stage, metric, unit FROM measurements")
    assert len(stored) > 60
    for r in stored:
        stages = catalogue.get((r["metric"], r["unit"]))
        assert stages is not None, r
        assert r["stage"] in stages or "*" in stages, r
    # Every stage of every trial has its wall time, and the trial its overhead.
    timed = rows(db, "SELECT t.name, m.stage FROM measurements m JOIN trials t USING (trial_id) WHERE m.metric = 'stage_wall_s'")
    for name, stages in ((t["name"], t["params"]) for t in rows(db, "SELECT name, params FROM trials")):
        assert sorted(r["stage"] for r in timed if r["name"] == name) == sorted(json.loads(stages)["stages"])
    assert len(rows(db, "SELECT * FROM measurements WHERE metric = 'overhead_s'")) == 2


def test_smoke_energy_is_measured_or_its_absence_explained(smoke):
    from raylife.measure.telemetry import Rapl

    _, db, _ = smoke
    rapl = Rapl()
    rapl.start()
    missing = rows(db, "SELECT trial, labels FROM metrics WHERE metric = 'telemetry_unavailable'")
    # the fits' workers, the evaluating actor and the replicas (closed loop, open loop, each update) each read it
    for metric, per_trial in (("train_cpu_energy_j", 1), ("retrain_cpu_energy_j", 1), ("eval_cpu_energy_j", 1),
                              ("serve_cpu_energy_j", 1), ("load_cpu_energy_j", 1), ("update_cpu_energy_j", 2)):
        energy = rows(db, "SELECT trial, value, unit FROM metrics WHERE metric = ?", [metric])
        assert len(energy) == 2 * per_trial, metric  # measured or NULL — never absent
        assert {e["unit"] for e in energy} == {"J"}
        if rapl.reason is None:
            assert all(e["value"] > 0 for e in energy), metric
        else:  # e.g. a VM without /sys/class/powercap: NULL — never a zero
            assert all(e["value"] is None for e in energy), metric
    if rapl.reason is not None:  # and the reason once per trial
        reasons = [json.loads(m["labels"]) for m in missing]
        assert len(reasons) == 2 and all(r["what"] == "cpu_energy" and r["reason"] == rapl.reason for r in reasons)
    # CPU trials read no GPU counters, in any stage
    assert not rows(db, "SELECT 1 FROM metrics WHERE metric LIKE '%_gpu_%' AND metric NOT LIKE '%_kwh'")
    costs = rows(db, "SELECT train_kwh, eval_kwh, serve_kwh FROM costs")
    assert len(costs) == 2 and all((c["serve_kwh"] is None) == (rapl.reason is not None) for c in costs)


def test_smoke_report_renders_every_plot_in_headless_chromium(smoke, tmp_path):
    from tests.browser import open_page

    _, db, _ = smoke
    out = tmp_path / "report.html"
    result = raylife("report", "last", "--db", db, "-o", out)
    assert result.exit_code == 0, result.output
    facts = open_page(out, """(() => {
        const plots = [...document.querySelectorAll('section.plot')];
        return {declared: Number(document.body.dataset.plots), sections: plots.length,
                drawn: plots.filter(p => p.querySelector('svg.main-svg') && p.querySelector('.trace')).length,
                titles: plots.map(p => (p.querySelector('.gtitle') || {textContent: ''}).textContent),
                axes: plots.map(p => [...p.querySelectorAll('.xtitle, .ytitle')].map(t => t.textContent)),
                rows: document.querySelectorAll('table.lifecycle tbody tr').length,
                // self-contained: the page fetched nothing (scripts, styles, fonts) beyond its own file
                fetched: performance.getEntriesByType('resource').map(r => r.name)};
    })()""")
    (tmp_path / "report.png").write_bytes(facts.screenshot)
    f = facts.facts
    assert facts.console_errors == []
    assert f["rows"] == 2  # the lifecycle table: both trials
    assert f["fetched"] == []
    # latency vs batch size and vs concurrency, latency vs offered rate, accuracy over training time,
    # 2 trials x 2 update timelines, where the time went, the Pareto front
    assert f["declared"] == f["sections"] == f["drawn"] == 10, f
    titles = " | ".join(f["titles"])
    for text in ("vs batch size", "vs concurrency", "vs offered rate", "over training time", "reconfigure update",
                 "rollout update", "time went", "Pareto", "CPUs"):  # CPUs: the platform line under each title
        assert text in titles, text
    assert all(any("(ms)" in a or "(s)" in a or "(ratio)" in a for a in axes) for axes in f["axes"])
