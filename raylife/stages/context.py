"""What stages share while one trial runs on the driver: the trial, its record, paths, handles."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ray

from raylife.errors import RaylifeError
from raylife.frameworks import FRAMEWORKS, Framework
from raylife.plan import Trial
from raylife.records import TrialRecord
from raylife.remote.messages import ServingData
from raylife.remote.trial_actor import TRAIN_ENV_VARS, TrialActor
from raylife.artifacts import Location

if TYPE_CHECKING:
    from raylife.remote.messages import TokenPrompts
    from raylife.serving.control import ServeApp
    from raylife.stages.tokens import TokenApp


class TrialTimeout(RaylifeError):
    """A stage ran past the trial's time limit."""


@dataclass
class TrialArtifacts:
    """What one stage leaves for the next: checkpoints, saved models, the served application."""

    checkpoint: str | None = None  # the train stage's
    retrained_checkpoint: str | None = None
    models: dict[str, str] = field(default_factory=dict)  # format → directory, from persist
    data_source: str | None = None
    serving_data: ServingData | None = None
    app: ServeApp | TokenApp | None = None  # the trial's Serve application, from deploy
    token_prompts: TokenPrompts | None = None  # a decoder's prompts and offline answer, from its deploy
    serve_client_host: str | None = None  # where clients reach Serve, when not the suite's serve.host

    def need(self, name: str) -> Any:
        """An artifact a stage cannot run without; a clear error when an earlier stage did not make it."""
        value = getattr(self, name)
        if value is None or value == {}:
            raise RaylifeError(f"no {name.replace('_', ' ')}: the stage that makes it did not run in this trial")
        return value


@dataclass
class TrialContext:
    trial: Trial
    record: TrialRecord
    storage: Location  # this trial's artifacts: checkpoints, saved formats (a folder or an object-store URI)
    on_progress: Callable[[str], None] = lambda detail: None
    artifacts: TrialArtifacts = field(default_factory=TrialArtifacts)
    stage: str | None = None  # the stage running now (set by the runner): where a lazily started actor is timed
    _actor: Any = None
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def framework(self) -> Framework:
        return FRAMEWORKS.get(self.trial.framework)

    @property
    def threads(self) -> int:
        return max(1, int(self.trial.cpus_per_worker))

    def extra_env(self) -> dict[str, str]:
        """Environment every process of this trial needs beyond the framework's: where user models live."""
        if not self.trial.python_path:
            return {}
        existing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        return {"PYTHONPATH": os.pathsep.join([*self.trial.python_path, *existing])}

    def runtime_env(self, extra: dict[str, str] | None = None) -> dict[str, Any]:
        return {"env_vars": {**self.framework.env_vars, **self.extra_env(), **(extra or {})}}

    def on_trial_actor(self, method: str, *args: Any) -> Any:
        """Call a method of the trial's actor (it has the framework and the data loaded); returns the ObjectRef."""
        return getattr(self.trial_actor(), method).remote(*args)

    def trial_actor(self) -> Any:
        """The trial's ``TrialActor``, started on first use and stopped by ``close``."""
        if self._actor is None:
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            self._actor = (
                ray.remote(TrialActor)
                .options(
                    num_cpus=0, max_concurrency=4, runtime_env=self.runtime_env(TRAIN_ENV_VARS),
                    # Outside any placement group this process runs in (a Tune trial's, when trials run side by
                    # side): the fits it starts place their own workers.
                    scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=None),
                )
                .remote(self.trial.framework, self.threads, self.trial.device,
                        self.trial.precision)
            )
            self.add_cleanup(self._stop_trial_actor)
            # A named part of the stage that first needs the actor: its process start and framework import.
            started = time.perf_counter()
            self.wait(self._actor.ready.remote(), "the start of the trial's actor")
            self.record.add(self.stage or "trial", "trial_actor_start_s", time.perf_counter() - started, "s")
        return self._actor

    def _stop_trial_actor(self) -> None:
        if self.storage.remote:  # its copies of the object store's folders on its node's disk go with it
            try:
                ray.get(self._actor.discard_copies.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - a dead actor has nothing left to remove that we could reach
                pass
        ray.kill(self._actor)

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def close(self) -> None:
        """Run cleanups newest first; one failing does not stop the others."""
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception:  # noqa: BLE001 - cleanup must not hide the trial's own outcome
                pass

    def wait(self, ref: Any, what: str, poll: Callable[[], None] | None = None, poll_s: float = 0.5) -> Any:
        """``ray.get`` with the trial's time limit, calling ``poll`` while waiting (for progress)."""
        deadline = time.monotonic() + self.trial.timeout_s
        while True:
            ready, _ = ray.wait([ref], timeout=poll_s)
            if ready:
                return ray.get(ref)
            if time.monotonic() > deadline:
                ray.cancel(ref, force=True)
                raise TrialTimeout(
                    f"{what} did not finish within {self.trial.timeout_s:.0f} s",
                    hint="raise train.timeout_s, or check that the cluster has the resources the trial asks for",
                )
            if poll is not None:
                poll()
