"""The CLI, planner and store must not import Ray, torch or TensorFlow: `raylife --help` stays instant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("ray", "torch", "tensorflow", "keras", "tf_keras")


def pure_modules() -> list[str]:
    """Every module that runs on the driver before (or without) Ray: the CLI, suites, planning, storing,
    reporting, measuring, the pre-flight checks and the workloads' descriptors (not their model builders)."""
    root = Path(__file__).resolve().parents[2] / "raylife"
    found = []
    for folder in ("cli", "suite", "plan", "store", "report", "measure", "clients"):
        found += [f"raylife.{folder}.{p.stem}" for p in sorted((root / folder).glob("*.py")) if p.stem != "__init__"]
    found += ["raylife", "raylife.cli", "raylife.errors", "raylife.registry", "raylife.records", "raylife.runner.preflight",
              "raylife.workloads", "raylife.workloads.options", "raylife.workloads.reference", "raylife.frameworks",
              "raylife.remote.messages", "raylife.serving.control", "raylife.serving.messages",
              "raylife.frameworks.contract", "raylife.frameworks.model", "raylife.runner.neighbours", "raylife.plan.identity",
              "raylife.artifacts"]
    found += [f"raylife.workloads.{w.name}.data" for w in sorted((root / "workloads").iterdir()) if (w / "data.py").exists()]
    return found


def heavy_after_importing(*modules: str) -> str:
    code = (
        f"import sys, {', '.join(modules)}\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(','.join(heavy))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_pure_modules_import_no_heavy_dependency():
    modules = pure_modules()
    if heavy_after_importing(*modules):  # one interpreter for all; on failure, find the culprits one by one
        culprits = {m: heavy for m in modules if (heavy := heavy_after_importing(m))}
        pytest.fail(f"modules importing heavy dependencies: {culprits}")
