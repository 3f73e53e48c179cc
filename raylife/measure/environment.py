"""Where a number was measured: hardware and software of the node that ran the work.

Versions come from package metadata, so fingerprinting never imports torch or TensorFlow.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil

PACKAGES = ("ray", "torch", "tensorflow", "tf_keras", "keras", "duckdb", "numpy", "onnxruntime")


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    """GPU names from nvidia-smi, without importing a framework; [] when there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def usable_cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Fingerprint:
    """The machine and software a process ran on, as stored in the ``environments`` and ``placements`` tables."""

    hostname: str
    cpu: str
    cpu_count: int
    gpu: str | None  # the GPUs' names, comma-separated; None without one
    gpu_count: int
    memory_gb: float
    os: str
    python: str
    versions: Mapping[str, str | None] = field(default_factory=dict)  # package → version (None: not installed)

    @property
    def keras(self) -> str | None:
        """The Keras TensorFlow trains with: tf_keras where installed (raylife's choice, see frameworks/tensorflow)."""
        return self.versions.get("tf_keras") or self.versions.get("keras")


def fingerprint() -> Fingerprint:
    """The environment of this process's machine."""
    gpus = gpu_names()
    return Fingerprint(
        hostname=socket.gethostname(),
        cpu=cpu_model(),
        cpu_count=usable_cpu_count(),
        gpu=", ".join(gpus) if gpus else None,
        gpu_count=len(gpus),
        memory_gb=round(psutil.virtual_memory().total / 1024**3, 2),
        os=platform.platform(),
        python=platform.python_version(),
        versions={name: package_version(name) for name in PACKAGES},
    )


# Resources every Ray node reports; anything else a node offers is a custom resource (a platform can select it).
BUILTIN_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


@dataclass(frozen=True)
class NodeInfo:
    """One live Ray node: its id, address, resources (Ray's internal ``node:*`` markers left out) and labels."""

    node_id: str
    address: str | None
    hostname: str | None
    resources: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def resource(self, name: str) -> float:
        return float(self.resources.get(name, 0.0))

    @property
    def custom_resources(self) -> dict[str, float]:
        return {k: v for k, v in self.resources.items() if k not in BUILTIN_RESOURCES}


@dataclass(frozen=True)
class ClusterInfo:
    """What a Ray cluster offers: totals, and its nodes where known (None for an embedded Ray not started yet)."""

    cpus: float
    gpus: float
    memory_gb: float | None = None
    nodes: tuple[NodeInfo, ...] | None = None
    cpu_bf16: bool | None = None  # whether the machine's CPU has bf16 instructions (embedded Ray only; None: unknown)

    @property
    def node_count(self) -> int | None:
        return None if self.nodes is None else len(self.nodes)

    def as_json(self) -> dict[str, Any]:
        """The ``runs.cluster`` column: counts at the top (``nodes`` is the node count), then every node."""
        return {"nodes": self.node_count, "cpus": self.cpus, "gpus": self.gpus, "memory_gb": self.memory_gb,
                "node_list": [asdict(n) for n in self.nodes or ()]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ClusterInfo:
        nodes = tuple(NodeInfo(node_id=n["node_id"], address=n.get("address"), hostname=n.get("hostname"),
                               resources=dict(n.get("resources") or {}), labels=dict(n.get("labels") or {}))
                      for n in raw.get("node_list") or ())
        return cls(cpus=float(raw.get("cpus") or 0), gpus=float(raw.get("gpus") or 0), memory_gb=raw.get("memory_gb"),
                   nodes=nodes)


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the raylife checkout, when raylife runs from one."""
    root = path or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None
