"""Plan: a validated suite → the list of trials it runs. Pure: no Ray, no frameworks imported."""

from raylife.plan.trials import Trial, plan_trials

__all__ = ["Trial", "plan_trials"]
