"""raylife: measure the whole lifecycle of deep-learning models on Ray.

The library behind the CLI, for notebooks and scripts (imported on first use, so ``import raylife`` stays light)::

    import raylife
    suite, text = raylife.load_suite("suites/smoke.toml")
    trials = raylife.plan_trials(suite, "suites/smoke.toml")
    outcome = raylife.run_suite(suite, trials, suite_path="suites/smoke.toml", suite_text=text, db_path="r.duckdb")
    with raylife.Store("r.duckdb", read_only=True) as store:
        rows = store.lifecycle(outcome.run_id)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_suite": "raylife.suite:load_suite",
    "parse_suite": "raylife.suite:parse_suite",
    "plan_trials": "raylife.plan:plan_trials",
    "run_suite": "raylife.runner:run_suite",
    "Store": "raylife.store:Store",
    "RaylifeError": "raylife.errors:RaylifeError",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'raylife' has no attribute '{name}'")
    import importlib

    module, attr = _EXPORTS[name].split(":")
    return getattr(importlib.import_module(module), attr)
