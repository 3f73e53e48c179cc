"""The stage contract and registry. A stage turns one trial's context into measurements."""

from __future__ import annotations

from typing import Any, Protocol

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


def stage_for(trial: Any, name: str) -> type[Stage]:
    """The stage class a trial runs under ``name``: its workload's own where it has one (a decoder's deploy and serve
    stream tokens), else the registry's."""
    from raylife.registry import import_object
    from raylife.workloads import WORKLOADS

    own = WORKLOADS.get(trial.workload).stages.get(name)
    return import_object(own, what=f"stage '{name}'") if own else STAGES.get(name)
