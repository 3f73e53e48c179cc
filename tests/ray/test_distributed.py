"""Runs on a real two-node cluster (a lane's: tests/ray/runs.py) the way one is used for real — trials side by side
through Ray Tune, a platform per node, storage in an object store (moto's S3 API) — and a run with failures on purpose;
and storage that one node cannot see."""

from __future__ import annotations

import json
import time

import pytest

from tests.ray.helpers import NodeProcesses, metric, rows, submit

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def side_by_side(cluster_runs_lane):
    """tests/ray/runs.py: SIDE_BY_SIDE, on the lane's two-node cluster with S3 storage."""
    return cluster_runs_lane.side_by_side, cluster_runs_lane


def stage_windows(db, stages: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """Per trial, from the first of ``stages`` to the end of the last: wall-clock start and end."""
    found: dict[str, list[tuple[float, float]]] = {}
    for r in rows(db, "SELECT trial, stage, value, labels FROM metrics WHERE metric = 'stage_wall_s'"):
        if r["stage"] in stages:
            start = json.loads(r["labels"])["started_unix"]
            found.setdefault(r["trial"], []).append((start, start + r["value"]))
    return {t: (min(s for s, _ in w), max(e for _, e in w)) for t, w in found.items()}


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_two_trials_run_side_by_side_on_their_platforms_and_serve_one_at_a_time(side_by_side):
    run, _ = side_by_side
    db = run.db
    assert run.result.returncode == 0, run.result.stdout[-3000:] + run.result.stderr[-3000:]
    trials = rows(db, "SELECT name, status FROM trials ORDER BY idx")
    assert [t["status"] for t in trials] == ["ok"] * 2  # every trial reached the one database writer

    develop = stage_windows(db, ("train", "evaluate", "persist"))
    serving = stage_windows(db, ("deploy", "serve", "teardown"))
    names = sorted(develop)
    assert any(overlaps(develop[a], develop[b]) for a in names for b in names if a < b), develop
    assert not any(overlaps(serving[a], serving[b]) for a in names for b in names if a < b), serving
    beside = rows(db, "SELECT max(value) AS n FROM metrics WHERE metric = 'trials_beside' AND stage = 'train'")
    assert beside[0]["n"] >= 1  # stored with the stage: a contended number says so

    # every worker and replica ran on the node its platform selects
    placed = rows(db, "SELECT t.params->>'$.platform' AS platform, p.role, p.node_id FROM placements p "
                      "JOIN trials t USING (trial_id)")
    assert {(p["platform"], p["role"]) for p in placed} == {
        (platform, role) for platform in ("small", "large") for role in ("train_worker", "replica")}
    by_platform: dict[str, set[str]] = {}
    for p in placed:
        by_platform.setdefault(p["platform"], set()).add(p["node_id"])
    assert all(len(ids) == 1 for ids in by_platform.values()) and by_platform["small"] != by_platform["large"]
    nodes = json.loads(rows(db, "SELECT cluster FROM runs")[0]["cluster"])["node_list"]
    for platform, resource in (("small", "cpu_small"), ("large", "cpu_large")):  # each resource is on one node only
        assert by_platform[platform] == {n["node_id"] for n in nodes if resource in n["resources"]}


def test_a_whole_lifecycle_on_an_object_store(side_by_side):
    run, lane = side_by_side
    db = run.db
    assert run.result.returncode == 0, run.result.stdout[-3000:] + run.result.stderr[-3000:]
    assert "test:test" not in run.result.stdout + run.result.stderr  # the URI's secret is never printed
    run_id = rows(db, "SELECT run_id FROM runs")[0]["run_id"]
    for trial in rows(db, "SELECT trial_id, name, status FROM trials"):
        name = trial["name"]
        # every copy is timed on its own, next to the disk-to-memory figure it precedes
        [fetched] = metric(db, name, "evaluate", "checkpoint_fetch_s")
        assert fetched["unit"] == "s" and fetched["value"] > 0
        uploads = {json.loads(m["labels"])["format"]: m["value"] for m in metric(db, name, "persist", "upload_s")}
        assert set(uploads) == {"state_dict", "onnx"} and all(v > 0 for v in uploads.values())
        assert all(m["value"] > 0 for m in metric(db, name, "persist", "load_s"))
        [replica_fetch] = metric(db, name, "deploy", "replica_fetch_s")
        assert replica_fetch["value"] > 0 and json.loads(replica_fetch["labels"])["replica"]

        # the models really went through the store: served answers match the offline predictions
        [lc] = rows(db, "SELECT accuracy, retrain_accuracy FROM lifecycle WHERE trial = ?", [name])
        retrained = name == "cnn_small/torch/w1"  # the other (width=16) does not retrain
        assert lc["accuracy"] > 0.5 and (lc["retrain_accuracy"] > 0.5 if retrained else lc["retrain_accuracy"] is None)
        served = metric(db, name, "serve", "served_accuracy")[0]["value"]
        assert served == pytest.approx(metric(db, name, "serve", "offline_accuracy")[0]["value"])

        # what the store holds: Ray Train's checkpoints (the retraining fit started from the first) and both formats
        base = f"{run_id}/{trial['trial_id']}/"
        stored = [p[len(base):] for p in lane.stored_objects if p.startswith(base)]
        assert any(p.startswith("train/checkpoint_") for p in stored), stored
        assert any(p.startswith("retrain/checkpoint_") for p in stored) == retrained, stored
        assert any(p.startswith("models/state_dict/") for p in stored) and any(p.startswith("models/onnx/") for p in stored)
    # and nothing was left on this machine's disk, on either node: copies go when the trial ends
    assert lane.scratch_left == frozenset()


def test_killed_workers_resume_and_failing_trials_are_stored_while_the_others_run(cluster_runs_lane):
    """tests/ray/runs.py: FAULTS, on the lane's two-node cluster. Side by side (two at a time): a PyTorch trial with a
    worker killed resumes from its checkpoint; one past max_failures and one whose model code raises are stored as
    failed with their reason; the suite goes on."""
    run = cluster_runs_lane.faults
    result, db = run.result, run.db
    assert result.returncode == 1, result.stdout + result.stderr  # two trials failed; the suite went on
    assert "2 of 3 trials failed" in result.stderr
    trials = {r["name"]: r for r in rows(db, "SELECT name, status, error, traceback FROM trials")}
    assert trials["cnn_small/torch/w1"]["status"] == "ok"
    past = trials["cnn_small[width=8]/torch/w1"]
    assert past["status"] == "failed"
    assert past["error"].startswith("FitFailed: train failed after the injected worker failure in epoch 2 (rank 0): "
                                    "train.max_failures = 0 allows no restart"), past["error"]
    broken = trials["broken/torch/w1"]
    assert broken["status"] == "failed" and broken["error"] == "ValueError: cannot build width 4"
    assert "Traceback" in broken["traceback"]
    assert "✗ broken/torch/w1: ValueError" in result.stdout
    assert rows(db, "SELECT status FROM runs")[0]["status"] == "failed"
    check_resumed(db, "cnn_small/torch/w1")
    # a run submitted to an existing multi-node cluster says so, in the run and in every trial's environment
    [stored] = rows(db, "SELECT ray_address, cluster FROM runs")
    assert stored["ray_address"] == cluster_runs_lane.address and json.loads(stored["cluster"])["nodes"] == 2
    assert {e["nodes"] for e in rows(db, "SELECT nodes FROM environments")} == {2}


def check_resumed(db, trial: str) -> None:
    """One injected worker failure, resumed from a checkpoint, and every epoch trained after it."""
    got = {r["metric"]: r for r in rows(
        db, "SELECT metric, value, unit, labels FROM metrics WHERE trial = ? AND stage = 'train'", [trial])}
    assert got["failures"]["value"] == 1
    assert got["recovery_s"]["value"] > 0 and got["recovery_s"]["unit"] == "s"
    lost = got["epochs_lost"]
    # died halfway through epoch 2: 1.5 epochs trained, minus what the checkpoint it resumed from held
    resumed = json.loads(lost["labels"])["resumed_from_epoch"]
    assert lost["value"] == pytest.approx(1.5 - resumed, abs=0.05) and resumed in (0, 1)
    epochs = rows(db, "SELECT DISTINCT epoch FROM epochs JOIN trials USING (trial_id) WHERE name = ?", [trial])
    assert sorted(e["epoch"] for e in epochs) == [0, 1]  # training finished every epoch after the restart


@pytest.mark.slow  # six TensorFlow processes on a cluster of its own: 95 CPU-seconds, about a minute here
def test_tensorflow_on_two_nodes_killed_resumes_data_parallel(tmp_path):
    """tests/ray/runs.py: FAULTS_TENSORFLOW on a two-node cluster of its own (3 CPUs each): two workers of 2 CPUs, one
    on each node, rank 0 killed in epoch 2 and resumed from its checkpoint."""
    from tests.ray.runs import FAULTS_TENSORFLOW

    nodes = NodeProcesses()
    try:
        nodes.head(num_cpus=3)
        nodes.add(num_cpus=3)
        suite = tmp_path / "faults-tensorflow.toml"
        suite.write_text(FAULTS_TENSORFLOW)
        db = tmp_path / "r.duckdb"
        result = submit(suite, db, tmp_path / "artifacts", "--address", nodes.address)
    finally:
        nodes.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    trial = "cnn_small/tensorflow/w2"
    check_resumed(db, trial)
    # TensorFlow really trained data-parallel over the cluster's two nodes: the strategy's own replica count, a probe
    # from each rank, each on its node, and a model that learned
    assert metric(db, trial, "train", "train_replicas")[0]["value"] == 2
    assert metric(db, trial, "train", "train_nodes")[0]["value"] == 2
    probes = [json.loads(m["labels"]) for m in metric(db, trial, "train", "worker_peak_rss_mb")]
    assert sorted(p["rank"] for p in probes) == [0, 1] and len({p["node_id"] for p in probes}) == 2
    assert rows(db, "SELECT accuracy FROM lifecycle WHERE trial = ?", [trial])[0]["accuracy"] > 0.5


@pytest.mark.last_on_the_session_cluster  # it adds a node and kills it: no test may use the cluster after it
def test_a_storage_path_one_node_cannot_see_is_refused_before_anything_runs(cluster, write_suite, tmp_path):
    """A third node joins the session's cluster in its own mount namespace, with an empty tmpfs over the storage folder:
    a real node whose storage_path is node-local."""
    import shutil
    import subprocess

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs mount namespaces (unshare -m, as root) to make a node-local folder")
    storage = tmp_path / "storage"
    storage.mkdir()
    nodes = NodeProcesses().join(cluster.address, nodes=2)
    try:
        nodes.add(num_cpus=1, wrap=f"unshare -m sh -c 'mount -t tmpfs none {storage} && exec {{}}'")
        suite = write_suite("""
            name = "local-storage"
            workload = "vision"
            [[models]]
            name = "cnn_small"
            frameworks = ["torch"]
        """)
        db = tmp_path / "r.duckdb"
        result = submit(suite, db, storage, "--address", cluster.address, timeout=180)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.startswith(f"Error: storage_path {storage} is not shared: a file written there on node "), result.stderr
        assert "use a shared mount" in result.stderr
        assert not db.exists() and list(storage.iterdir()) == []  # nothing written, the check cleaned up after itself
    finally:
        nodes.stop()


@pytest.mark.slow  # a minute of waiting for the trial's time limit
def test_a_node_lost_mid_training_gives_a_stored_failed_trial_never_a_lost_one(write_suite, tmp_path):
    import subprocess

    from tests.conftest import RAYLIFE, REPO

    nodes = NodeProcesses()
    nodes.head(num_cpus=1)
    worker_node = nodes.add(num_cpus=1)
    suite = write_suite("""
        name = "node-lost"
        workload = "vision"
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        epochs = 200
        num_workers = 2
        max_failures = 1       # Ray Train tries again: the new group can never get its 2 CPUs
        retrain_epochs = 0
        timeout_s = 45
    """)
    db, storage = tmp_path / "lost.duckdb", tmp_path / "shared"
    proc = subprocess.Popen([*RAYLIFE, "submit", str(suite), "--db", str(db), "--storage-path", str(storage),
                             "--address", nodes.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        deadline = time.monotonic() + 240
        while not list(storage.rglob("checkpoint_*")):  # an epoch is done: training runs on both nodes
            assert time.monotonic() < deadline and proc.poll() is None, "training never started"
            time.sleep(0.5)
        nodes.kill(worker_node)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        nodes.stop()
    assert proc.returncode == 1, out + err
    [trial] = rows(db, "SELECT name, status, error FROM trials")
    assert trial["status"] == "failed" and trial["error"], trial
    assert rows(db, "SELECT status FROM runs")[0]["status"] == "failed"
