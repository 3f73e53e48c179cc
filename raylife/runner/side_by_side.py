"""Trials side by side through Ray Tune: each Tune trial runs one raylife trial's stages; the driver writes each
record the moment its trial completes.

Ray 2.60 runs several Ray Train fits at once through a function trainable that starts them itself (a Trainer is no
longer a Tune trainable; docs/ray-notes.md). Here the trainable runs ``run_trial`` — every stage of one trial,
in its own Tune trial process — so a trial is measured exactly as in the sequential runner. The trainable holds one
byte of memory (Tune refuses an empty request, and a CPU share, even 0.001, would leave one trial's worker short of
a whole CPU); the trial's actor is started outside Tune's placement group, so it, its Train workers and the Serve
replicas ask for their own resources as always and Ray's scheduler places them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Tune's new console output prints an experiment box and a TensorBoard hint even at verbose=0; the legacy reporter
# honours verbose=0. Set before Tune is imported: it reads the variable then. raylife shows its own progress.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

from ray import tune  # noqa: E402

from raylife.plan import Trial
from raylife.records import TrialRecord, utcnow
from raylife.runner.neighbours import Coordinator, Event, RemoteNeighbours
from raylife.runner.observer import RunObserver
from raylife.artifacts import Location

TUNE_TRIAL_RESOURCES = {"memory": 1}  # the trainable only waits on its stages; Tune needs a non-empty request


class _RemoteObserver:
    """Progress from a Tune trial process, sent to the coordinator for the driver's display."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def run_started(self, run_id: str, trials: list[Trial]) -> None: ...

    def trial_started(self, trial: Trial) -> None:
        self.actor.event.remote(Event(trial.index, "trial_started", at=time.time()))

    def stage_started(self, trial: Trial, stage: str) -> None:
        self.actor.event.remote(Event(trial.index, "stage_started", stage, at=time.time()))

    def detail(self, trial: Trial, text: str) -> None:
        self.actor.event.remote(Event(trial.index, "detail", text, at=time.time()))

    def config_finished(self, trial: Trial, key: str, done: int, planned: int, error: str | None) -> None:
        self.detail(trial, f"serving configuration {key} {'failed' if error else 'measured'} ({done} of {planned})")

    def trial_finished(self, record: TrialRecord) -> None: ...


@dataclass(frozen=True)
class _Driver:
    forward_events: Callable[[], None]
    finish: Callable[..., None]


# Tune pickles its run config, callbacks included: the callback carries only the run id; what it calls on the
# driver (the store, the progress display) is found here.
_DRIVERS: dict[str, _Driver] = {}


class DriverCallback(tune.Callback):
    """Runs in the driver's Tune loop: forwards progress, stores each record as its trial completes."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        _DRIVERS[self.run_id].forward_events()

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        _DRIVERS[self.run_id].finish(trial.config["index"])

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        _DRIVERS[self.run_id].finish(trial.config["index"], error=f"Tune trial error: {trial.error_file or 'see Ray logs'}")


def _trainable(config: dict[str, Any], trials: dict[int, Trial], run_id: str, storage: str,
               serve_client_host: str | None, coordinator: Any) -> None:
    import ray

    from raylife.runner.trial_run import run_trial

    trial = trials[config["index"]]
    record = run_trial(trial, run_id, Location(storage), _RemoteObserver(coordinator), serve_client_host,
                       RemoteNeighbours(coordinator))
    ray.get(coordinator.put_record.remote(trial.index, record))
    tune.report({"ok": record.status == "ok"})


def run_side_by_side(
    trials: list[Trial], *, run_id: str, storage: Location, max_concurrent: int, max_serving: int,
    observer: RunObserver, serve_client_host: str | None, store_record: Callable[[TrialRecord], None],
) -> None:
    """Run ``trials`` at most ``max_concurrent`` at a time; ``store_record`` gets each record as its trial ends."""
    import ray

    by_index = {t.index: t for t in trials}
    coordinator = (
        ray.remote(Coordinator)
        .options(num_cpus=0, max_concurrency=len(trials) * 4 + 8, name=f"raylife-coordinator-{run_id}")
        .remote(max_serving)
    )
    stored: set[int] = set()

    shown: set[int] = set()

    def forward_events() -> None:
        for event in ray.get(coordinator.drain.remote()):
            trial = by_index[event.index]
            if event.index not in shown:  # a trial's first event starts its line, whatever arrived first
                shown.add(event.index)
                observer.trial_started(trial)
            if event.kind == "trial_started":
                continue
            elif event.kind == "stage_started":
                observer.stage_started(trial, event.text)
            else:
                observer.detail(trial, event.text)

    def finish(index: int, error: str | None = None) -> None:
        if index in stored:
            return
        forward_events()  # the trial's own start event comes before its end
        if index not in shown:
            shown.add(index)
            observer.trial_started(by_index[index])
        record = ray.get(coordinator.take_record.remote(index))
        if record is None:  # the Tune trial itself failed before it could hand its record over
            record = TrialRecord(run_id=run_id, trial=by_index[index], status="failed",
                                 error=error or "the Tune trial ended without a record", finished_at=utcnow())
        stored.add(index)
        store_record(record)

    _DRIVERS[run_id] = _Driver(forward_events, finish)
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, trials=by_index, run_id=run_id, storage=storage.uri,
                             serve_client_host=serve_client_host, coordinator=coordinator),
        TUNE_TRIAL_RESOURCES,
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"index": tune.grid_search([t.index for t in trials])},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=False),
        run_config=tune.RunConfig(
            name=f"tune-{run_id}", storage_path=storage.child(run_id).uri, callbacks=[DriverCallback(run_id)],
            verbose=0, log_to_file=True,
        ),
    )
    try:
        tuner.fit()
    finally:
        for index in by_index:  # a record handed over but not yet reported by Tune (an interrupted run) is kept
            if index not in stored:
                record = ray.get(coordinator.take_record.remote(index))
                if record is not None:
                    stored.add(index)
                    store_record(record)
        ray.kill(coordinator)
        _DRIVERS.pop(run_id, None)
