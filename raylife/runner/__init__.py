"""The runner: Ray connection, trial scheduling, failure isolation, storage of results."""

from raylife.runner.observer import RunObserver, SilentObserver
from raylife.runner.run import RunOutcome, run_suite

__all__ = ["RunObserver", "RunOutcome", "SilentObserver", "run_suite"]
