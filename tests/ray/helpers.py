"""Running the real CLI as a user would — ``submit`` in a subprocess (it starts or joins Ray), read-only commands
in this process through Typer's runner — and reading the database a run wrote."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from tests.conftest import RAYLIFE, REPO


@dataclass(frozen=True)
class Run:
    """A finished ``raylife submit``: what it printed and exited with, and where it stored."""

    result: subprocess.CompletedProcess
    db: Path
    storage: Path | str

    def run_id(self, suite: str | None = None) -> str:
        found = rows(self.db, "SELECT run_id FROM runs" + (" WHERE suite = ?" if suite else "") +
                     " ORDER BY submitted_at DESC LIMIT 1", [suite] if suite else [])
        return found[0]["run_id"]


def submit(suite: Path, db: Path, storage: Path | str, *extra: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    # The bound catches a hung run, not a slow one: the smoke run, 2 minutes alone, passed 600 s once on a loaded CI
    # machine beside the session's other work.
    return subprocess.run(
        [*RAYLIFE, "submit", str(suite), "--db", str(db), "--storage-path", str(storage), *extra],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def one_small_cnn(name: str) -> str:
    """The head of a suite that trains one small PyTorch CNN once (one epoch, no retraining), for the tests of what
    comes after training; they append their own [serve] and [load] tables."""
    return f"""
name = "{name}"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = {{ width = 8 }}
[train]
epochs = 1
retrain_epochs = 0
"""


def raylife(*args: Any):
    """A read-only command (show, compare, choose, report, metrics, query) in this process: no interpreter start."""
    from raylife.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, r)) for r in cursor.fetchall()]
    finally:
        con.close()


def metric(db: Path, trial_name: str, stage: str, name: str) -> list[dict[str, Any]]:
    return rows(db, "SELECT value, unit, labels FROM metrics WHERE trial = ? AND stage = ? AND metric = ?",
                [trial_name, stage, name])


class NodeProcesses:
    """Ray nodes started with ``ray start --block``, each in its own process group (and, with ``prefix``, under a
    command such as ``unshare -m``): a cluster this test process never connects to, so stopping it cannot touch the
    session's connection (``ray.cluster_utils.Cluster.shutdown`` resets this process's Ray state)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        import socket
        import sys

        # Without token auth by default, like the session's cluster: `ray start` turns it on where ~/.ray/auth_token
        # exists, and a driver given an explicit address does not (Ray 2.60).
        self.env = {"RAY_AUTH_MODE": "disabled", **(env or {})}
        self.ray = str(Path(sys.executable).parent / "ray")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.groups: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, args: str, wrap: str = "{}") -> subprocess.Popen:
        """``wrap`` puts the node's command inside another (``unshare -m sh -c '... && exec {}'``)."""
        import os

        # no log monitor (drivers here do not take workers' logs), no autoscaler monitor: a test cluster's idle CPU
        command = "exec " + wrap.format(f"{self.ray} start --block --disable-usage-stats --include-log-monitor=false "
                                        f"{args}")
        env = {**os.environ, **self.env}
        node = subprocess.Popen(["sh", "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        self.groups.append(node)
        return node

    @staticmethod
    def _offers(resources: dict[str, float] | None, labels: dict[str, str] | None) -> str:
        import json
        import shlex

        out = f" --resources={shlex.quote(json.dumps(resources))}" if resources else ""
        return out + (f" --labels={shlex.quote(','.join(f'{k}={v}' for k, v in labels.items()))}" if labels else "")

    def head(self, num_cpus: int, wait: bool = True, resources: dict[str, float] | None = None,
             extra: str = "") -> NodeProcesses:
        """The head node; ``wait=False`` returns once its port answers, without connecting a driver to it; ``extra``:
        more ``ray start`` options."""
        import socket
        import time

        from ray._private.services import get_node_ip_address

        self._start(f"--head --port={self.port} --num-cpus={num_cpus} --include-dashboard=false --no-monitor"
                    + self._offers(resources, None) + (f" {extra}" if extra else ""))
        self.address = f"{get_node_ip_address()}:{self.port}"
        if wait:
            self.wait_for(1)
            return self
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "the head node did not start"
                time.sleep(0.3)

    def join(self, address: str, nodes: int) -> NodeProcesses:
        """Add nodes to a cluster this object did not start (``nodes``: how many it has now)."""
        self.address, self._joined = address, nodes
        return self

    def add(self, num_cpus: int, wrap: str = "{}", resources: dict[str, float] | None = None,
            labels: dict[str, str] | None = None) -> subprocess.Popen:
        node = self._start(f"--address={self.address} --num-cpus={num_cpus}" + self._offers(resources, labels), wrap)
        self.wait_for(getattr(self, "_joined", 0) + len(self.groups))
        return node

    def wait_for(self, nodes: int, timeout_s: float = 90) -> None:
        """Until the cluster has ``nodes`` live nodes, asked from another process."""
        import sys

        code = ("import ray, time, sys\n"
                f"deadline = time.monotonic() + {timeout_s}\n"
                "while True:\n"
                "    try:\n"
                f"        ray.init(address='{self.address}', logging_level='ERROR')\n"
                "        break\n"
                "    except Exception:\n"
                "        if time.monotonic() > deadline: raise\n"
                "        time.sleep(0.3)\n"
                f"while sum(n['Alive'] for n in ray.nodes()) < {nodes} and time.monotonic() < deadline:\n"
                "    time.sleep(0.3)\n"
                "print(sum(n['Alive'] for n in ray.nodes()))")
        import os

        joined = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s + 30,
                                env={**os.environ, **self.env})
        assert joined.stdout.strip() == str(nodes), f"{nodes} nodes did not come up: {joined.stdout}{joined.stderr[-2000:]}"

    def kill(self, node: subprocess.Popen) -> None:
        import os
        import signal

        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait(timeout=60)

    def stop(self) -> None:
        """Every node at once (`ray start --block` takes 30 s to act on SIGTERM; a test cluster needs no grace)."""
        for node in reversed(self.groups):
            self.kill(node)
