"""The lifecycle's stages, in the order a trial runs them: the one list the planner, the runner, the stage registry
and every report read (a stage added here is planned, run, timed and shown in this order)."""

from __future__ import annotations

# The development stages; a trial runs them first.
DEVELOP_STAGES = ("train", "evaluate", "persist", "retrain")
# The deployment stages, added when the suite serves; they run one trial at a time (latency is measured there).
DEPLOY_STAGES = ("deploy", "serve", "load", "update", "teardown")
STAGE_ORDER = DEVELOP_STAGES + DEPLOY_STAGES


def serving_stage(name: str) -> bool:
    """Whether a stage measures latency (and so runs only while no other trial does)."""
    return name in DEPLOY_STAGES


__all__ = ["DEPLOY_STAGES", "DEVELOP_STAGES", "STAGE_ORDER", "serving_stage"]
