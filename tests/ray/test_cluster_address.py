"""--address: joining an existing two-node Ray cluster; training spreads over both nodes."""

from __future__ import annotations

import json

import pytest

from tests.ray.helpers import metric, rows, submit

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def two_node_cluster():
    from ray.cluster_utils import Cluster

    # One CPU per node: two 1-CPU training workers can only fit one on each node.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def test_submit_to_an_existing_multi_node_cluster(two_node_cluster, write_suite, tmp_path):
    suite = write_suite("""
        name = "two-nodes"
        workload = "vision"
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        epochs = 2
        num_workers = 2
        retrain_epochs = 0
    """)
    db = tmp_path / "cluster.duckdb"
    result = submit(suite, db, tmp_path / "shared-storage", "--address", two_node_cluster.address)
    assert result.returncode == 0, result.stdout + result.stderr
    trial = "cnn_small/torch/w2"
    assert metric(db, trial, "train", "train_nodes")[0]["value"] == 2
    assert metric(db, trial, "train", "train_replicas")[0]["value"] == 2  # DDP world size
    nodes = {json.loads(m["labels"])["node_id"] for m in metric(db, trial, "train", "worker_peak_rss_mb")}
    assert len(nodes) == 2
    [run] = rows(db, "SELECT ray_address, cluster FROM runs")
    assert run["ray_address"] == two_node_cluster.address
    assert json.loads(run["cluster"])["nodes"] == 2
    assert rows(db, "SELECT nodes FROM environments")[0]["nodes"] == 2


def test_a_trial_larger_than_the_cluster_is_refused_before_running(two_node_cluster, write_suite, tmp_path):
    suite = write_suite("""
        name = "too-big"
        workload = "vision"
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        num_workers = 3
        batch_size = 96
    """)
    db = tmp_path / "big.duckdb"
    result = submit(suite, db, tmp_path / "s", "--address", two_node_cluster.address, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: trial cnn_small/torch/w3 needs 3 CPUs (3 workers x 1) but the cluster has 2 "
    )
    assert not db.exists()


@pytest.mark.slow  # a whole embedded run (~35 s here) guarding one regression; the default run stays within budget
def test_the_embedded_ray_ignores_a_cluster_already_running_here(two_node_cluster, write_suite, tmp_path):
    """Without --address raylife must measure on its own embedded Ray, never join a `ray start` cluster."""
    suite = write_suite("""
        name = "embedded"
        workload = "vision"
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        epochs = 1
        retrain_epochs = 0
    """)
    db = tmp_path / "embedded.duckdb"
    result = submit(suite, db, tmp_path / "s")
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = rows(db, "SELECT ray_address, cluster FROM runs")
    assert run["ray_address"] == "local"
    assert json.loads(run["cluster"])["nodes"] == 1  # the running cluster has 2


def test_cluster_command_lists_the_nodes_with_their_resources(tmp_path):
    import subprocess

    from ray.cluster_utils import Cluster

    from tests.conftest import RAYLIFE, REPO

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=2, resources={"cpu_large": 4}, labels={"node-type": "large"})
    cluster.wait_for_nodes()
    try:
        result = subprocess.run([*RAYLIFE, "cluster", "--address", cluster.address, "-f", "json"],
                                capture_output=True, text=True, timeout=120, cwd=REPO)
        assert result.returncode == 0, result.stderr
        nodes = sorted(json.loads(result.stdout), key=lambda n: n["CPU"])
        assert [n["CPU"] for n in nodes] == [1.0, 2.0]
        assert nodes[1]["custom resources"] == "cpu_large=4" and "node-type=large" in nodes[1]["labels"]
        assert nodes[0]["custom resources"] == "–"
        table = subprocess.run([*RAYLIFE, "cluster", "--address", cluster.address],
                               capture_output=True, text=True, timeout=120, cwd=REPO)
        assert f"{cluster.address}: 2 nodes, 3 CPUs, 0 GPUs · Ray " in table.stdout
    finally:
        cluster.shutdown()
