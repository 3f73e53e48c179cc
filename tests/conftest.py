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

REPO = Path(__file__).resolve().parents[1]
SUITES = REPO / "suites"
RAYLIFE = [sys.executable, "-m", "raylife"]

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
    """A real S3 API (moto's server) on a free local port with a bucket ``raylife``; yields ``uri(prefix)``, a URI
    that carries the credentials and endpoint, so every process reading it (Ray workers included) needs nothing else."""
    import socket
    import subprocess
    import time

    import pyarrow.fs

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    query = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.2)
        fs, _ = pyarrow.fs.FileSystem.from_uri(f"s3://test:test@raylife?{query}&allow_bucket_creation=true")
        fs.create_dir("raylife")
        yield lambda prefix: f"s3://test:test@raylife/{prefix}?{query}"
    finally:
        server.terminate()
        server.wait(timeout=10)
