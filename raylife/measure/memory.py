"""Resident memory, sampled in the background while work runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

MB = 1024 * 1024


@dataclass(frozen=True)
class GpuMemoryPeak:
    """A framework's own count of the most GPU memory one process used, in MiB; None where it does not tell."""

    allocated_mb: float | None = None  # held by tensors
    reserved_mb: float | None = None  # held by the framework's caching allocator (PyTorch; TensorFlow has no such figure)


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process (default: this one) in MiB."""
    return psutil.Process(pid).memory_info().rss / MB


class RssSampler:
    """Samples this process's RSS every ``interval_s`` on a daemon thread and keeps the peak.

    Sampling (not ``ru_maxrss``) because Ray reuses worker processes: the OS high-water mark would
    include whatever an earlier task in the same process did.
    """

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self.peak_private_mb = 0.0  # RSS less the pages shared with other processes (the object store's mappings)
        self.samples = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raylife-rss", daemon=True)

    def _sample(self) -> None:
        info = self._process.memory_info()
        self.peak_mb = max(self.peak_mb, info.rss / MB)
        self.peak_private_mb = max(self.peak_private_mb, (info.rss - getattr(info, "shared", 0)) / MB)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling; returns the peak in MiB (including one last sample)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sample()
        return self.peak_mb

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
