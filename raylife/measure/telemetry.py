"""Hardware counters read in the process that does the work: CPU package energy (RAPL) and, on NVIDIA GPUs, NVML's
energy counter, power, utilisation and memory. Where the hardware or permissions do not tell, nothing is measured and
the reason is kept — never a zero that looks measured."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RAPL_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class Reading:
    """What one process measured over its work; a None value comes with the reason in ``missing``."""

    cpu_energy_j: float | None = None
    gpu_energy_j: float | None = None
    gpu_util_mean_pct: float | None = None
    gpu_power_mean_w: float | None = None
    gpu_mem_peak_mb: float | None = None
    missing: dict[str, str] = field(default_factory=dict)  # what → why not


def rapl_domains(root: Path = RAPL_ROOT) -> list[Path]:
    """The CPU package domains (intel-rapl:N, not their sub-domains), readable ones only."""
    found = []
    for domain in sorted(root.glob("intel-rapl:*")):
        if domain.name.count(":") == 1 and (domain / "energy_uj").exists():
            found.append(domain)
    return found


class Rapl:
    """CPU package energy between ``start`` and ``stop`` (microjoule counters, wrap-around handled)."""

    def __init__(self, root: Path = RAPL_ROOT) -> None:
        self.domains = rapl_domains(root)
        self.reason: str | None = None
        if not root.exists():
            self.reason = f"no RAPL on this machine ({root} does not exist)"
        elif not self.domains:
            self.reason = f"no readable RAPL package domain under {root}"
        self._start: list[int] = []

    def _read(self) -> list[int]:
        return [int((d / "energy_uj").read_text()) for d in self.domains]

    def start(self) -> None:
        if self.reason:
            return
        try:
            self._start = self._read()
        except OSError as exc:  # energy_uj is root-only on many kernels (CVE-2020-8694)
            self.reason = f"RAPL not readable: {exc.strerror or exc}"

    def stop(self) -> float | None:
        if self.reason or not self._start:
            return None
        total = 0
        for domain, before, after in zip(self.domains, self._start, self._read()):
            if after < before:  # the counter wrapped
                after += int((domain / "max_energy_range_uj").read_text())
            total += after - before
        return total / 1e6


class Nvml:
    """One GPU's energy counter, and power, utilisation and memory sampled every ``interval_s``."""

    def __init__(self, index: int = 0, interval_s: float = 0.1) -> None:
        self.reason: str | None = None
        self.interval_s = interval_s
        self._samples: list[tuple[float, float, float]] = []  # (util %, power W, used MiB)
        self._stop = threading.Event()
        try:
            import pynvml  # nvidia-ml-py
        except ImportError:
            self.reason = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
            return
        try:
            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, NoPermission, no GPU
            self.reason = f"NVML unavailable: {exc}"
            return
        self.nvml = pynvml

    def _sample(self) -> None:
        n = self.nvml
        while not self._stop.is_set():
            try:
                util = n.nvmlDeviceGetUtilizationRates(self.handle).gpu
                power = n.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
                used = n.nvmlDeviceGetMemoryInfo(self.handle).used / 1024**2
                self._samples.append((float(util), float(power), float(used)))
            except Exception:  # noqa: BLE001 - a sample that fails is a sample not taken
                pass
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        if self.reason:
            return
        try:
            self._energy0 = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)  # mJ since driver load
        except Exception as exc:  # noqa: BLE001 - pre-Volta GPUs have no energy counter
            self._energy0 = None
            self._energy_reason = f"NVML energy counter unsupported: {exc}"
        self._thread = threading.Thread(target=self._sample, daemon=True, name="raylife-nvml")
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        if self.reason:
            return {}
        self._stop.set()
        self._thread.join(2)
        out: dict[str, Any] = {}
        if self._energy0 is not None:
            out["gpu_energy_j"] = (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self._energy0) / 1000.0
        if self._samples:
            out["gpu_util_mean_pct"] = sum(s[0] for s in self._samples) / len(self._samples)
            out["gpu_power_mean_w"] = sum(s[1] for s in self._samples) / len(self._samples)
            out["gpu_mem_peak_mb"] = max(s[2] for s in self._samples)
        return out


class Telemetry:
    """Everything this process's hardware tells about its work between ``start`` and ``stop``."""

    def __init__(self, gpu: bool, rapl_root: Path = RAPL_ROOT) -> None:
        self.gpu = gpu
        self.rapl = Rapl(rapl_root)
        self.nvml = Nvml() if gpu else None

    def start(self) -> Telemetry:
        self.started = time.perf_counter()
        self.rapl.start()
        if self.nvml:
            self.nvml.start()
        return self

    def stop(self) -> Reading:
        cpu = self.rapl.stop()
        missing = {"cpu_energy": self.rapl.reason} if self.rapl.reason else {}
        gpu: dict[str, Any] = {}
        if self.nvml is not None:
            gpu = self.nvml.stop()
            if self.nvml.reason:
                missing["gpu"] = self.nvml.reason
            elif "gpu_energy_j" not in gpu:
                missing["gpu_energy"] = getattr(self.nvml, "_energy_reason", "no energy counter")
        return Reading(cpu_energy_j=cpu, missing=missing, **gpu)
