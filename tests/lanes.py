"""Lanes: whole ``raylife submit`` runs that start in the background as soon as the test session may start Ray, and
that the tests reading them wait for.

A Ray run spends much of its time waiting (process starts, Serve's control loop, fixed-rate clients) with the CPU
half idle; the unit tests and the in-process Ray tests use it meanwhile. Each lane brings everything it runs on (the
embedded Ray of README's command, or a two-node cluster of its own), so lanes never share a Ray or a Serve with each
other or with the tests in the foreground. A lane starts only when a selected test needs it (``pytest -k``), and not
before the CLI tests have run: those check what raylife says when no Ray runs on the machine.

A lane is a function of a scratch folder, registered with ``@lane("name")``; its fixture is ``lane_result("name")``.
"""

from __future__ import annotations

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
        self._thread: threading.Thread | None = None
        self._value: Any = None
        self._error: str | None = None
        self.started_at = self.finished_at = None
        self.parts: dict[str, float] = {}  # seconds of the lane's parts (its runs), for the session's summary

    def start(self, scratch: Path) -> None:
        if self._thread is not None:
            return

        def run() -> None:
            self.started_at = time.monotonic()
            try:
                self._value = self.work(scratch)
            except BaseException:  # noqa: BLE001 - handed to the tests that read the lane
                self._error = traceback.format_exc()
            finally:
                self.finished_at = time.monotonic()

        self._thread = threading.Thread(target=run, name=f"lane-{self.name}", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def result(self, timeout_s: float = 1800) -> Any:
        assert self._thread is not None, f"lane {self.name} was never started"
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"lane {self.name} still running after {timeout_s:.0f} s"
        if self._error is not None:
            raise AssertionError(f"lane {self.name} failed:\n{self._error}")
        return self._value

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


def lane(name: str) -> Callable[[Work], Work]:
    def register(work: Work) -> Work:
        LANES[name] = Lane(name, work)
        return work

    return register


def fixture_name(name: str) -> str:
    """The fixture a test names to read a lane: ``smoke`` → ``smoke_lane``."""
    return f"{name.replace('-', '_')}_lane"
