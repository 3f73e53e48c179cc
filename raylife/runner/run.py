"""Run a planned suite: connect to Ray, run each trial's stages in order (``runner.trial_run``), store each finished
trial as it finishes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import raylife
from raylife.measure.environment import git_commit
from raylife.plan import Trial
from raylife.records import TrialRecord, utcnow
from raylife.runner.cluster import Cluster, check_fits, check_shared_storage, connect, disconnect
from raylife.runner.observer import RunObserver, SilentObserver
from raylife.runner.preflight import Checked, preflight
from raylife.runner.trial_run import root_cause, run_trial, stage_groups
from raylife.store import Store, new_run_id
from raylife.suite import SuiteSpec

__all__ = ["RunOutcome", "root_cause", "run_suite", "run_trial", "stage_groups"]


@dataclass
class RunOutcome:
    run_id: str
    records: list[TrialRecord]
    wall_s: float
    cluster: Cluster

    @property
    def failed(self) -> list[TrialRecord]:
        return [r for r in self.records if r.status != "ok"]


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


@dataclass
class SuiteRun:
    """One submission on a connected cluster: its run id, its results file once opened, and the records stored."""

    suite: SuiteSpec
    checked: Checked
    cluster: Cluster
    observer: RunObserver
    run_id: str
    started: float  # perf_counter at the submission's start
    earlier_s: float  # the wall time of the sessions a resumed run had before this one
    store: Store | None = None
    records: list[TrialRecord] = field(default_factory=list)
    serve_started: bool = False
    observer_quiet: bool = True  # Serve's start-up logs only with -v

    def wall_s(self) -> float:
        return self.earlier_s + time.perf_counter() - self.started

    def open(self, trials: list[Trial], todo: list[Trial], suite_path: str, suite_text: str, db_path: str | Path,
             submitted_at) -> str | None:  # noqa: ANN001 - a datetime
        """Check the trials against the cluster, start Serve, then (only then) write the run's row; Serve's client
        host on a remote cluster."""
        check_fits(todo, self.cluster.info, suite_path)
        if not self.checked.storage.remote:  # an object store is one place for every node by nature
            check_shared_storage(self.checked.storage.uri, self.cluster.info.nodes or (), suite_path)
        serve_start_s, client_host = _start_serve(self.suite, self.cluster, quiet=self.observer_quiet) if todo else (0.0, None)
        self.serve_started = serve_start_s > 0
        self.store = Store(db_path)
        if self.checked.resume:
            self.store.resume_run(self.run_id, trials=len(trials))
        else:
            suite, cluster = self.suite, self.cluster
            self.store.begin_run(
                run_id=self.run_id, suite=suite.name, description=suite.description, suite_path=suite_path,
                spec_toml=suite_text, trials=len(trials), ray_address=cluster.address, cluster=cluster.info,
                ray_start_s=cluster.ray_start_s, raylife_version=raylife.__version__, git_commit=git_commit(),
                submitted_at=submitted_at, serve_start_s=serve_start_s,
            )
        self.observer.run_started(self.run_id, todo)
        return client_host

    def store_record(self, record: TrialRecord) -> None:
        self.records.append(record)
        point = self.checked.resume
        self.store.write_trial(record, self.cluster.info, run_wall_s=self.wall_s(),
                               replaces=point.replaces(record.trial) if point else None)
        self.observer.trial_finished(record)  # after the commit: what the user is told is finished is stored

    def checkpoint(self, record: TrialRecord) -> None:
        self.store.write_trial(record, self.cluster.info, run_wall_s=self.wall_s())

    def run_trials(self, todo: list[Trial], client_host: str | None) -> None:
        """Side by side through Ray Tune when the suite allows it, else one after another here."""
        run = self.suite.run
        if run.max_concurrent_trials > 1 and len(todo) > 1:
            from raylife.runner.side_by_side import run_side_by_side

            run_side_by_side(todo, run_id=self.run_id, storage=self.checked.storage, max_concurrent=run.max_concurrent_trials,
                             max_serving=run.max_concurrent_serving, observer=self.observer,
                             serve_client_host=client_host, store_record=self.store_record)
            return
        point = self.checked.resume
        for trial in todo:
            stored = point.replaces(trial) if point else None
            earlier = self.store.stored_configs(stored) if stored and trial.serve_configs else {}
            self.store_record(run_trial(trial, self.run_id, self.checked.storage, self.observer, client_host,
                                        checkpoint=self.checkpoint, earlier=earlier))

    def close(self, status: str) -> float:
        """Finish the run's row, leave Serve as found on an existing cluster, disconnect; the run's wall time."""
        wall_s = self.wall_s()
        if self.store is not None:
            self.store.finish_run(self.run_id, status, wall_s, sum(r.status != "ok" for r in self.records))
            self.store.close()
        if self.serve_started and not self.cluster.started_locally:
            _stop_serve()  # on an existing cluster, leave Serve as we found it; the embedded Ray goes away whole
        disconnect()
        return wall_s


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
    started, submitted_at = time.perf_counter(), utcnow()
    point, todo = checked.resume, checked.remaining(trials)
    python_path = sorted({p for t in trials for p in t.python_path})
    cluster = connect(checked.address, num_cpus=num_cpus, verbose=verbose, python_path=python_path)
    run = SuiteRun(suite=suite, checked=checked, cluster=cluster, observer=observer,
                   run_id=point.run_id if point else new_run_id(submitted_at), started=started,
                   earlier_s=point.wall_s if point else 0.0, observer_quiet=not verbose)
    status = "failed"
    try:
        client_host = run.open(trials, todo, suite_path, suite_text, db_path, submitted_at)
        run.run_trials(todo, client_host)
        status = "failed" if any(r.status != "ok" for r in run.records) else "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        wall_s = run.close(status)
    return RunOutcome(run_id=run.run_id, records=run.records, wall_s=wall_s, cluster=cluster)
