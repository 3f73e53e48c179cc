"""Clocks. Durations use perf_counter; instants that cross processes use wall-clock time.time()."""

from __future__ import annotations

import time
from contextlib import contextmanager
from collections.abc import Iterator


class Elapsed:
    """The result holder of ``timed()``: ``seconds`` is set when the block exits."""

    seconds: float = float("nan")


@contextmanager
def timed() -> Iterator[Elapsed]:
    """``with timed() as t: ...`` then ``t.seconds``."""
    box = Elapsed()
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.seconds = time.perf_counter() - start
