"""Run a planned suite: connect to Ray, run each trial's stages in order, store each finished trial."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import raylife
from raylife.errors import RaylifeError
from raylife.measure import host_load
from raylife.measure.environment import git_commit
from raylife.measure.metrics import unaccounted_s
from raylife.plan import Trial
from raylife.plan.serving import ServingConfig
from raylife.runner.serving_search import ConfigProposer, config_figures
from raylife.records import TrialRecord, utcnow
from raylife.runner.cluster import Cluster, check_fits, check_shared_storage, connect, disconnect
from raylife.lifecycle import serving_stage
from raylife.runner.neighbours import Alone, Neighbours
from raylife.runner.observer import RunObserver, SilentObserver
from raylife.runner.preflight import Checked, preflight
from raylife.storage import Location
from raylife.store import Store, new_run_id
from raylife.suite import SuiteSpec


@dataclass
class RunOutcome:
    run_id: str
    records: list[TrialRecord]
    wall_s: float
    cluster: Cluster

    @property
    def failed(self) -> list[TrialRecord]:
        return [r for r in self.records if r.status != "ok"]


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


def _start_serve(suite: SuiteSpec, cluster: Cluster, quiet: bool) -> tuple[float, str | None]:
    """Start Ray Serve when the suite deploys, before anything is written (a busy port is a user error)."""
    if suite.serve is None:
        return 0.0, None
    from raylife.serving import control as serve_control

    host, port = suite.serve.host, suite.serve.port
    local = host in serve_control.LOCAL_HOSTS
    seconds = serve_control.start_serve(host, port, check_port=cluster.started_locally and local, quiet=quiet)
    client_host = None
    if not cluster.started_locally and host in ("0.0.0.0", "::"):
        client_host = cluster.address.split("://", 1)[-1].rsplit(":", 1)[0]  # the head node, as --address names it
    return seconds, client_host


def _stop_serve() -> None:
    from raylife.serving import control as serve_control

    serve_control.shutdown_serve()


def _add_host_load(record: TrialRecord, stage: str, load: host_load.HostLoad) -> None:
    reason = {"reason": load.missing} if load.missing else {}
    record.add(stage, "host_load_1m", load.load_avg_1m, "load")
    record.add(stage, "host_busy_pct", load.busy_pct, "%", **reason)
    record.add(stage, "host_steal_pct", load.steal_pct, "%", **reason)
    record.add(stage, "host_other_pct", load.other_pct, "%", **reason)


def stage_groups(trial: Trial) -> list[tuple[ServingConfig | None, list[str]]]:
    """The trial's stages in order, the serving ones once per serving configuration (the update, which redeploys the
    retrained model, under the first only); one group of every stage when the trial has one deployment."""
    serving = [s for s in trial.stages if serving_stage(s)]
    if not trial.serve_configs or not serving:
        return [(None, list(trial.stages))]
    develop = [s for s in trial.stages if not serving_stage(s)]
    return [(None, develop), *((c, [s for s in serving if s != "update" or c.index == 0]) for c in trial.serve_configs)]


def _planned_groups(trial: Trial, proposer: ConfigProposer | None) -> Iterator[tuple[ServingConfig | None, list[str]]]:
    """``stage_groups``, the configurations in the order (and number) the proposer chooses them as they are measured."""
    groups = stage_groups(trial)
    if proposer is None:
        yield from groups
        return
    yield groups[0]
    serving = [s for s in trial.stages if serving_stage(s)]
    for config in proposer:
        yield config, [s for s in serving if s != "update" or config.index == 0]


def _on_gpu(trial: Trial) -> bool:
    return trial.serve_device == "gpu"


def _delete_app(ctx: Any) -> None:
    """A failed configuration's application goes before the next is deployed under the same name."""
    app = ctx.artifacts.app
    if app is not None:
        try:
            app.delete()
        except Exception:  # noqa: BLE001 - the configuration's own failure is what gets stored
            pass
        ctx.artifacts.app = None


def _take_over(record: TrialRecord, stored: Any) -> None:
    """A configuration an interrupted run of this trial measured: its measurements, requests and seconds, as stored."""
    record.measurements.extend(stored.measurements)
    record.latencies.extend(stored.latencies)
    record.timeline.extend(stored.timeline)


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
    earlier = earlier or {}
    from raylife.stages import STAGES, TrialContext

    neighbours = neighbours or Alone()

    record = TrialRecord(run_id=run_id, trial=trial)
    ctx = TrialContext(
        trial=trial,
        record=record,
        storage=storage.child(run_id, record.trial_id),
        on_progress=lambda text: observer.detail(trial, text),
    )
    if serve_client_host:
        ctx.artifacts.serve_client_host = serve_client_host
    observer.trial_started(trial)
    neighbours.trial_started(trial.index)
    stages_s = 0.0
    serving = False
    failed_configs: dict[str, str] = {}  # configuration key → why it failed
    proposer = ConfigProposer(trial) if trial.serve_configs else None
    try:
        for config, names in _planned_groups(trial, proposer):
            if config is not None and config.key in earlier:  # measured before the run was interrupted
                _take_over(record, earlier[config.key])
                failed_configs.update({config.key: m.labels.get("error") for m in earlier[config.key].measurements
                                       if m.metric == "serving_config_failed"})
                proposer.measured(config, config_figures(record, config, trial.prices, _on_gpu(trial)))
                observer.detail(trial, f"serving configuration {config.key}: measured before the interruption")
                continue
            if config is not None:  # one serving configuration: deployed, measured and deleted before the next
                ctx.trial = replace(trial, serve=config.spec, serve_format=config.format)
                record.context = config.labels()
                record.add("deploy", "serving_config", config.index, "count", **config.settings(),
                           order=len(proposer.scores) + 1, chosen_by=proposer.plan.algorithm)
                observer.detail(trial, f"serving configuration {config.index + 1}/{len(trial.serve_configs)}: {config.key}")
            stopped: str | None = None
            try:
                for name in names:
                    if stopped and name != "teardown":
                        continue
                    if serving_stage(name) and not serving:
                        observer.detail(trial, "waiting for the serving slot")
                        neighbours.enter_serving(trial.index)
                        serving = True
                    observer.stage_started(trial, name)
                    ctx.stage = name
                    started, started_unix, cpu_before = time.perf_counter(), time.time(), host_load.read()
                    try:
                        STAGES.get(name)().run(ctx)
                        if config is not None and name == "serve" and proposer.plan.limits:
                            # early stop: a configuration that already breaks a limit skips its open-loop sweep
                            stopped = proposer.plan.broken(config_figures(record, config, trial.prices, _on_gpu(trial)))
                            if stopped:
                                record.add(name, "serving_config_stopped", 1, "count", reason=stopped)
                    finally:  # a failed stage's time counts too: it is where the trial's time went
                        elapsed = time.perf_counter() - started
                        stages_s += elapsed
                        record.add(name, "stage_wall_s", elapsed, "s", started_unix=round(started_unix, 3))
                        current = record.context.get("config")  # this configuration's parts only
                        rest = unaccounted_s(name, elapsed, [(m.stage, m.metric, m.value, m.labels)
                                                             for m in record.measurements if m.labels.get("config") == current])
                        if rest is not None:
                            record.add(name, "unaccounted_s", rest, "s")
                        record.add(name, "trials_beside", neighbours.beside(trial.index, started_unix, time.time()), "count")
                        _add_host_load(record, name, host_load.between(cpu_before, host_load.read()))
            except Exception as exc:
                if config is None:
                    raise
                # one configuration that cannot be deployed or measured is stored with why; the others are measured
                error, _ = root_cause(exc)
                failed_configs[config.key] = error
                record.add(ctx.stage or "deploy", "serving_config_failed", 1, "count", error=error)
                observer.detail(trial, f"serving configuration {config.key} failed: {error}")
                _delete_app(ctx)
            finally:
                if config is not None:
                    proposer.measured(config, config_figures(record, config, trial.prices, _on_gpu(trial)))
                record.context = {}
                ctx.trial = trial
            if config is None:
                continue
            if checkpoint is not None:
                done = len(proposer.scores)
                record.status, record.error = "failed", (
                    f"interrupted after {done} of {proposer.plan.max_configs} serving configurations; "
                    "`raylife submit --resume` continues from there")
                checkpoint(record)
                record.status, record.error = "running", None
            observer.config_finished(trial, config.key, len(proposer.scores), proposer.plan.max_configs,
                                     failed_configs.get(config.key))
        if proposer is not None and proposer.scores and len(failed_configs) == len(proposer.scores):
            key, error = next(iter(failed_configs.items()))
            raise RuntimeError(f"every serving configuration failed; the first: {key}: {error}")
        record.status = "ok"
    except KeyboardInterrupt:
        record.status, record.error = "failed", "interrupted"
        raise
    except Exception as exc:  # noqa: BLE001 - a failing trial must not stop the others
        record.status = "failed"
        record.error, record.traceback = root_cause(exc)
    finally:
        ctx.close()  # deletes the trial's Serve application before the serving slot is given up
        if serving:
            neighbours.leave_serving(trial.index)
        neighbours.trial_finished(trial.index)
        record.finished_at = utcnow()
        # Everything of the trial that no stage accounts for: context set-up, cleanups, raylife's bookkeeping.
        record.add("trial", "overhead_s", (record.finished_at - record.started_at).total_seconds() - stages_s, "s")
    return record


def run_suite(
    suite: SuiteSpec,
    trials: list[Trial],
    *,
    suite_path: str,
    suite_text: str,
    db_path: str | Path,
    address: str | None = None,
    num_cpus: int | None = None,
    storage_path: str | None = None,
    verbose: bool = False,
    observer: RunObserver | None = None,
    resume: str | None = None,
    checked: Checked | None = None,
) -> RunOutcome:
    """Check everything that can be checked, then run; the database is written only once Ray is up.

    ``resume`` ("last" or a run id) continues a stored run of the same suite: trials stored as ok are kept,
    the others run (a failed one is replaced in the same transaction). ``checked`` is a ``preflight`` result
    the caller already has.
    """
    observer = observer or SilentObserver()
    checked = checked or preflight(suite, trials, db_path=db_path, address=address, num_cpus=num_cpus,
                                   storage_path=storage_path, resume=resume, source=suite_path)
    started = time.perf_counter()
    submitted_at = utcnow()
    point = checked.resume
    todo = checked.remaining(trials)
    python_path = sorted({p for t in trials for p in t.python_path})
    cluster = connect(checked.address, num_cpus=num_cpus, verbose=verbose, python_path=python_path)
    store: Store | None = None
    run_id = point.run_id if point else new_run_id(submitted_at)
    earlier_s = point.wall_s if point else 0.0
    records: list[TrialRecord] = []
    status = "failed"
    serve_started = False
    try:
        check_fits(todo, cluster.info, suite_path)
        if not checked.storage.remote:  # an object store is one place for every node by nature
            check_shared_storage(checked.storage.uri, cluster.info.nodes or (), suite_path)
        serve_start_s, client_host = _start_serve(suite, cluster, quiet=not verbose) if todo else (0.0, None)
        serve_started = serve_start_s > 0
        store = Store(db_path)
        if point:
            store.resume_run(run_id, trials=len(trials))
        else:
            store.begin_run(
                run_id=run_id, suite=suite.name, description=suite.description, suite_path=suite_path,
                spec_toml=suite_text, trials=len(trials), ray_address=cluster.address, cluster=cluster.info,
                ray_start_s=cluster.ray_start_s, raylife_version=raylife.__version__, git_commit=git_commit(),
                submitted_at=submitted_at, serve_start_s=serve_start_s,
            )
        observer.run_started(run_id, todo)

        def store_record(record: TrialRecord) -> None:
            records.append(record)
            store.write_trial(record, cluster.info, run_wall_s=earlier_s + time.perf_counter() - started,
                              replaces=point.replaces(record.trial) if point else None)
            observer.trial_finished(record)  # after the commit: what the user is told is finished is stored

        if suite.run.max_concurrent_trials > 1 and len(todo) > 1:
            from raylife.runner.side_by_side import run_side_by_side

            run_side_by_side(
                todo, run_id=run_id, storage=checked.storage, max_concurrent=suite.run.max_concurrent_trials,
                max_serving=suite.run.max_concurrent_serving, observer=observer, serve_client_host=client_host,
                store_record=store_record,
            )
        else:
            def checkpoint(record: TrialRecord) -> None:
                store.write_trial(record, cluster.info, run_wall_s=earlier_s + time.perf_counter() - started)

            for trial in todo:
                stored = point.replaces(trial) if point else None
                earlier = store.stored_configs(stored) if stored and trial.serve_configs else {}
                store_record(run_trial(trial, run_id, checked.storage, observer, client_host, checkpoint=checkpoint,
                                       earlier=earlier))
        status = "failed" if any(r.status != "ok" for r in records) else "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall_s = earlier_s + time.perf_counter() - started
        if store is not None:
            store.finish_run(run_id, status, wall_s, sum(r.status != "ok" for r in records))
            store.close()
        if serve_started and not cluster.started_locally:
            _stop_serve()  # on an existing cluster, leave Serve as we found it; the embedded Ray goes away whole
        disconnect()
    return RunOutcome(run_id=run_id, records=records, wall_s=wall_s, cluster=cluster)
