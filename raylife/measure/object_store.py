"""The Ray object store's use while data streams through it: peak bytes held and bytes spilled to disk, cluster-wide.

Ray reports both in its global memory summary (``ray memory --stats-only``), which asks a raylet for every node's
plasma statistics. It is a private API (``ray._private.internal_api``): where it fails, nothing is stored and the
reason is kept, never a zero that looks measured.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class StoreUse:
    """Over one fit: the most bytes the object stores held at once (sampled), and the bytes spilled meanwhile."""

    peak_bytes: int | None = None
    spilled_bytes: int | None = None
    samples: int = 0
    missing: str | None = None  # why there is no figure


def _read() -> tuple[int, int]:
    from ray._private.internal_api import get_memory_info_reply
    from ray._private.state import state

    stats = get_memory_info_reply(state, timeout_seconds=10).store_stats
    return int(stats.object_store_bytes_used + stats.object_store_bytes_fallback), int(stats.spilled_bytes_total)


class StoreSampler:
    """Samples the object store every ``interval_s`` in a thread, from ``start`` to ``stop`` (inside a Ray process)."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0
        self._samples = 0
        self._spilled_at_start: int | None = None
        self._spilled = 0
        self._error: str | None = None

    def _sample(self) -> None:
        try:
            used, spilled = _read()
        except Exception as exc:  # noqa: BLE001 - a private API: any failure means "not reported"
            self._error = self._error or f"Ray's memory summary failed: {type(exc).__name__}"
            return
        if self._spilled_at_start is None:
            self._spilled_at_start = spilled
        self._peak, self._spilled = max(self._peak, used), spilled
        self._samples += 1

    def start(self) -> StoreSampler:
        def run() -> None:
            self._sample()
            while not self._stop.wait(self.interval_s):
                self._sample()

        self._thread = threading.Thread(target=run, name="object-store-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> StoreUse:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        if not self._samples:
            return StoreUse(missing=self._error or "not sampled")
        return StoreUse(peak_bytes=self._peak, spilled_bytes=self._spilled - (self._spilled_at_start or 0),
                        samples=self._samples)
