"""Stages: one trial → measurements. Each stage runs its framework work on the cluster."""

from raylife.stages.base import STAGES, Stage
from raylife.stages.context import TrialContext

__all__ = ["STAGES", "Stage", "TrialContext"]
