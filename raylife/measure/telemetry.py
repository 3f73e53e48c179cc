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
        # Running sums, not a list: a replica samples at 10 Hz for as long as it lives.
        self.samples, self.util_sum, self.power_sum = 0, 0.0, 0.0
        self.mem_peak_mb: float | None = None
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
                self.samples += 1
                self.util_sum += float(util)
                self.power_sum += float(power)
                self.mem_peak_mb = max(float(used), self.mem_peak_mb or 0.0)
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
        if self.samples:
            out["gpu_util_mean_pct"] = self.util_sum / self.samples
            out["gpu_power_mean_w"] = self.power_sum / self.samples
            out["gpu_mem_peak_mb"] = self.mem_peak_mb
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


@dataclass(frozen=True)
class Mark:
    """A long-lived process's hardware counters at one moment (a Serve replica's, read through its ``stats``).

    The energy counters are the devices' own (RAPL per CPU package, NVML per GPU), not the process's: two marks taken
    by *any* processes on the same node (or GPU) bound that device's energy between them, so a rollout that
    replaces every replica is still measured. Utilisation and power are this process's samples, summed.
    """

    at_unix: float
    node: str  # which machine the CPU counters belong to
    cpu_energy_uj: tuple[tuple[str, int, int], ...] = ()  # (domain, counter, wrap range) per package
    gpu: str | None = None  # NVML's UUID of the GPU this process uses
    gpu_energy_mj: int | None = None
    samples: int = 0
    util_sum: float = 0.0
    power_sum: float = 0.0
    gpu_mem_peak_mb: float | None = None  # NVML used, largest since this process started sampling
    missing: tuple[tuple[str, str], ...] = ()  # (what, why not)


class Meter:
    """Samples this process's GPU every ``interval_s`` from ``start`` on, and reads the counters on demand (``mark``).

    A replica lives through several stages; each stage takes marks at its ends and ``between`` turns them into one
    ``Reading``. No thread runs where there is nothing to sample (no GPU).
    """

    def __init__(self, gpu: bool, node: str, rapl_root: Path = RAPL_ROOT, interval_s: float = 0.1) -> None:
        self.node = node
        self.rapl = Rapl(rapl_root)
        self.nvml = Nvml(interval_s=interval_s) if gpu else None
        self.uuid: str | None = None

    def start(self) -> Meter:
        if self.nvml is not None and not self.nvml.reason:
            try:
                uuid = self.nvml.nvml.nvmlDeviceGetUUID(self.nvml.handle)
                self.uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
            except Exception:  # noqa: BLE001 - without a UUID the GPU is known by its index on this node
                self.uuid = f"{self.node}/gpu0"
            self.nvml.start()
        return self

    def mark(self) -> Mark:
        missing = dict([("cpu_energy", self.rapl.reason)] if self.rapl.reason else [])
        cpu: tuple[tuple[str, int, int], ...] = ()
        if not self.rapl.reason:
            try:
                cpu = tuple((d.name, int((d / "energy_uj").read_text()), int((d / "max_energy_range_uj").read_text()))
                            for d in self.rapl.domains)
            except OSError as exc:  # energy_uj is root-only on many kernels (CVE-2020-8694)
                missing["cpu_energy"] = f"RAPL not readable: {exc.strerror or exc}"
        energy = None
        gpu = self.nvml if self.nvml is not None and not self.nvml.reason else None
        if self.nvml is not None and self.nvml.reason:
            missing["gpu"] = self.nvml.reason
        if gpu is not None:
            try:
                energy = int(gpu.nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
            except Exception as exc:  # noqa: BLE001 - pre-Volta GPUs have no energy counter
                missing["gpu_energy"] = f"NVML energy counter unsupported: {exc}"
        return Mark(
            at_unix=time.time(), node=self.node, cpu_energy_uj=cpu, gpu=self.uuid, gpu_energy_mj=energy,
            samples=gpu.samples if gpu else 0, util_sum=gpu.util_sum if gpu else 0.0,
            power_sum=gpu.power_sum if gpu else 0.0, gpu_mem_peak_mb=gpu.mem_peak_mb if gpu else None,
            missing=tuple(sorted(missing.items())),
        )


def _delta(before: int, after: int, wrap: int) -> int:
    return after - before if after >= before else after + wrap - before  # one wrap at most between two marks


def between(before: dict[str, Mark], after: dict[str, Mark]) -> Reading:
    """What the devices of a set of processes (keyed by id: replicas) did between two rounds of marks.

    Energy: per CPU package and per GPU, the earliest ``before`` counter to the latest ``after`` one of that device,
    summed over devices; None when a device seen at the end was not seen at the start (its start is unknown).
    Utilisation and power: the mean over processes of their own samples in between (a new process: since it
    started). Memory: the largest any of them saw.
    """
    missing = dict(m for mark in after.values() for m in mark.missing)

    def device_energy(key: Any, counters: Any) -> float | None:
        first: dict[Any, Any] = {}
        last: dict[Any, Any] = {}
        for mark in sorted(before.values(), key=lambda m: m.at_unix):
            for dev, value in counters(mark):
                first.setdefault(key(mark, dev), (value, mark))
        for mark in sorted(after.values(), key=lambda m: m.at_unix):
            for dev, value in counters(mark):
                last[key(mark, dev)] = (value, mark)
        if not last or any(k not in first for k in last):
            return None
        return float(sum(_delta(first[k][0][0], last[k][0][0], last[k][0][1]) for k in last))

    cpu_uj = device_energy(lambda m, d: (m.node, d), lambda m: [(d, (v, w)) for d, v, w in m.cpu_energy_uj])
    gpu_mj = device_energy(lambda m, d: d, lambda m: [(m.gpu, (m.gpu_energy_mj, 0))] if m.gpu and m.gpu_energy_mj is not None else [])
    utils, powers = [], []
    for key, end in after.items():
        start = before.get(key)
        n = end.samples - (start.samples if start else 0)
        if n > 0:
            utils.append((end.util_sum - (start.util_sum if start else 0.0)) / n)
            powers.append((end.power_sum - (start.power_sum if start else 0.0)) / n)
    peaks = [m.gpu_mem_peak_mb for m in after.values() if m.gpu_mem_peak_mb is not None]
    return Reading(
        cpu_energy_j=cpu_uj / 1e6 if cpu_uj is not None else None,
        gpu_energy_j=gpu_mj / 1000.0 if gpu_mj is not None else None,
        gpu_util_mean_pct=sum(utils) / len(utils) if utils else None,
        gpu_power_mean_w=sum(powers) / len(powers) if powers else None,
        gpu_mem_peak_mb=max(peaks) if peaks else None,
        missing=missing,
    )
