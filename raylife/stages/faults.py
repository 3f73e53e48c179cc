"""Failures injected on purpose during a stage, and what they cost: a serving replica killed under open-loop load."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from raylife.clients.loadgen import Samples
from raylife.serving.control import ServeApp

REPLICA_PREFIX = "SERVE_REPLICA::"


class ReplicaKiller:
    """Kills one replica of ``app`` ``after_s`` from ``start()`` and times until a replica that was not there
    before answers. Instants are perf_counter seconds, the clock of the open-loop client's samples."""

    def __init__(self, app: ServeApp, replicas: int, after_s: float, timeout_s: float) -> None:
        self.app, self.replicas, self.after_s, self.timeout_s = app, replicas, after_s, timeout_s
        self.killed_at: float | None = None
        self.recovered_at: float | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="raylife-replica-killer", daemon=True)

    def start(self) -> ReplicaKiller:
        self.before = set(self.app.replica_stats(self.replicas, timeout_s=self.timeout_s))
        self._thread.start()
        return self

    def join(self) -> None:
        """Until the replacement answered, or the kill failed, or ``timeout_s`` passed after it."""
        self._thread.join(self.after_s + self.timeout_s + 5)

    def _run(self) -> None:
        import ray

        try:
            time.sleep(self.after_s)
            names = sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                           if a["name"].startswith(f"{REPLICA_PREFIX}{self.app.name}#"))
            if not names:
                self.error = "no replica to kill"
                return
            victim = ray.get_actor(names[0], namespace="serve")
            self.killed_at = time.perf_counter()
            ray.kill(victim, no_restart=False)
            deadline = self.killed_at + self.timeout_s
            handle = self.app.handle()
            while time.perf_counter() < deadline:
                try:
                    stats = handle.stats.remote().result(timeout_s=max(0.1, deadline - time.perf_counter()))
                except Exception:  # noqa: BLE001 - the dead replica's calls fail until Serve replaces it
                    time.sleep(0.05)
                    continue
                if stats.replica not in self.before:
                    self.recovered_at = time.perf_counter()
                    return
                time.sleep(0.05)
            self.error = f"no new replica answered within {self.timeout_s:.0f} s"
        except Exception as exc:  # noqa: BLE001 - reported as the fault's outcome, not a crash of the stage
            self.error = f"{type(exc).__name__}: {exc}"

    def recovery(self, loads: list[Samples]) -> dict[str, Any]:
        """recovery_s, and the failed requests and p99 of requests sent between the kill and the new replica."""
        if self.killed_at is None or self.recovered_at is None:
            return {"replica_recovery_s": None, "recovery_failed_requests": None, "recovery_p99_ms": None}
        latencies, failed = [], 0
        for samples in loads:
            for sent, latency, outcome in zip(samples.sent_s, samples.latency_ms, samples.outcomes):
                if self.killed_at <= samples.t0 + sent <= self.recovered_at:
                    failed += not outcome.ok
                    if outcome.ok:
                        latencies.append(latency)
        return {
            "replica_recovery_s": self.recovered_at - self.killed_at,
            "recovery_failed_requests": failed,
            "recovery_p99_ms": float(np.percentile(latencies, 99)) if latencies else None,
        }
