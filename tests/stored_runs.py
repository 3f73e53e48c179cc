"""Runs written through ``Store`` into a real DuckDB file, for the tests of what reads them (show, compare, choose,
report): every stage's measurements, raw latencies, epochs and machines, in the shapes the stages record them.

The values are a test's inputs, chosen to exercise the readers (a wider model is bigger and slower), never reported
as measurements; ``scale`` multiplies sizes, FLOPs and latencies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from raylife.frameworks.contract import EpochRecord
from raylife.measure.environment import ClusterInfo, Fingerprint, NodeInfo
from raylife.clients.loadgen import Outcome, Samples
from raylife.plan import plan_trials
from raylife.records import TrialRecord
from raylife.store import Store
from raylife.suite import parse_suite

CLUSTER = ClusterInfo(cpus=2.0, gpus=0.0, memory_gb=16.0,
                      nodes=(NodeInfo(node_id="n1", address="10.0.0.1", hostname="h", resources={"CPU": 2.0}),))
MACHINE = Fingerprint(hostname="testhost", cpu="Test CPU", cpu_count=2, gpu=None, gpu_count=0, memory_gb=24.0,
                      os="Linux", python="3.11", versions={"ray": "2.60.0", "torch": "2.13.0", "tensorflow": "2.21.0"})

SERVED = """name = "{name}"
workload = "vision"
repeats = {repeats}
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = {{ width = {width} }}
[train]
epochs = 2
target_accuracy = 0.5
[serve]
batch_sizes = [1, 8]
concurrency = [1, 2]
[update]
strategies = ["reconfigure", "rollout"]
[load]
slo_p99_ms = 100
rates = [10, 20, 40]
"""


def samples(latency_ms: float, n: int, version: str = "trained-1", rng: np.random.Generator | None = None) -> Samples:
    rng = rng or np.random.default_rng(0)
    out = Samples(t0=0.0)
    for i in range(n):
        sent = i * 0.05
        out.record(i, sent, sent + latency_ms * (1 + 0.2 * rng.random()) / 1000, Outcome(ok=True, version=version,
                                                                                        replica="r1", correct=1, samples=1))
    return out


def record_for(trial, run_id: str, scale: float, repeat: int) -> TrialRecord:
    """Every stage's measurements of one finished trial, as the stages record them."""
    rng = np.random.default_rng(repeat)
    jitter = 1 + 0.02 * repeat
    r = TrialRecord(run_id=run_id, trial=trial, status="ok")
    r.started_at = datetime(2026, 12, 1, 10) + timedelta(minutes=repeat)
    r.finished_at = r.started_at + timedelta(seconds=60)
    r.environment = MACHINE
    add = r.add
    for i, stage in enumerate(trial.stages):
        add(stage, "stage_wall_s", 5.0 * jitter + i, "s", started_unix=1.0e9 + 10 * i)
        add(stage, "host_load_1m", 1.0, "load")
    add("trial", "overhead_s", 0.5, "s")
    add("train", "train_wall_s", 12.0 * scale * jitter, "s")
    add("train", "time_to_target_s", 9.0 * jitter, "s", target_accuracy=0.5, epoch=0)
    add("train", "train_samples_per_s", 900 / scale, "samples/s")
    add("train", "epoch_s", 1.0 * scale, "s")
    add("model", "params", 38282 * scale, "count", trainable=True)
    add("model", "flops_per_sample", 675072 * scale, "FLOPs", counted_by="torch")
    add("evaluate", "accuracy", 0.93 + 0.001 * repeat, "ratio", split="test")
    add("evaluate", "baseline_accuracy", 0.1, "ratio", split="test", baseline="majority class")
    for fmt, native, size in (("state_dict", True, 156424), ("onnx", False, 160000)):
        add("persist", "bytes", size * scale, "bytes", format=fmt, native=native)
        add("persist", "save_s", 0.002 * scale, "s", format=fmt, native=native)
        add("persist", "load_s", 0.003 * scale, "s", format=fmt, native=native)
    add("retrain", "retrain_wall_s", 10.0 * jitter, "s")
    add("retrain", "accuracy", 0.94, "ratio", split="test")
    add("deploy", "deploy_ready_s", 4.0 * jitter, "s", replicas=1)
    add("deploy", "first_request_ms", 15.0, "ms", path="http", batch_size=1)
    for batch in (1, 8):
        for clients in (1, 2):
            base = 5.0 * scale * (1 + batch / 8) * clients
            # the smallest cell holds enough answers over two repeats (2 x 240) for choose's p99 verdict (459)
            n = 240 if (batch, clients) == (1, 1) else 40
            cell = samples(base, n, rng=rng)
            labels = {"repeat": 0, "path": "http", "batch_size": batch, "concurrency": clients}
            for metric, q in (("p50_ms", 50), ("p90_ms", 90), ("p95_ms", 95), ("p99_ms", 99), ("p999_ms", 99.9)):
                add("serve", metric, float(np.percentile(cell.latencies, q)), "ms",
                    **({"thin": True} if metric in ("p99_ms", "p999_ms") else {}), **labels)
            add("serve", "mean_ms", float(cell.latencies.mean()), "ms", **labels)
            add("serve", "max_ms", float(cell.latencies.max()), "ms", **labels)
            add("serve", "requests", n, "count", **labels)
            add("serve", "errors", 0, "count", **labels)
            add("serve", "throughput_rps", 1000 / base * clients, "requests/s", **labels)
            add("serve", "samples_per_s", 1000 / base * clients * batch, "samples/s", **labels)
            add("serve", "windows", 3, "count", **labels)
            add("serve", "stable", 1, "bool", tolerance=0.5, stable_windows=3, **labels)
            r.add_latencies("serve", "http", cell, batch, clients)
    add("serve", "served_accuracy", 0.9, "ratio", path="http")
    add("serve", "offline_accuracy", 0.9, "ratio", path="http")
    for rate in (10, 20, 40):
        labels = {"offered_rps": rate, "arrival": "poisson", "batch_size": 1}
        p99 = 20.0 * scale * (rate / 10)
        for metric, value in (("p50_ms", p99 / 3), ("p90_ms", p99 / 1.5), ("p99_ms", p99), ("mean_ms", p99 / 2.5),
                              ("max_ms", p99 * 1.2)):
            add("load", metric, value, "ms", **labels)
        add("load", "achieved_rps", rate * 0.99, "requests/s", **labels)
        add("load", "sent", rate * 5, "count", **labels)
        add("load", "errors", 0, "count", **labels)
        add("load", "goodput_rps", rate * 0.99 if p99 <= 100 else rate * 0.5, "requests/s", slo_p99_ms=100, **labels)
        add("load", "send_lag_p99_ms", 0.4, "ms", **labels)
        add("load", "behind_schedule", 0, "bool", **labels)
        r.add_latencies("load", "http", samples(p99 / 3, 10, rng=rng), 1, offered_rps=rate)
    best = max((rate for rate in (10, 20, 40) if 20.0 * scale * (rate / 10) <= 100), default=None)
    reason = {} if best else {"reason": "no offered rate kept p99 within the SLO without failed requests"}
    add("load", "max_rps_at_slo", best, "requests/s", slo_p99_ms=100, arrival="poisson", batch_size=1, **reason)
    for number, strategy in enumerate(("reconfigure", "rollout"), start=2):
        version = f"{strategy}-{number}"
        timeline = samples(6.0 * scale, 60, rng=rng)
        timeline.outcomes[30:] = [Outcome(ok=True, version=version, replica="r2") for _ in timeline.outcomes[30:]]
        window = {"strategy": strategy, "offered_rps": 20, "window_start_s": 1.0, "window_end_s": 1.6}
        add("update", "update_s", 0.2 if strategy == "reconfigure" else 3.5, "s", **window)
        add("update", "failed_requests", 0, "count", **window)
        add("update", "replicas_replaced", 0 if strategy == "reconfigure" else 1, "count", **window)
        r.add_latencies(f"update-{strategy}", "http", timeline, 1, offered_rps=20)
    if not trial.measures_quality:
        add("evaluate", "quality_measured", 0, "bool", reason="random inputs: no accuracy is measured")
    add("teardown", "teardown_s", 1.0, "s")
    r.add_epochs("train", [EpochRecord(epoch=e, train_loss=1.0 / (e + 1), eval_loss=1.1 / (e + 1), accuracy=0.5 + 0.2 * e,
                                       epoch_s=1.0, elapsed_s=1.0 + e, samples_per_s=900.0, end_unix=1.0e9 + e)
                           for e in range(2)])
    return r


def write_run(db: Path, run_id: str, *, name: str = "served", width: int = 8, scale: float = 1.0, repeats: int = 2,
              submitted_at: datetime | None = None, text: str | None = None) -> str:
    """One finished run of a served cnn_small (``repeats`` trials; or of the suite ``text``), stored as ``submit``
    stores it."""
    text = text or SERVED.format(name=name, width=width, repeats=repeats)
    trials = plan_trials(parse_suite(text))
    with Store(db) as store:
        store.begin_run(run_id=run_id, suite=name, description="", suite_path=f"{name}.toml", spec_toml=text,
                        trials=len(trials), ray_address="local", cluster=CLUSTER, ray_start_s=3.0,
                        raylife_version="0.1.0", git_commit=None, submitted_at=submitted_at or datetime(2026, 12, 1, 10),
                        serve_start_s=2.5)
        for trial in trials:
            store.write_trial(record_for(trial, run_id, scale, trial.repeat), CLUSTER)
        store.finish_run(run_id, "ok", 130.0, 0)
    return run_id


def store_records(db: Path, run_id: str, suite_text: str, records: list[TrialRecord], *, suite: str,
                  submitted_at: datetime) -> None:
    """A run of ``suite_text`` holding ``records`` (built by a test in the runner's shapes), begun and finished."""
    with Store(db) as store:
        store.begin_run(run_id=run_id, suite=suite, description="", suite_path=f"{suite}.toml", spec_toml=suite_text,
                        trials=len(records), ray_address="local", cluster=CLUSTER, ray_start_s=1.0,
                        raylife_version="0.1.0", git_commit=None, submitted_at=submitted_at, serve_start_s=2.5)
        for record in records:
            store.write_trial(record, CLUSTER)
        store.finish_run(run_id, "ok", 300.0, 0)
