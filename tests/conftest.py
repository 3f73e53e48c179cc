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
    """A real S3 API (moto's server) on a free local port with a bucket ``raylife``; yields ``uri(prefix)``."""
    from tests.s3_server import local_s3

    with local_s3("raylife") as uri:
        yield uri
