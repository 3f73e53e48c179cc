"""A run stopped by SIGKILL or Ctrl-C is continued with `submit --resume`: nothing lost, nothing doubled.

The driver is the real CLI in a subprocess, submitting to the session's cluster (as a user's driver on a real cluster
is killed or interrupted). Real Ray Train, a real DuckDB file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import RAYLIFE, REPO
from tests.ray.helpers import rows

pytestmark = [pytest.mark.ray, pytest.mark.timeout(900)]

SUITE = """name = "resumable"
workload = "tabular"
[[models]]
name = "mlp"
frameworks = ["torch"]
options = { width = 16, depth = 1 }
[train]
epochs = 1
learning_rate = [0.001, 0.002]
retrain_epochs = 0
"""
FIRST, SECOND = "mlp[depth=1,width=16]/torch/w1/lr0.001", "mlp[depth=1,width=16]/torch/w1/lr0.002"


def start(suite: Path, db: Path, storage: Path, address: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*RAYLIFE, "submit", str(suite), *extra, "--db", str(db), "--storage-path", str(storage), "--address", address],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        # Ctrl-C as a terminal delivers it: a shell starts background jobs with SIGINT ignored, and a Python
        # started that way (pytest run with `&`, and every child it starts) never turns SIGINT into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def read_until(process: subprocess.Popen, marker: str, timeout: float = 300) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            return seen
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"the run ended before {marker!r}:\n" + "".join(seen))


def reap(process: subprocess.Popen) -> None:
    """The driver's Ray processes share its session: end whatever the kill left (as a container's end would)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def test_kill_then_interrupt_then_resume(tmp_path, cluster):
    suite, db, storage = tmp_path / "resumable.toml", tmp_path / "r.duckdb", tmp_path / "artifacts"
    suite.write_text(SUITE)
    address = cluster.address

    # 1. SIGKILL the driver as soon as the first trial is stored.
    first = start(suite, db, storage, address)
    read_until(first, f"✓ {FIRST}")
    os.kill(first.pid, signal.SIGKILL)
    reap(first)
    [run] = rows(db, "select run_id, status, wall_s, trials from runs")
    assert run["status"] == "running" and run["trials"] == 2 and run["wall_s"] > 0
    assert [r["status"] for r in rows(db, "select status from trials")] == ["ok"]

    # 2. Resume, then Ctrl-C while the second trial trains: the run is 'interrupted', still one trial stored.
    second = start(suite, db, storage, address, "--resume")
    lines = read_until(second, f"run {run['run_id']}: 1 trial")
    assert f"resuming run {run['run_id']} of suite resumable: 1 of 2 trials stored, 1 to run" in " ".join("".join(lines).split())
    fit_started = storage / run["run_id"] / f"{run['run_id']}-001" / "train"  # Ray Train's folder for the fit
    deadline = time.monotonic() + 120
    while not fit_started.exists():
        assert time.monotonic() < deadline and second.poll() is None, "the second trial never started training"
        time.sleep(0.2)
    os.kill(second.pid, signal.SIGINT)
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 130, output
    assert "continue it with: raylife submit" in output and "Traceback" not in output
    reap(second)
    [after] = rows(db, "select status, wall_s, resumes from runs")
    assert after["status"] == "interrupted" and after["resumes"] == 1 and after["wall_s"] > run["wall_s"]
    assert len(rows(db, "select * from trials")) == 1

    # 3. Resume again: the second trial runs, nothing is doubled, and the run is whole.
    third = start(suite, db, storage, address, "--resume", run["run_id"][:15])
    output = third.communicate(timeout=300)[0]
    assert third.returncode == 0, output
    reap(third)
    trials = rows(db, "select trial_id, name, status, idx from trials order by idx")
    assert [t["name"] for t in trials] == [FIRST, SECOND]
    assert [t["status"] for t in trials] == ["ok", "ok"] and len({t["trial_id"] for t in trials}) == 2
    [final] = rows(db, "select status, trials, failed_trials, resumes, wall_s from runs")
    assert final["status"] == "ok" and final["trials"] == 2 and final["failed_trials"] == 0 and final["resumes"] == 2
    assert final["wall_s"] > after["wall_s"]
    per_trial = rows(db, "select trial_id, count(*) as n from measurements group by trial_id")
    assert len(per_trial) == 2 and per_trial[0]["n"] == per_trial[1]["n"]

    # 4. A finished run has nothing left to resume.
    done = subprocess.run([*RAYLIFE, "submit", str(suite), "--resume", "--db", str(db), "--address", address], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.startswith(f"Error: run {run['run_id']} finished with every trial stored")
