"""Run a planned suite: connect to Ray, run each trial's stages in order, store each finished trial."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import raylife
from raylife.errors import PlanError
from raylife.measure.environment import git_commit
from raylife.plan import Trial
from raylife.records import TrialRecord, utcnow
from raylife.runner.cluster import Cluster, check_fits, connect, disconnect
from raylife.runner.observer import RunObserver, SilentObserver
from raylife.store import Store, check_writable, new_run_id
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


def root_cause(exc: BaseException) -> tuple[str, str]:
    """A one-line error and the full traceback, looking through Ray's wrappers to the user's exception."""
    inner: BaseException = exc
    seen = set()
    while id(inner) not in seen:
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


def resolve_storage(suite: SuiteSpec, override: str | None) -> Path:
    path = override or suite.run.storage_path
    if "://" in path:
        raise PlanError(
            f"storage_path '{path}' is a URI; raylife needs a filesystem path (on a multi-node cluster, a shared mount)",
            where="run.storage_path / --storage-path",
            hint="mount the bucket (e.g. with a CSI driver or s3fs) and give the mount path",
        )
    return Path(path).expanduser().resolve()


def run_trial(trial: Trial, run_id: str, storage: Path, observer: RunObserver) -> TrialRecord:
    """All stages of one trial; an exception fails this trial only, with its error and traceback kept."""
    from raylife.stages import STAGES, TrialContext

    record = TrialRecord(run_id=run_id, trial=trial)
    ctx = TrialContext(
        trial=trial,
        record=record,
        storage_dir=storage / run_id / record.trial_id,
        on_progress=lambda text: observer.detail(trial, text),
    )
    observer.trial_started(trial)
    try:
        for name in trial.stages:
            observer.stage_started(trial, name)
            STAGES.get(name)().run(ctx)
        record.status = "ok"
    except KeyboardInterrupt:
        record.status, record.error = "failed", "interrupted"
        raise
    except Exception as exc:  # noqa: BLE001 - a failing trial must not stop the others
        record.status = "failed"
        record.error, record.traceback = root_cause(exc)
    finally:
        ctx.close()
        record.finished_at = utcnow()
    observer.trial_finished(record)
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
) -> RunOutcome:
    """Validate everything that can be checked, then run; the database is written only once Ray is up."""
    observer = observer or SilentObserver()
    storage = resolve_storage(suite, storage_path)
    check_writable(db_path)
    started = time.perf_counter()
    submitted_at = utcnow()
    cluster = connect(address, num_cpus=num_cpus, verbose=verbose)
    store: Store | None = None
    run_id = new_run_id(submitted_at)
    records: list[TrialRecord] = []
    status = "failed"
    try:
        check_fits(trials, cluster, suite_path)
        store = Store(db_path)
        store.begin_run(
            run_id=run_id, suite=suite.name, description=suite.description, suite_path=suite_path,
            spec_toml=suite_text, trials=len(trials), ray_address=cluster.address, cluster=cluster.info,
            ray_start_s=cluster.ray_start_s, raylife_version=raylife.__version__, git_commit=git_commit(),
            submitted_at=submitted_at,
        )
        observer.run_started(run_id, trials)
        for trial in trials:
            record = run_trial(trial, run_id, storage, observer)
            records.append(record)
            store.write_trial(record, cluster.info)
        status = "failed" if any(r.status != "ok" for r in records) else "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall_s = time.perf_counter() - started
        if store is not None:
            store.finish_run(run_id, status, wall_s, sum(r.status != "ok" for r in records))
            store.close()
        disconnect()
    return RunOutcome(run_id=run_id, records=records, wall_s=wall_s, cluster=cluster)


