"""The stage contract and registry. A stage turns one trial's context into measurements."""

from __future__ import annotations

from typing import Protocol

from raylife.registry import Registry
from raylife.stages.context import TrialContext


class Stage(Protocol):
    name: str

    def run(self, ctx: TrialContext) -> None:
        """Do the work (on the cluster) and add measurements to ``ctx.record``; raise to fail the trial."""


STAGES: Registry[type[Stage]] = Registry(
    "stage",
    {
        "train": "raylife.stages.train:TrainStage",
        "evaluate": "raylife.stages.evaluate:EvaluateStage",
        "persist": "raylife.stages.persist:PersistStage",
        "retrain": "raylife.stages.retrain:RetrainStage",
        "deploy": "raylife.stages.deploy:DeployStage",
        "serve": "raylife.stages.serve:ServeStage",
        "load": "raylife.stages.load:LoadStage",
        "update": "raylife.stages.update:UpdateStage",
        "teardown": "raylife.stages.teardown:TeardownStage",
    },
)
