"""Everything about a submission that can be checked before Ray starts, checked once.

Bad input must end in one ``Error:`` line with nothing written and no cluster started: the storage path, the
results file (a raylife file of a schema this raylife writes, never modified here), the cluster address
(format, ``auto``, reachable), and for the embedded Ray what it will have — CPUs, GPUs, the Serve port — and,
with ``--resume``, the run to continue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raylife.errors import StoreError
from raylife.plan import Trial
from raylife.plan.trials import check_storage
from raylife.runner.cluster import check_fits, check_reachable, embedded_resources
from raylife.artifacts import Location, check_writable
from raylife.store import Store, check_results_file
from raylife.suite import SuiteSpec
from raylife.suite.load import parse_suite


@dataclass(frozen=True)
class ResumePoint:
    """A stored run to continue: its id, the trials it already holds (run key → trial_id, status), its wall time."""

    run_id: str
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    wall_s: float = 0.0

    def done(self, trial: Trial) -> bool:
        return self.stored.get(trial.run_key, {}).get("status") == "ok"

    def replaces(self, trial: Trial) -> str | None:
        found = self.stored.get(trial.run_key)
        return found["trial_id"] if found else None


@dataclass(frozen=True)
class Checked:
    """What preflight established; ``run_suite`` takes it so nothing is checked twice."""

    storage: Location
    address: str | None
    resume: ResumePoint | None = None

    def remaining(self, trials: list[Trial]) -> list[Trial]:
        return [t for t in trials if self.resume is None or not self.resume.done(t)]


def preflight(
    suite: SuiteSpec,
    trials: list[Trial],
    *,
    db_path: str | Path,
    address: str | None = None,
    num_cpus: int | None = None,
    storage_path: str | None = None,
    resume: str | None = None,
    source: str = "<suite>",
) -> Checked:
    storage = storage_path or suite.run.storage_path
    where = "--storage-path" if storage_path else f"{source}, run.storage_path"
    check_storage(storage, where)
    check_results_file(db_path)
    check_writable(Location.parse(storage), where)
    if address == "local":
        address = None  # Ray's own word for "start one here"
    if address:
        check_reachable(address)  # the cluster's resources are checked once connected
    else:
        need_gpus = any(t.device == "gpu" or (t.serve is not None and t.serve_device == "gpu") for t in trials)
        check_fits(trials, embedded_resources(num_cpus, need_gpus), source)
        _check_serve_port(suite)
    point = _resume_point(suite, trials, Path(db_path), resume) if resume else None
    return Checked(storage=Location.parse(storage), address=address, resume=point)


def _check_serve_port(suite: SuiteSpec) -> None:
    if suite.serve is None:
        return
    from raylife.serving.control import LOCAL_HOSTS, check_port_free

    if suite.serve.host in LOCAL_HOSTS:
        check_port_free(suite.serve.host, suite.serve.port)


def _resume_point(suite: SuiteSpec, trials: list[Trial], db_path: Path, ref: str) -> ResumePoint:
    if not db_path.exists():
        raise StoreError("nothing to resume: no results file yet", where=str(db_path), hint="run without --resume")
    with Store(db_path, read_only=True) as store:
        if ref == "last":
            found = store.latest_run_of(suite.name)
            if found is None:
                raise StoreError(f"no run of suite '{suite.name}' to resume", where=str(db_path),
                                 hint="run without --resume, or name the run: --resume RUN_ID")
            run_id = found
        else:
            run_id = store.resolve_run(ref)
        run = store.run(run_id)
        stored = store.stored_trials(run_id)
    if run["suite"] != suite.name:
        raise StoreError(f"run {run_id} is of suite '{run['suite']}', not '{suite.name}'", where=str(db_path),
                         hint="resume it with its own suite file, or name another run")
    try:
        same = parse_suite(run["spec_toml"] or "").model_dump() == suite.model_dump()
    except Exception:  # noqa: BLE001 - a stored suite this raylife no longer reads is simply not the same
        same = False
    if not same:
        raise StoreError(f"the suite changed since run {run_id} was submitted; a resumed run must run the same suite",
                         where=str(db_path), hint="submit it as a new run (without --resume), or restore the suite file")
    point = ResumePoint(run_id=run_id, stored=stored, wall_s=float(run["wall_s"] or 0.0))
    if run["status"] == "ok" and not [t for t in trials if not point.done(t)]:
        raise StoreError(f"run {run_id} finished with every trial stored: nothing to resume", where=str(db_path),
                         hint="submit it again without --resume for a new run")
    return point


__all__ = ["Checked", "ResumePoint", "preflight"]
