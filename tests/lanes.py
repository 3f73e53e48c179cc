"""Lanes: whole ``raylife submit`` runs that start in the background as soon as the test session may start Ray, and
that the tests reading them wait for.

A Ray run spends much of its time waiting (process starts, Serve's control loop, fixed-rate clients) with the CPU
half idle; the unit tests and the in-process Ray tests use it meanwhile. Each lane brings everything it runs on (the
embedded Ray of README's command, or a two-node cluster of its own), so lanes never share a Ray or a Serve with each
other or with the tests in the foreground. At most ``AT_ONCE`` lanes run at a time (two), the longest first: on a
2-core machine three Rays beside the tests' own slowed each other far more than the machine alone would (a fresh
clone's run took 23 minutes), and one at a time left the cores idle at the end (the lanes' 840 s in a row were the
whole run's critical path). A lane starts only when a selected test needs it (``pytest -k``), and not before the CLI
tests have run: those check what raylife says when no Ray runs on the machine.

A lane is a function of a scratch folder, registered with ``@lane("name")``; its fixture is ``lane_result("name")``.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Work = Callable[[Path], Any]
LANES: dict[str, Lane] = {}


class Lane:
    def __init__(self, name: str, work: Work) -> None:
        self.name, self.work = name, work
        self._queued = False
        self._done = threading.Event()
        self._value: Any = None
        self._error: str | None = None
        self.started_at = self.finished_at = None
        self.parts: dict[str, float] = {}  # seconds of the lane's parts (its runs), for the session's summary

    def start(self, scratch: Path) -> None:
        """Queue the lane for the background runners (it runs after the lanes queued before it)."""
        if self._queued:
            return
        self._queued = True
        _QUEUE.put((self, scratch))
        with _RUNNER_LOCK:
            while len(_RUNNERS) < AT_ONCE:
                runner = threading.Thread(target=_run_queue, name=f"lanes-{len(_RUNNERS)}", daemon=True)
                _RUNNERS.append(runner)
                runner.start()

    def run(self, scratch: Path) -> None:
        self.started_at = time.monotonic()
        try:
            self._value = self.work(scratch)
        except BaseException:  # noqa: BLE001 - handed to the tests that read the lane
            self._error = traceback.format_exc()
        finally:
            self.finished_at = time.monotonic()
            self._done.set()

    @property
    def started(self) -> bool:
        return self._queued

    def result(self, timeout_s: float = 3600) -> Any:
        # the bound stops a hang, not a slow machine: the lanes queued before this one run first
        assert self._queued, f"lane {self.name} was never started"
        assert self._done.wait(timeout_s), f"lane {self.name} not finished after {timeout_s:.0f} s"
        if self._error is not None:
            raise AssertionError(f"lane {self.name} failed:\n{self._error}")
        return self._value

    def wait(self) -> None:
        if self._queued:
            self._done.wait()


AT_ONCE = 2
# Every fixture the selected tests use (set once collection is done): a lane with several runs runs only those some
# selected test reads.
WANTED: set[str] = set()
_QUEUE: queue.Queue[tuple[Lane, Path]] = queue.Queue()
_RUNNERS: list[threading.Thread] = []
_RUNNER_LOCK = threading.Lock()


def _run_queue() -> None:
    while True:
        lane_, scratch = _QUEUE.get()
        lane_.run(scratch)


def lane(name: str, first: bool = False) -> Callable[[Work], Work]:
    """Register a lane; ``first`` queues it before the others (the longest, so that it never runs alone at the end)."""
    def register(work: Work) -> Work:
        LANES[name] = Lane(name, work)
        if first:
            LANES[name] = LANES.pop(name)  # re-inserted, then moved to the front below
            for other in [n for n in LANES if n != name]:
                LANES[other] = LANES.pop(other)
        return work

    return register


def fixture_name(name: str) -> str:
    """The fixture a test names to read a lane: ``smoke`` → ``smoke_lane``."""
    return f"{name.replace('-', '_')}_lane"
