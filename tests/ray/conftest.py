"""What the Ray tests share, started once per session: a real multi-node local cluster (``ray.cluster_utils.Cluster``)
for every test that can run on it, one connection to it for the tests that use Ray in this process, and the whole runs
that the lanes (tests/lanes.py) run in the background.

The cluster: a head node with 2 CPUs and the custom resource ``cpu_small``, and a second node with 2 CPUs, the custom
resource ``cpu_large`` and the label ``node-type=large`` — two platforms, two nodes, labels and resources, on one
machine. Runs submitted to it (``raylife submit --address``) skip an embedded Ray's start-up; tests run one at a
time, so a run has the cluster to itself (the in-process Serve tests shut their Serve down when they end).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lanes import LANES
from tests.ray.helpers import Run


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    from ray.cluster_utils import Cluster

    # no log monitor (this process takes no workers' logs), no autoscaler monitor: less idle CPU beside the tests
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "resources": {"cpu_small": 2},
                                                            "include_dashboard": False, "include_log_monitor": False,
                                                            "no_monitor": True})
    cluster.add_node(num_cpus=2, resources={"cpu_large": 2}, labels={"node-type": "large"})
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="session")
def ray_session(cluster) -> Iterator[None]:
    """This process connected to the session's cluster (tests that drive stages, Serve or actors directly)."""
    import ray

    ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_lane() -> Run:
    """README's main command on its own embedded Ray (tests/ray/runs.py), run in a lane."""
    return LANES["smoke"].result()


@pytest.fixture(scope="session")
def files_lane():
    """An image folder streamed through Ray Data, after the smoke lane (tests/ray/runs.py)."""
    return LANES["files"].result()


@pytest.fixture(scope="session")
def random_steps_run(cluster_runs_lane) -> Run:
    """A reference model on random inputs, bounded by steps, on the cluster-runs lane's cluster (tests/ray/runs.py)."""
    return cluster_runs_lane.random_steps


@pytest.fixture(scope="session")
def cluster_runs_lane():
    """The runs on a two-node cluster of their own (tests/ray/runs.py), in a lane: repeats, side by side on S3,
    failures on purpose."""
    return LANES["cluster-runs"].result()
