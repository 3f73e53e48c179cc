"""A changing load stored and read back: the ``scaling`` and ``load_timeline`` views, ``show``'s table and the report's
timeline, drawn in headless Chromium. The run is written through ``Store`` with the analysis raylife applies to a real
run (``measure.scaling``) over made-up observations — a test's inputs, never reported as measurements (the real run:
tests/ray/test_autoscaling.py)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from raylife.cli import app
from raylife.clients.profile import profile_changes
from raylife.clients.scaling import CountAt, ReplicaClock, replica_seconds, timeline, transitions
from raylife.plan import plan_trials
from raylife.records import TrialRecord
from raylife.store import Store
from raylife.suite import parse_suite
from tests.stored_runs import MACHINE, store_records

SUITE = """name = "autoscaling"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[train]
epochs = 1
[serve]
cpus_per_replica = 0.25
[serve.autoscaling]
min_replicas = 1
max_replicas = 3
baseline_replicas = 3
[load]
slo_p99_ms = 50
profile = [{ rps = 5, s = 10 }, { rps = 60, s = 10 }, { rps = 5, s = 10 }]
"""
RUN = "20261203-100000-auto"


def _observed(autoscaled: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[CountAt], list[ReplicaClock]]:
    """Requests and replica counts: autoscaled, latency climbs after the step up until two new replicas answer;
    fixed, three replicas answer everything quickly."""
    rng = np.random.default_rng(0)
    sent = np.sort(np.concatenate([rng.uniform(0, 10, 50), rng.uniform(10, 20, 600), rng.uniform(20, 30, 50)]))
    slow = autoscaled & (sent >= 10) & (sent < 13)
    latency = np.where(slow, 120.0, 8.0)
    ok = ~(autoscaled & (sent >= 10.5) & (sent < 10.6))
    if not autoscaled:
        return sent, latency, ok, [CountAt(t, 3, 0, 0) for t in np.arange(0, 30, 0.25)], []
    counts = [CountAt(t, 1 if t < 12.5 else 3 if t < 24 else 1, 2 if 10.8 <= t < 12.5 else 0, 2 if 24 <= t < 25 else 0)
              for t in np.arange(0, 30, 0.25)]
    clocks = [ReplicaClock(f"new{i}", 11.0 + i / 10, 11.6, 12.0, 12.2, 12.6) for i in range(2)]
    return sent, latency, ok, counts, clocks


def _record(trial) -> TrialRecord:
    r = TrialRecord(run_id=RUN, trial=trial, status="ok")
    r.started_at, r.finished_at, r.environment = datetime(2026, 12, 3, 10), datetime(2026, 12, 3, 10, 5), MACHINE
    r.add("train", "train_wall_s", 12.0, "s")
    changes = profile_changes(trial.load.profile)
    for config in trial.serve_configs:
        r.context = config.labels()
        r.add("deploy", "serving_config", config.index, "count", **config.settings())
        sent, latency, ok, counts, clocks = _observed(config.spec.autoscaling is not None)
        source = {"profile": "steps", "slo_p99_ms": 50}
        r.add_timeline("load", timeline(sent, latency, ok, counts, 50, 30))
        r.add("load", "profile_s", 30, "s", **source)
        r.add("load", "sent", len(sent), "count", **source)
        r.add("load", "errors", int((~ok).sum()), "count", **source)
        r.add("load", "slo_misses", int((ok & (latency > 50)).sum()), "count", **source)
        r.add("load", "p99_ms", float(np.percentile(latency[ok], 99)), "ms", **source)
        r.add("load", "replica_seconds", replica_seconds(counts, 0, 30), "s", **source, cpus_per_replica=0.25)
        r.add("load", "replicas_max", max(c.running for c in counts), "count", **source)
        for t in transitions(changes, counts, clocks, sent, latency, ok, 50):
            change = {"change": t.change.index}
            metric = "scale_up_s" if t.change.direction == "up" else "scale_down_s"
            r.add("load", metric, t.settled_s, "s", **change)
            if t.change.direction == "up":
                r.add("load", "scale_up_first_s", t.first_new_s, "s", **change)
            r.add("load", "transition_slo_misses", t.slo_misses, "count", **change)
            r.add("load", "transition_failed", t.failed, "count", **change)
            for cold in t.cold_starts:
                for part in ("scheduling", "constructor", "load", "first_answer"):
                    r.add("load", f"cold_start_{part}_s", getattr(cold, f"{part}_s"), "s", **change,
                          replica=cold.replica)
        r.context = {}
    return r


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("scaling") / "r.duckdb"
    [trial] = plan_trials(parse_suite(SUITE))
    store_records(path, RUN, SUITE, [_record(trial)], suite="autoscaling", submitted_at=datetime(2026, 12, 3, 10))
    return path


def test_the_scaling_view_sets_autoscaling_beside_its_fixed_baseline(db):
    with Store(db, read_only=True) as store:
        auto, fixed = store.scaling(RUN)
        seconds = store.timeline(RUN)
    assert (auto["config"], auto["autoscaling"], auto["replicas"]) == ("auto1-3", "auto1-3", None)
    assert (fixed["config"], fixed["autoscaling"], fixed["replicas"]) == ("r3", None, 3)
    assert auto["replicas_max"] == 3 and auto["new_replicas"] == 2
    assert auto["scale_up_s"] == pytest.approx(2.5) and auto["scale_up_first_s"] == pytest.approx(2.6)
    assert auto["scale_down_s"] == pytest.approx(4.0)  # running drops at 24 s (stopping ones hold until 25)
    assert auto["cold_constructor_s"] == pytest.approx(0.55) and auto["cold_first_answer_s"] == pytest.approx(0.4)
    assert auto["transition_failed"] > 0 and auto["transition_slo_misses"] > 0 and fixed["transition_failed"] == 0
    assert auto["replica_seconds"] < fixed["replica_seconds"] == pytest.approx(90.0)
    assert fixed["replica_usd"] == pytest.approx(90.0 * 0.25 * 0.048 / 3600)  # the suite's CPU price (default)
    assert fixed["scale_up_s"] is None and fixed["new_replicas"] == 0
    assert len(seconds) == 60 and {s["config"] for s in seconds} == {"auto1-3", "r3"}
    assert [s["replicas_running"] for s in seconds if s["config"] == "auto1-3"][9:14] == [1, 1, 1, 3, 3]


def test_show_prints_the_changing_load(db):
    result = CliRunner().invoke(app, ["show", "--db", str(db)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "changing load ([load] profile or trace)" in out
    assert "1..3" in out and "2.6 s / 2.5 s" in out and "4.0 s" in out


def test_the_report_draws_the_timeline_in_headless_chromium(db, tmp_path):
    from tests.browser import open_page

    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    facts = open_page(out, """(() => {
        const plots = [...document.querySelectorAll('section.plot')];
        const line = plots.find(p => ((p.querySelector('.gtitle') || {}).textContent || '').startsWith('Changing load'));
        if (!line) return {found: false};
        const names = [...line.querySelectorAll('.legendtext')].map(t => t.textContent);
        return {found: true, names, subplots: line.querySelectorAll('.subplot').length,
                lines: line.querySelectorAll('.scatterlayer .trace').length,
                bars: line.querySelectorAll('.barlayer .point').length,
                slo: [...line.querySelectorAll('.annotation-text')].map(t => t.textContent)};
    })()""")
    assert facts.console_errors == []
    f = facts.facts
    assert f["found"], f
    assert {"offered", "auto1-3: replicas", "r3: replicas", "auto1-3: p99", "auto1-3: SLO misses"} <= set(f["names"]), f
    assert f["subplots"] >= 4 and f["lines"] >= 7 and f["bars"] > 0, f
    assert any("SLO p99 50 ms" in s for s in f["slo"]), f
