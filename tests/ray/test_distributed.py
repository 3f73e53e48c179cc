"""Trials side by side through Ray Tune on a two-node cluster with a platform per node, and failures on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ray.helpers import rows, submit

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]


@pytest.fixture
def two_platform_cluster():
    from ray.cluster_utils import Cluster

    # Each node offers its own custom resource: a trial's platform decides the node its workers and replicas use.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "resources": {"cpu_small": 2},
                                                            "include_dashboard": False})
    cluster.add_node(num_cpus=2, resources={"cpu_large": 2})
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


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


def test_two_trials_run_side_by_side_on_their_platforms_and_serve_one_at_a_time(
    two_platform_cluster, write_suite, tmp_path
):
    # Two trials are the fewest that can overlap (and must not while serving); one per platform, so each node is used.
    suite = write_suite("""
        name = "side-by-side"
        workload = "vision"
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        epochs = 1
        platform = ["small", "large"]
        retrain_epochs = 0
        [platforms.small]
        resources = { cpu_small = 1 }
        [platforms.large]
        resources = { cpu_large = 1 }
        [serve]
        batch_sizes = [1]
        concurrency = [1]
        requests = 20
        warmup_requests = 2
        graceful_shutdown_wait_loop_s = 0.1   # teardown without Serve's 2 s wait loop
        [run]
        max_concurrent_trials = 2
    """)
    db = tmp_path / "sbs.duckdb"
    result = submit(suite, db, tmp_path / "shared", "--address", two_platform_cluster.address, timeout=800)
    assert result.returncode == 0, result.stdout + result.stderr
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
    placed = rows(db, "SELECT t.name, p.role, p.node_id, p.hostname FROM placements p JOIN trials t USING (trial_id)")
    assert {(p["name"].split("/")[-1], p["role"]) for p in placed} == {
        (platform, role) for platform in ("small", "large") for role in ("train_worker", "replica")}
    by_platform: dict[str, set[str]] = {}
    for p in placed:
        by_platform.setdefault(p["name"].split("/")[-1], set()).add(p["node_id"])
    assert all(len(ids) == 1 for ids in by_platform.values()) and by_platform["small"] != by_platform["large"]
    head = two_platform_cluster.head_node.node_id
    assert by_platform["small"] == {head}  # cpu_small is on the head node only


def test_killed_workers_resume_and_failing_trials_are_stored_while_the_others_run(write_suite, tmp_path):
    """Side by side (two at a time): PyTorch and TensorFlow trials whose worker is killed resume from their checkpoint;
    one past max_failures and one whose model code raises are stored as failed with their reason; the suite goes on."""
    # A builder that passes every plan-time check and fails inside the training workers.
    (tmp_path / "broken_models.py").write_text(
        "def broken(input_shape, num_classes, width: int = 4):\n"
        "    raise ValueError(f'cannot build width {width}')\n"
    )
    suite = write_suite("""
        name = "faults"
        workload = "vision"
        [run]
        python_path = ["."]
        max_concurrent_trials = 2
        [[models]]
        name = "cnn_small"
        frameworks = ["torch", "tensorflow"]
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        options = { width = 8 }
        train = { max_failures = 0 }
        [[models]]
        name = "broken"
        builders = { torch = "broken_models:broken" }
        [train]
        epochs = 2
        retrain_epochs = 0
        max_failures = 1
        [faults]
        kill_worker_at_epoch = 2
    """)
    db = tmp_path / "faults.duckdb"
    result = submit(suite, db, tmp_path / "s", timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr  # two trials failed; the suite went on
    assert "2 of 4 trials failed" in result.stderr
    trials = {r["name"]: r for r in rows(db, "SELECT name, status, error, traceback FROM trials")}
    assert trials["cnn_small/torch/w1"]["status"] == "ok" and trials["cnn_small/tensorflow/w1"]["status"] == "ok"
    past = trials["cnn_small[width=8]/torch/w1"]
    assert past["status"] == "failed"
    assert past["error"].startswith("FitFailed: train failed after the injected worker failure in epoch 2 (rank 0): "
                                    "train.max_failures = 0 allows no restart"), past["error"]
    broken = trials["broken/torch/w1"]
    assert broken["status"] == "failed" and broken["error"] == "ValueError: cannot build width 4"
    assert "Traceback" in broken["traceback"]
    assert "✗ broken/torch/w1: ValueError" in result.stdout
    assert rows(db, "SELECT status FROM runs")[0]["status"] == "failed"
    for trial in ("cnn_small/torch/w1", "cnn_small/tensorflow/w1"):
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


def test_a_storage_path_one_node_cannot_see_is_refused_before_anything_runs(write_suite, tmp_path):
    """A second node in its own mount namespace, with an empty tmpfs over the storage folder: a real node whose
    storage_path is node-local."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from ray.cluster_utils import Cluster

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs mount namespaces (unshare -m, as root) to make a node-local folder")
    storage = tmp_path / "storage"
    storage.mkdir()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    ray_cli = str(Path(sys.executable).parent / "ray")
    node = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {storage} && exec {ray_cli} start --address={cluster.address} "
         "--num-cpus=1 --block --disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        import ray

        ray.init(address=cluster.address, logging_level="ERROR")
        deadline = time.monotonic() + 60
        while sum(n["Alive"] for n in ray.nodes()) < 2:
            assert time.monotonic() < deadline, "the second node did not join"
            time.sleep(0.5)
        ray.shutdown()
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
        os.killpg(node.pid, signal.SIGTERM)
        node.wait(timeout=60)
        cluster.shutdown()


@pytest.mark.slow  # a minute of waiting for the trial's time limit
def test_a_node_lost_mid_training_gives_a_stored_failed_trial_never_a_lost_one(write_suite, tmp_path):
    import subprocess
    import time

    from ray.cluster_utils import Cluster

    from tests.conftest import RAYLIFE, REPO

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker_node = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
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
                             "--address", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        deadline = time.monotonic() + 240
        while not list(storage.rglob("checkpoint_*")):  # an epoch is done: training runs on both nodes
            assert time.monotonic() < deadline and proc.poll() is None, "training never started"
            time.sleep(0.5)
        cluster.remove_node(worker_node)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.shutdown()
    assert proc.returncode == 1, out + err
    [trial] = rows(db, "SELECT name, status, error FROM trials")
    assert trial["status"] == "failed" and trial["error"], trial
    assert rows(db, "SELECT status FROM runs")[0]["status"] == "failed"
