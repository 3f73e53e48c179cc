"""One trial, stage by stage: ``run_trial`` runs its development stages, then its serving stages once per serving
configuration (deployed, measured and deleted before the next), and returns what it measured as a ``TrialRecord``.

Three named parts: ``StageClock`` times every stage and stores what every stage stores (``stage_wall_s``,
``unaccounted_s``, ``trials_beside``, the host's load); ``TrialRun`` walks the stage groups and owns the serving slot;
its serving-configuration steps take a configuration over from an interrupted run, measure one, or store why one
failed.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from raylife.errors import RaylifeError
from raylife.lifecycle import serving_stage
from raylife.measure import host_load
from raylife.measure.metrics import unaccounted_s
from raylife.plan import Trial
from raylife.plan.serving import ServingConfig
from raylife.records import TrialRecord, utcnow
from raylife.runner.neighbours import Alone, Neighbours
from raylife.runner.observer import RunObserver
from raylife.runner.serving_search import ConfigProposer, config_figures
from raylife.artifacts import Location

Group = tuple[ServingConfig | None, list[str]]


def _ray_wrapper(exc: BaseException) -> bool:
    return type(exc).__name__.startswith("RayTaskError") and getattr(exc, "cause", None) is not None


def root_cause(exc: BaseException) -> tuple[str, str]:
    """A one-line error and the full traceback, looking through Ray's wrappers to the user's exception."""
    inner: BaseException = exc
    seen = set()
    # raylife's own errors say it best; Ray's wrapper of one (RayTaskError(DataError)) is a subclass of it too
    while id(inner) not in seen and not (isinstance(inner, RaylifeError) and not _ray_wrapper(inner)):
        seen.add(id(inner))
        cause = getattr(inner, "cause", None) or inner.__cause__
        # RayTaskError → the exception raised in the task; TrainingFailedError → the worker's error.
        worker_errors = getattr(inner, "worker_failures", None)
        if isinstance(worker_errors, dict) and worker_errors:
            cause = next(iter(worker_errors.values()))
        if cause is None or cause is inner:
            break
        inner = cause
    text = str(inner).strip().splitlines()
    line = next((part for part in reversed(text) if part.strip()), "") if text else ""
    one_line = f"{type(inner).__name__}: {line}" if line else type(inner).__name__
    full = "".join(traceback.format_exception(exc))
    return one_line[:500], full


def stage_groups(trial: Trial) -> list[Group]:
    """The trial's stages in order, the serving ones once per serving configuration (the update, which redeploys the
    retrained model, under the first only); one group of every stage when the trial has one deployment."""
    serving = [s for s in trial.stages if serving_stage(s)]
    if not trial.serve_configs or not serving:
        return [(None, list(trial.stages))]
    develop = [s for s in trial.stages if not serving_stage(s)]
    return [(None, develop), *((c, _serving_names(trial, c)) for c in trial.serve_configs)]


def _serving_names(trial: Trial, config: ServingConfig) -> list[str]:
    return [s for s in trial.stages if serving_stage(s) and (s != "update" or config.index == 0)]


def _planned_groups(trial: Trial, proposer: ConfigProposer | None) -> Iterator[Group]:
    """``stage_groups``, the configurations in the order (and number) the proposer chooses them as they are measured."""
    groups = stage_groups(trial)
    if proposer is None:
        yield from groups
        return
    yield groups[0]
    for config in proposer:
        yield config, _serving_names(trial, config)


@dataclass
class StageClock:
    """Times a trial's stages and records what every stage stores: its wall time (label ``started_unix``), the part
    no named measurement accounts for, the trials active beside it and the host's load meanwhile."""

    record: TrialRecord
    neighbours: Neighbours
    index: int  # the trial's, as the neighbours know it
    total_s: float = 0.0  # every stage so far: the trial's overhead is its wall time less this

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, started_unix, cpu_before = time.perf_counter(), time.time(), host_load.read()
        try:
            yield
        finally:  # a failed stage's time counts too: it is where the trial's time went
            elapsed = time.perf_counter() - started
            self.total_s += elapsed
            record = self.record
            record.add(name, "stage_wall_s", elapsed, "s", started_unix=round(started_unix, 3))
            current = record.context.get("config")  # this configuration's parts only
            rest = unaccounted_s(name, elapsed, [(m.stage, m.metric, m.value, m.labels)
                                                 for m in record.measurements if m.labels.get("config") == current])
            if rest is not None:
                record.add(name, "unaccounted_s", rest, "s")
            record.add(name, "trials_beside", self.neighbours.beside(self.index, started_unix, time.time()), "count")
            _add_host_load(record, name, host_load.between(cpu_before, host_load.read()))


def _add_host_load(record: TrialRecord, stage: str, load: host_load.HostLoad) -> None:
    reason = {"reason": load.missing} if load.missing else {}
    record.add(stage, "host_load_1m", load.load_avg_1m, "load")
    record.add(stage, "host_busy_pct", load.busy_pct, "%", **reason)
    record.add(stage, "host_steal_pct", load.steal_pct, "%", **reason)
    record.add(stage, "host_other_pct", load.other_pct, "%", **reason)


def run_stage(name: str, ctx: Any) -> None:
    from raylife.stages.base import stage_for

    stage_for(ctx.trial, name)().run(ctx)


def _delete_app(ctx: Any) -> None:
    """A failed configuration's application goes before the next is deployed under the same name."""
    app = ctx.artifacts.app
    if app is not None:
        try:
            app.delete()
        except Exception:  # noqa: BLE001 - the configuration's own failure is what gets stored
            pass
        ctx.artifacts.app = None


@dataclass
class TrialRun:
    """One trial's walk through its stage groups (see ``run_trial``)."""

    trial: Trial
    ctx: Any  # stages.TrialContext
    observer: RunObserver
    neighbours: Neighbours
    checkpoint: Callable[[TrialRecord], None] | None
    earlier: dict[str, Any]
    clock: StageClock
    proposer: ConfigProposer | None
    serving: bool = False  # holds the serving slot
    failed_configs: dict[str, str | None] = field(default_factory=dict)  # configuration key → why it failed

    @property
    def record(self) -> TrialRecord:
        return self.ctx.record

    def run(self) -> None:
        for config, names in _planned_groups(self.trial, self.proposer):
            if config is None:
                self.run_stages(names)
            elif config.key in self.earlier:
                self.take_over(config)
            else:
                self.measure_config(config, names)
        scores = self.proposer.scores if self.proposer is not None else {}
        if scores and len(self.failed_configs) == len(scores):
            key, error = next(iter(self.failed_configs.items()))
            raise RuntimeError(f"every serving configuration failed; the first: {key}: {error}")
        if self.proposer is not None and self.proposer.plan.confirm_top > 1:
            self.confirm_best()

    def run_stages(self, names: list[str], config: ServingConfig | None = None) -> None:
        """The stages in order; after a configuration broke a limit (early stop) only its teardown."""
        from raylife.stages.base import stage_for

        stopped: str | None = None
        for name in names:
            if stopped and name != "teardown":
                continue
            if serving_stage(name) and not self.serving:
                self.observer.detail(self.trial, "waiting for the serving slot")
                self.neighbours.enter_serving(self.trial.index)
                self.serving = True
            self.observer.stage_started(self.trial, name)
            self.ctx.stage = name
            with self.clock.stage(name):
                stage_for(self.trial, name)().run(self.ctx)
                if config is not None and name == "serve" and self.proposer.plan.limits:
                    stopped = self.stop_early(config, name)

    def figures(self, config: ServingConfig) -> dict[str, Any]:
        return config_figures(self.record, config, self.trial.prices, self.trial.serve_device == "gpu")

    def stop_early(self, config: ServingConfig, stage: str) -> str | None:
        """A configuration that already breaks a limit after its closed-loop cells skips its open-loop sweep."""
        stopped = self.proposer.plan.broken(self.figures(config))
        if stopped:
            self.record.add(stage, "serving_config_stopped", 1, "count", reason=stopped)
        return stopped

    def take_over(self, config: ServingConfig) -> None:
        """A configuration an interrupted run of this trial measured: its measurements, requests and seconds, as
        stored, and the search goes on from its figures (``submit --resume``)."""
        stored = self.earlier[config.key]
        self.record.measurements.extend(stored.measurements)
        self.record.latencies.extend(stored.latencies)
        self.record.timeline.extend(stored.timeline)
        self.failed_configs.update({config.key: m.labels.get("error") for m in stored.measurements
                                    if m.metric == "serving_config_failed"})
        self.proposer.measured(config, self.figures(config))
        self.observer.detail(self.trial, f"serving configuration {config.key}: measured before the interruption")

    def measure_config(self, config: ServingConfig, names: list[str]) -> None:
        """One serving configuration deployed, measured and deleted; one that fails is stored with why, and the
        others are still measured."""
        trial, record = self.trial, self.record
        self.ctx.trial = replace(trial, serve=config.spec, serve_format=config.format)
        record.context = config.labels()
        record.add("deploy", "serving_config", config.index, "count", **config.settings(),
                   order=len(self.proposer.scores) + 1, chosen_by=self.proposer.plan.algorithm)
        self.observer.detail(trial, f"serving configuration {config.index + 1}/{len(trial.serve_configs)}: {config.key}")
        try:
            self.run_stages(names, config)
        except Exception as exc:
            error, _ = root_cause(exc)
            self.failed_configs[config.key] = error
            record.add(self.ctx.stage or "deploy", "serving_config_failed", 1, "count", error=error)
            self.observer.detail(trial, f"serving configuration {config.key} failed: {error}")
            _delete_app(self.ctx)
        finally:
            self.proposer.measured(config, self.figures(config))
            record.context = {}
            self.ctx.trial = trial
        self.store_progress()
        self.observer.config_finished(trial, config.key, len(self.proposer.scores), self.proposer.plan.max_configs,
                                      self.failed_configs.get(config.key))

    def confirm_best(self) -> None:
        """The best configurations measured again in fresh windows (deploy, serve, load, teardown; no update), each
        stored as ``serving_config_confirmed`` beside its first score, and the best of those as
        ``serving_config_best``: the best of many noisy figures is mostly the luckiest, its second measurement not."""
        plan, record = self.proposer.plan, self.record
        top = self.proposer.best(plan.confirm_top)
        if len(top) < 2:
            return
        confirmed: list[tuple[float | None, float, ServingConfig]] = []
        for rank, (first, config) in enumerate(top, 1):
            self.observer.detail(self.trial, f"confirming the best: {config.key} ({rank} of {len(top)}), fresh windows")
            scratch = TrialRecord(run_id=record.run_id, trial=self.trial)  # the same trial id: the same application
            scratch.context = config.labels()
            clock = StageClock(scratch, self.neighbours, self.trial.index)
            self.ctx.record, self.ctx.trial = scratch, replace(self.trial, serve=config.spec, serve_format=config.format)
            try:
                names = [n for n in _serving_names(self.trial, config) if n != "update"]
                for name in names:
                    self.ctx.stage = name
                    with clock.stage(name):
                        run_stage(name, self.ctx)
                score = plan.score(config_figures(scratch, config, self.trial.prices, self.trial.serve_device == "gpu"),
                                   config.spec.most_replicas * config.spec.cpus_per_replica)
            except Exception as exc:
                score = None
                _delete_app(self.ctx)
                self.observer.detail(self.trial, f"confirming {config.key} failed: {root_cause(exc)[0]}")
            finally:
                self.ctx.record, self.ctx.trial = record, self.trial
                self.clock.total_s += clock.total_s  # the trial's time went there: not its overhead
            record.add("deploy", "serving_config_confirmed", score, "score", config=config.key,
                       objective=plan.objective, per_cpu=plan.per_cpu, first_score=first, first_rank=rank,
                       seconds=round(clock.total_s, 2))
            confirmed.append((score, first, config))
        ranked = sorted((c for c in confirmed if c[0] is not None), key=lambda c: c[0], reverse=plan.mode == "max")
        if ranked:
            score, first, config = ranked[0]
            record.add("deploy", "serving_config_best", config.index, "count", config=config.key,
                       objective=plan.objective, per_cpu=plan.per_cpu, score=score, first_score=first,
                       first_rank=[c[2].key for c in confirmed].index(config.key) + 1, confirmed=len(confirmed))

    def store_progress(self) -> None:
        """The record so far, stored as failed ("interrupted after …": the final store replaces it)."""
        if self.checkpoint is None:
            return
        record, done = self.record, len(self.proposer.scores)
        record.status, record.error = "failed", (
            f"interrupted after {done} of {self.proposer.plan.max_configs} serving configurations; "
            "`raylife submit --resume` continues from there")
        self.checkpoint(record)
        record.status, record.error = "running", None

    def close(self) -> None:
        self.ctx.close()  # deletes the trial's Serve application before the serving slot is given up
        if self.serving:
            self.neighbours.leave_serving(self.trial.index)
        self.neighbours.trial_finished(self.trial.index)


def run_trial(
    trial: Trial, run_id: str, storage: Location, observer: RunObserver, serve_client_host: str | None = None,
    neighbours: Neighbours | None = None, checkpoint: Callable[[TrialRecord], None] | None = None,
    earlier: dict[str, Any] | None = None,
) -> TrialRecord:
    """All stages of one trial; an exception fails this trial only, with its error and traceback kept.

    ``neighbours`` knows the trials running beside this one (side by side): each stage records how many were
    active during it, and the latency-measuring stages (deploy … teardown) run only while holding its gate.
    ``checkpoint`` stores the record after each serving configuration (as failed, "interrupted after ...": the final
    store replaces it); ``earlier`` holds the configurations an interrupted run of this trial stored, by key — they are
    taken over, not measured again, and the search goes on from them (``submit --resume``).
    """
    from raylife.stages import TrialContext

    neighbours = neighbours or Alone()
    record = TrialRecord(run_id=run_id, trial=trial)
    ctx = TrialContext(trial=trial, record=record, storage=storage.child(run_id, record.trial_id),
                       on_progress=lambda text: observer.detail(trial, text))
    if serve_client_host:
        ctx.artifacts.serve_client_host = serve_client_host
    observer.trial_started(trial)
    neighbours.trial_started(trial.index)
    walk = TrialRun(trial=trial, ctx=ctx, observer=observer, neighbours=neighbours, checkpoint=checkpoint,
                    earlier=earlier or {}, clock=StageClock(record, neighbours, trial.index),
                    proposer=ConfigProposer(trial) if trial.serve_configs else None)
    try:
        walk.run()
        record.status = "ok"
    except KeyboardInterrupt:
        record.status, record.error = "failed", "interrupted"
        raise
    except Exception as exc:  # noqa: BLE001 - a failing trial must not stop the others
        record.status = "failed"
        record.error, record.traceback = root_cause(exc)
    finally:
        walk.close()
        record.finished_at = utcnow()
        # Everything of the trial that no stage accounts for: context set-up, cleanups, raylife's bookkeeping.
        record.add("trial", "overhead_s", (record.finished_at - record.started_at).total_seconds() - walk.clock.total_s,
                   "s")
    return record
