"""Where a number was measured: hardware and software of the node that ran the work.

Versions come from package metadata, so fingerprinting never imports torch or TensorFlow.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
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


def fingerprint() -> dict[str, Any]:
    """The environment of this process's machine, as stored in the ``environments`` table."""
    gpus = gpu_names()
    return {
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": usable_cpu_count(),
        "gpu": ", ".join(gpus) if gpus else None,
        "gpu_count": len(gpus),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 2),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: package_version(name) for name in PACKAGES},
    }


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
