"""Shared fixtures. Processes that import TensorFlow need tf_keras from the start (see frameworks/tensorflow)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The tests' own Rays (the session cluster, the lanes' nodes) run their workers at normal priority, as raylife's
# embedded Ray does: at Ray's default niceness 15 any other process on a busy machine starves them
os.environ.setdefault("RAY_worker_niceness", "0")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_torch_thread_in_this_process() -> Iterator[None]:
    """PyTorch in the test process computes on one thread. Its default (a thread per core) spins waiting on a busy
    machine: beside the lanes or two busy loops the framework tests took 1.35x as long (benchmarks: 172.8 s against
    127.2 s, medians of two). Trials and replicas set their own threads; the test process never imports torch itself."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    yield
SUITES = REPO / "suites"
RAYLIFE = [sys.executable, "-m", "raylife"]


# -- order and lanes -------------------------------------------------------------------------------------------------
# The CLI tests first (they check what raylife says when no Ray runs on this machine), then the lanes' background runs
# start (tests/lanes.py) while the unit and framework tests run, then the Ray tests, those reading a lane last.

def _tier(item: pytest.Item, lanes: list[str]) -> float:
    from tests.lanes import fixture_name

    parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
    if parts[0] == "cli":
        return 0
    if parts[0] != "ray":
        return 1 if parts[0] == "unit" else 2
    if any(fixture_name(name) in item.fixturenames for name in lanes):
        return 4
    return 3.5 if item.get_closest_marker("last_on_the_session_cluster") else 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests.lanes import LANES

    import tests.ray.runs  # noqa: F401 - registers the lanes

    names = list(LANES)
    items.sort(key=lambda item: _tier(item, names))  # stable: file order within a tier


def pytest_collection_finish(session: pytest.Session) -> None:
    """The lanes the selected tests read: after ``-k`` and ``-m`` deselected (this file's collection hook runs
    before theirs), so a run that reads no lane starts none."""
    from tests.lanes import LANES, WANTED, fixture_name

    WANTED.update(name for item in session.items for name in item.fixturenames)
    session.config.stash[_NEEDED] = [n for n in LANES if any(fixture_name(n) in item.fixturenames
                                                             for item in session.items)]


_NEEDED = pytest.StashKey[list]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests.lanes import LANES

    if _tier(item, []) == 0:
        return
    for name in item.config.stash.get(_NEEDED, []):
        if not LANES[name].started:
            LANES[name].start(item.config._tmp_path_factory.mktemp(f"lane-{name}"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.lanes import LANES

    for lane in LANES.values():  # a lane stops what it started (its cluster, its S3 server) before the session ends
        lane.wait()


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's own reporter
    from tests.lanes import LANES

    ran = [lane for lane in LANES.values() if lane.started_at is not None and lane.finished_at is not None]
    if ran:
        terminalreporter.write_line("lanes (background runs): " + ", ".join(
            f"{lane.name} {lane.finished_at - lane.started_at:.0f} s"
            + (" (" + ", ".join(f"{k} {v:.0f} s" for k, v in lane.parts.items()) + ")" if lane.parts else "")
            for lane in ran))

MINIMAL_SUITE = """name = "t"
workload = "vision"
[[models]]
name = "cnn_small"
"""


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a suite file from (dedented) TOML text; returns its path."""

    def write(text: str, name: str = "suite.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "results.duckdb"


@pytest.fixture
def torch_only():
    """A workload whose only model has a PyTorch builder and no TensorFlow one."""
    from raylife.workloads import WORKLOADS, ModelInfo, Workload

    with WORKLOADS.override("torch_only", Workload(
        name="torch_only", task="test", description="", sources=WORKLOADS.get("vision").sources, default_dataset="digits",
        models={"m": ModelInfo(name="m", description="", builders={"torch": "raylife.workloads.vision.torch_models:cnn_small"})},
    )):
        yield


@pytest.fixture(scope="session")
def s3_uri() -> Iterator[Callable[[str], str]]:
    """A real S3 API (moto's server) on a free local port with a bucket ``raylife``; yields ``uri(prefix)``."""
    from tests.s3_server import local_s3

    with local_s3("raylife") as uri:
        yield uri
