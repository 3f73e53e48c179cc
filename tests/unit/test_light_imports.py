"""The CLI, planner and store must not import Ray, torch or TensorFlow: `raylife --help` stays instant."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("ray", "torch", "tensorflow", "keras", "tf_keras")


@pytest.mark.parametrize(
    "module", ["raylife.cli", "raylife.suite", "raylife.plan", "raylife.store", "raylife.report.tables", "raylife.measure.quality"]
)
def test_module_imports_no_heavy_dependency(module):
    code = (
        f"import sys, {module}\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} imports {out}"
