"""Trials of one run that may run side by side: who else was running during a stage, and the gate that keeps
latency-measuring stages apart.

``Alone`` is the sequential runner's (nothing runs beside a trial). ``Coordinator`` is a Ray actor the side-by-side
runner starts: every trial reports to it from its Tune trial process, and the driver collects finished records
and progress from it. Instants are wall-clock (``time.time``): they cross processes and nodes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol


class Neighbours(Protocol):
    def trial_started(self, index: int) -> None: ...
    def trial_finished(self, index: int) -> None: ...
    def beside(self, index: int, start: float, end: float) -> int: ...
    def enter_serving(self, index: int) -> None: ...
    def leave_serving(self, index: int) -> None: ...


class Alone:
    """One trial at a time: nothing beside it, no gate to wait at."""

    def trial_started(self, index: int) -> None: ...
    def trial_finished(self, index: int) -> None: ...
    def beside(self, index: int, start: float, end: float) -> int:
        return 0
    def enter_serving(self, index: int) -> None: ...
    def leave_serving(self, index: int) -> None: ...


@dataclass(frozen=True)
class Event:
    """Progress of a trial running elsewhere, for the driver's display."""

    index: int
    kind: str  # trial_started | stage_started | detail
    text: str = ""
    at: float = 0.0  # when it happened (the actor runs calls on several threads, so arrival order may differ)


class Coordinator:
    """Runs as a threaded Ray actor (max_concurrency > trials): ``enter_serving`` blocks its caller's thread."""

    def __init__(self, serving_slots: int) -> None:
        self.intervals: dict[int, list[float | None]] = {}
        self.serving = threading.BoundedSemaphore(serving_slots)
        self.records: dict[int, Any] = {}
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def trial_started(self, index: int) -> None:
        with self.lock:
            self.intervals[index] = [time.time(), None]

    def trial_finished(self, index: int) -> None:
        with self.lock:
            if index in self.intervals:
                self.intervals[index][1] = time.time()

    def beside(self, index: int, start: float, end: float) -> int:
        """Other trials active at any moment of [start, end]."""
        with self.lock:
            return sum(1 for other, (s, e) in self.intervals.items()
                       if other != index and s is not None and s <= end and (e is None or e >= start))

    def enter_serving(self, index: int) -> None:
        self.serving.acquire()

    def leave_serving(self, index: int) -> None:
        self.serving.release()

    def event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def drain(self) -> list[Event]:
        with self.lock:
            out, self.events = self.events, []
        return sorted(out, key=lambda e: e.at)

    def put_record(self, index: int, record: Any) -> None:
        with self.lock:
            self.records[index] = record

    def take_record(self, index: int) -> Any:
        with self.lock:
            return self.records.pop(index, None)


@dataclass(frozen=True)
class RemoteNeighbours:
    """A trial's view of the coordinator actor (in its Tune trial process)."""

    actor: Any

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self.actor, method).remote(*args))

    def trial_started(self, index: int) -> None:
        self._call("trial_started", index)

    def trial_finished(self, index: int) -> None:
        self._call("trial_finished", index)

    def beside(self, index: int, start: float, end: float) -> int:
        return self._call("beside", index, start, end)

    def enter_serving(self, index: int) -> None:
        self._call("enter_serving", index)

    def leave_serving(self, index: int) -> None:
        self._call("leave_serving", index)
