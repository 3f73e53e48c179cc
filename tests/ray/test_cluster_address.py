"""--address: an existing multi-node Ray cluster (the session's), its nodes as raylife reads them, and the checks made
once connected. (A run spread over both nodes: tests/ray/test_resume.py, whose runs go to this cluster.)"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import RAYLIFE, REPO
from tests.ray.helpers import rows, submit

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]


def test_a_trial_larger_than_the_cluster_is_refused_before_running(cluster, write_suite, tmp_path):
    suite = write_suite("""
        name = "too-big"
        workload = "vision"
        [[models]]
        name = "cnn_small"
        frameworks = ["torch"]
        [train]
        num_workers = 5
        batch_size = 160
    """)
    db = tmp_path / "big.duckdb"
    result = submit(suite, db, tmp_path / "s", "--address", cluster.address, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: trial cnn_small/torch/w5 needs 5 CPUs (5 workers x 1) but the cluster has 4 "
    ), result.stderr
    assert not db.exists()


@pytest.mark.slow  # a whole embedded run (~35 s here) guarding one regression; the default run stays within budget
def test_the_embedded_ray_ignores_a_cluster_already_running_here(cluster, write_suite, tmp_path):
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


def test_cluster_command_lists_the_nodes_with_their_resources(cluster):
    # In its own process: the command connects to Ray and disconnects, which this test process must not.
    result = subprocess.run([*RAYLIFE, "cluster", "--address", cluster.address, "-f", "json"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    nodes = sorted(json.loads(result.stdout), key=lambda n: n["custom resources"])
    assert [n["CPU"] for n in nodes] == [2.0, 2.0]
    assert [n["custom resources"] for n in nodes] == ["cpu_large=2", "cpu_small=2"]
    assert "node-type=large" in nodes[0]["labels"] and "node-type" not in nodes[1]["labels"]
    table = subprocess.run([*RAYLIFE, "cluster", "--address", cluster.address],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
    assert f"{cluster.address}: 2 nodes, 4 CPUs, 0 GPUs · Ray " in table.stdout


@pytest.mark.slow  # Ray retries a refusing cluster for 20 s; the recognition itself: tests/unit/test_cluster_checks.py
def test_a_cluster_that_wants_a_token_is_named_with_what_to_set(write_suite, tmp_path):
    """A `ray start` cluster with token authentication on, and a driver whose environment sends none."""
    import os

    from tests.ray.helpers import NodeProcesses

    nodes = NodeProcesses(env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "raylife-test-token-0123456789abcdef"})
    try:
        nodes.head(num_cpus=1, wait=False)
        suite = write_suite("""
            name = "token"
            workload = "vision"
            [[models]]
            name = "cnn_small"
            frameworks = ["torch"]
        """)
        db = tmp_path / "t.duckdb"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
        result = subprocess.run([*RAYLIFE, "submit", str(suite), "--db", str(db), "--address", nodes.address],
                                capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    finally:
        nodes.stop()
    assert result.returncode == 1
    [line] = result.stderr.splitlines()  # Ray's retries say nothing: one line
    assert line.startswith(f"Error: the Ray cluster at {nodes.address} requires an authentication token, and "
                           "this driver sent none (--address / RAY_ADDRESS); set RAY_AUTH_MODE=token"), result.stderr
    assert "Traceback" not in result.stderr and not db.exists()
