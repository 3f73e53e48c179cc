"""Watching a deployment's replicas while a changing load runs: Serve's replica counts, polled, and every replica's
own clocks (read through its ``stats`` method while it is alive: a replica removed by a scale-down is gone after).

Two background threads, so that a slow ``stats`` answer (its replica busy with the load) never delays the count's
polls.
"""

from __future__ import annotations

import threading
import time

from raylife.serving.control import ReplicaCount, ServeApp
from raylife.serving.messages import ReplicaStats

COUNT_EVERY_S = 0.25  # the controller's own loop runs every 0.1 s; the counts are read at this grain
STATS_EVERY_S = 1.0


class ReplicaWatch:
    def __init__(self, app: ServeApp, count_every_s: float = COUNT_EVERY_S, stats_every_s: float = STATS_EVERY_S) -> None:
        self.app = app
        self.count_every_s, self.stats_every_s = count_every_s, stats_every_s
        self.counts: list[ReplicaCount] = []
        self.stats: dict[str, ReplicaStats] = {}  # the latest read of every replica seen, by replica id
        self.errors: list[str] = []
        self._read_at = -1  # the running count at the last complete read
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll_counts, name="raylife-replica-counts", daemon=True),
                         threading.Thread(target=self._read_stats, name="raylife-replica-stats", daemon=True)]

    def start(self) -> ReplicaWatch:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> ReplicaWatch:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._read_once()  # the replicas still running have answered by now: their first answers are in
        return self

    def _poll_counts(self) -> None:
        while not self._stop.is_set():
            try:
                count = self.app.replica_count()
                if count is not None:
                    self.counts.append(count)
            except Exception as exc:  # noqa: BLE001 - a missed poll is a gap in the series, not a failed run
                self.errors.append(f"count: {type(exc).__name__}: {exc}"[:200])
            self._stop.wait(self.count_every_s)

    def _read_stats(self) -> None:
        while not self._stop.wait(self.stats_every_s):
            self._read_once()

    def _read_once(self) -> None:
        counts = self.counts
        running = counts[-1].running if counts else 0
        unanswered = any(s.first_answer_unix is None for s in self.stats.values())
        if running == 0 or (running == self._read_at and not unanswered):
            return  # nothing new to read: a replica seen once keeps its clocks, only its first answer can change
        try:
            found = self.app.replica_stats(running, timeout_s=max(2.0, self.stats_every_s * 2))
        except Exception as exc:  # noqa: BLE001 - e.g. a replica stopping while asked; the next read tries again
            self.errors.append(f"stats: {type(exc).__name__}: {exc}"[:200])
            return
        self.stats.update(found)
        self._read_at = running

    def wait_for(self, running: int, timeout_s: float, steady_s: float = 2.0) -> bool:
        """Wait until Serve has reported ``running`` replicas running, none starting or stopping, for ``steady_s``
        (an autoscaler still acting on older load moves again within its window); False on timeout."""
        deadline = time.monotonic() + timeout_s
        since: float | None = None
        while time.monotonic() < deadline:
            count = self.app.replica_count()
            if count is not None and count.running == running and count.starting == 0 and count.stopping == 0:
                since = since if since is not None else time.monotonic()
                if time.monotonic() - since >= steady_s:
                    return True
            else:
                since = None
            time.sleep(self.count_every_s)
        return False
