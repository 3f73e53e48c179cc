"""Autoscaling and changing load without Ray: the suite's settings, the profile's send times, traces, and the analysis
of what a deployment did (timeline, scale-ups and -downs, cold starts, replica time)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from raylife.errors import PlanError
from raylife.clients.profile import TraceError, profile_changes, profile_rate, profile_schedule, read_trace
from raylife.clients.scaling import CountAt, ReplicaClock, replica_seconds, timeline, transitions
from raylife.plan import plan_trials
from raylife.plan.serving import serving_configs
from raylife.serving.control import DeploymentSettings, deploy_config
from raylife.serving.messages import ModelVersion, ReplicaArgs
from raylife.suite import parse_suite
from raylife.suite.spec import LoadSpec, ProfileStep, ServeSpec

STEPS = [ProfileStep(rps=20, s=10), ProfileStep(rps=150, s=20), ProfileStep(rps=20, s=30)]


def test_profile_schedule_follows_each_step_and_ramp():
    for arrival in ("poisson", "uniform", "gamma"):
        times = profile_schedule(STEPS, arrival, burstiness=0.5, seed=3)
        counts = [((times >= a) & (times < b)).sum() for a, b in ((0, 10), (10, 30), (30, 60))]
        # Poisson's counts vary by ~sqrt(n); a bursty gamma by more
        for got, want in zip(counts, (200, 3000, 600)):
            assert abs(got - want) < 5 * want**0.5 * (2 if arrival == "gamma" else 1), (arrival, counts)
        assert np.all(np.diff(times) >= 0) and times[-1] < 60
    ramp = profile_schedule([ProfileStep(rps=100, s=10, ramp=True)], "uniform")
    assert len(ramp) == 500 and (ramp < 5).sum() == 125  # a straight line from 0: a quarter in the first half
    assert profile_rate([ProfileStep(rps=10, s=1), ProfileStep(rps=30, s=2, ramp=True)], np.array([0.5, 2.0]))[1] == 20


def test_profile_changes_name_each_rate_change():
    changes = profile_changes(STEPS)
    assert [(c.at_s, c.from_rps, c.to_rps, c.until_s, c.direction) for c in changes] == [
        (10, 20, 150, 30, "up"), (30, 150, 20, 60, "down")]
    assert profile_changes([ProfileStep(rps=5, s=1), ProfileStep(rps=5, s=1)]) == []


def test_trace_files(tmp_path):
    good = tmp_path / "arrivals.csv"
    good.write_text("send_s,batch_size\n0,1\n0.5,8\n0.5,1\n2.25,4\n")
    trace = read_trace(good)
    assert trace.times.tolist() == [0, 0.5, 0.5, 2.25] and trace.batch_sizes.tolist() == [1, 8, 1, 4]
    (tmp_path / "times.csv").write_text("0\n1\n")
    assert read_trace(tmp_path / "times.csv").batch_sizes is None
    for text, said in [("0\n2\n1\n", "line 3: send time 1 comes before"), ("-1\n", "negative"), ("0\nsoon\n", "line 2"),
                       ("0,1\n1\n", "no batch size"), ("0,0\n", "batch size 0"), ("t\n", "no send times")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(TraceError, match=said):
            read_trace(bad)
    with pytest.raises(TraceError, match="not found"):
        read_trace(tmp_path / "missing.csv")


AUTOSCALED = """name = "auto"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[serve]
cpus_per_replica = 0.25
[serve.autoscaling]
min_replicas = 1
max_replicas = 3
upscale_delay_s = 1
look_back_period_s = 2
metrics_interval_s = 0.5
baseline_replicas = 3
[load]
slo_p99_ms = 50
{load}
"""


def test_autoscaling_settings_become_serves_and_a_baseline(tmp_path):
    suite = parse_suite(AUTOSCALED.format(load="profile = [{ rps = 5, s = 2 }, { rps = 50, s = 4 }]"), "s.toml")
    [trial] = plan_trials(suite, "s.toml")
    assert [c.key for c in trial.serve_configs] == ["auto1-3", "r3"]
    auto, fixed = trial.serve_configs
    assert auto.settings()["autoscaling"] == "auto1-3" and auto.settings()["replicas"] is None
    assert fixed.spec.autoscaling is None and fixed.spec.replicas == 3
    args = ReplicaArgs(framework="torch", format="native", model_dir="/m", version="1")
    config = deploy_config("app", args, ModelVersion(model_dir="/m", version="1"), DeploymentSettings(
        replicas=1, cpus_per_replica=0.25, max_ongoing_requests=8, host="127.0.0.1", port=8000,
        autoscaling=auto.spec.autoscaling.serve_config()))
    deployment = config["applications"][0]["deployments"][0]
    assert "num_replicas" not in deployment
    assert deployment["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 3, "upscale_delay_s": 1.0,
                                                "look_back_period_s": 2.0, "metrics_interval_s": 0.5}
    from ray.serve.schema import ServeDeploySchema  # Serve's own schema takes it as written

    ServeDeploySchema.model_validate(config)
    assert serving_configs(ServeSpec(autoscaling={"max_replicas": 2}), lambda f: f) == ()  # no baseline: one deployment


@pytest.mark.parametrize("serve, said", [
    ({"replicas": 2, "autoscaling": {"max_replicas": 3}}, "replicas and \\[serve.autoscaling\\] are both set"),
    ({"autoscaling": {"min_replicas": 3, "max_replicas": 2}}, "below min_replicas"),
    ({"autoscaling": {"max_replicas": 2, "initial_replicas": 5}}, "outside min_replicas"),
    ({"autoscaling": {"max_replicas": 2, "min_replicas": 0}}, "greater than or equal to 1"),
    ({"autoscaling": {"max_replicas": 2, "look_back_period_s": 2}}, "must exceed metrics_interval_s"),
    ({"autoscaling": {"max_replicas": 2, "upscale_delay_s": -1}}, "greater than or equal to 0"),
    ({"autoscaling": {"max_replicas": 2, "min_replica": 1}}, "Extra inputs"),
])
def test_bad_autoscaling_settings_are_refused(serve, said):
    with pytest.raises(ValidationError, match=said):
        ServeSpec.model_validate(serve)


def test_bad_load_profiles_are_refused():
    with pytest.raises(ValidationError, match="not rates and profile"):
        LoadSpec(slo_p99_ms=50, rates=[1], profile=[{"rps": 1, "s": 1}])
    with pytest.raises(ValidationError, match="offers 0 requests/s"):
        LoadSpec(slo_p99_ms=50, profile=[{"rps": 0, "s": 1}])
    with pytest.raises(ValidationError, match="greater than 0"):
        LoadSpec(slo_p99_ms=50, profile=[{"rps": 10, "s": 0}])
    with pytest.raises(ValidationError, match="a profile or a trace is sent once"):
        LoadSpec(slo_p99_ms=50, confirm=1, profile=[{"rps": 10, "s": 1}])
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        LoadSpec(slo_p99_ms=50, confirm=9)


def test_a_trace_is_checked_before_anything_runs(tmp_path):
    suite_file = tmp_path / "s.toml"
    (tmp_path / "arrivals.csv").write_text("0\n1\n0.5\n")
    suite_file.write_text(AUTOSCALED.format(load='trace = "arrivals.csv"'))
    suite = parse_suite(suite_file.read_text(), str(suite_file))
    with pytest.raises(PlanError) as caught:
        plan_trials(suite, str(suite_file))
    assert "line 3" in caught.value.what and "load.trace" in caught.value.where
    (tmp_path / "arrivals.csv").write_text("0\n0.5\n1\n")
    [trial] = plan_trials(suite, str(suite_file))
    assert trial.load.trace == str((tmp_path / "arrivals.csv").resolve())


def test_timeline_and_replica_seconds():
    sent = np.array([0.1, 0.5, 1.2, 1.5, 1.9, 2.5])
    latency = np.array([10.0, 20.0, 80.0, 10.0, 10.0, 5.0])
    ok = np.array([True, True, True, False, True, True])
    counts = [CountAt(0.0, 1, 0, 0), CountAt(1.3, 1, 1, 0), CountAt(2.2, 2, 0, 0)]
    rows = timeline(sent, latency, ok, counts, slo_ms=50, length_s=3)
    assert [r.offered_rps for r in rows] == [2, 3, 1]
    assert [r.slo_misses for r in rows] == [0, 2, 0] and [r.errors for r in rows] == [0, 1, 0]
    assert [r.replicas_running for r in rows] == [1, 1, 2] and rows[1].replicas_starting == 1
    assert rows[0].p99_ms == pytest.approx(np.percentile([10, 20], 99))
    # 1 replica for 1.3 s, 2 held (one starting) for 0.9 s, 2 running for the last 0.8 s
    assert replica_seconds(counts, 0.0, 3.0) == pytest.approx(1.3 + 2 * 0.9 + 2 * 0.8)
    assert replica_seconds([], 0, 3) is None


def test_transitions_find_scale_up_cold_starts_and_scale_down():
    changes = profile_changes([ProfileStep(rps=5, s=10), ProfileStep(rps=100, s=10), ProfileStep(rps=5, s=10)])
    counts = [CountAt(t, r, s, d) for t, r, s, d in [
        (0, 1, 0, 0), (10.5, 1, 0, 0), (11.0, 1, 2, 0), (12.5, 2, 1, 0), (13.0, 3, 0, 0), (21.0, 3, 0, 0),
        (24.0, 1, 0, 2), (25.0, 1, 0, 0)]]
    clocks = [ReplicaClock("a", started_s=11.2, load_start_s=11.9, load_end_s=12.1, ready_s=12.2, first_answer_s=12.4),
              ReplicaClock("b", started_s=11.3, load_start_s=12.0, load_end_s=12.3, ready_s=12.4, first_answer_s=None)]
    sent = np.array([10.2, 11.0, 12.0, 14.0, 22.0])
    latency = np.array([30.0, 90.0, 200.0, 20.0, 10.0])
    ok = np.array([True, True, False, True, True])
    up, down = transitions(changes, counts, clocks, sent, latency, ok, slo_ms=50)
    assert (up.replicas_before, up.replicas_after) == (1, 3)
    assert up.decision_s == pytest.approx(1.0) and up.settled_s == pytest.approx(3.0)
    assert up.first_new_s == pytest.approx(2.4)
    assert (up.sent, up.slo_misses, up.failed) == (3, 1, 1)  # from the change until the count settled at 13 s
    a, b = up.cold_starts
    assert a.scheduling_s == pytest.approx(0.2) and a.constructor_s == pytest.approx(0.7)
    assert a.load_s == pytest.approx(0.2) and a.first_answer_s == pytest.approx(0.2) and b.first_answer_s is None
    assert (down.replicas_before, down.replicas_after, down.settled_s) == (3, 1, pytest.approx(4.0))
    assert down.first_new_s is None and down.cold_starts == ()
    fixed = [CountAt(0, 2, 0, 0), CountAt(29, 2, 0, 0)]  # fixed replicas: nothing moves, the window is the step
    up, _ = transitions(changes, fixed, [], sent, latency, ok, slo_ms=50)
    assert up.settled_s is None and up.replicas_after == 2 and up.window_end_s == 20 and up.sent == 4


def test_a_traces_requests_carry_their_own_batch_sizes():
    from types import SimpleNamespace

    from raylife.stages.load_profile import MixedRequests

    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20) % 3
    mixed = MixedRequests(SimpleNamespace(x=x, y=y, offline_pred=y), np.array([1, 4, 1, 4, 4]))
    import json

    sent = [json.loads(mixed.bodies[mixed.body(seq)])["inputs"] for seq in range(5)]
    assert [len(inputs) for inputs in sent] == [1, 4, 1, 4, 4]
    for seq, inputs in enumerate(sent):  # each answer is checked against the labels of what its request carried
        labels = [int(y[int(row[0]) // 2]) for row in inputs]
        assert mixed.check(seq, {"predictions": labels}).correct == len(labels)


def test_a_scale_up_decided_before_a_change_is_not_that_changes():
    """The autoscaler adds a replica on the low load (noise) just before the step: the step's own decision is the
    next rise, and a later replica's scheduling counts from the decision that started it."""
    changes = profile_changes([ProfileStep(rps=5, s=10), ProfileStep(rps=100, s=10)])
    counts = [CountAt(t, r, s, 0) for t, r, s in [(0, 1, 0), (8.0, 1, 1), (10.5, 2, 0), (14.0, 2, 1), (16.0, 3, 0)]]
    clocks = [ReplicaClock("early", 8.2, 8.5, 8.6, 8.7, 9.0), ReplicaClock("late", 14.6, 15.0, 15.1, 15.2, 15.5)]
    [up] = transitions(changes, counts, clocks, np.array([12.0]), np.array([5.0]), np.array([True]), slo_ms=50)
    assert up.decision_s == pytest.approx(4.0) and up.settled_s == pytest.approx(6.0)
    [late] = up.cold_starts  # "early" started before the step: not this change's
    assert late.replica == "late" and late.scheduling_s == pytest.approx(0.6)


def test_a_traces_new_replicas_are_timed_without_steps():
    from raylife.clients.scaling import cold_starts

    counts = [CountAt(0, 1, 0, 0), CountAt(3.0, 1, 1, 0), CountAt(6.0, 2, 0, 0)]
    clocks = [ReplicaClock("first", -20.0, -19.0, -18.5, -18.4, -18.0),  # deployed before the load: not a cold start
              ReplicaClock("added", 3.4, 4.5, 4.7, 4.8, 5.1)]
    [added] = cold_starts(counts, clocks)
    assert (added.replica, added.change) == ("added", None)
    assert added.scheduling_s == pytest.approx(0.4) and added.first_answer_s == pytest.approx(0.3)
