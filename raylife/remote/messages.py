"""Values that cross between the driver and cluster processes (pickled by Ray): frozen dataclasses, never dicts.

One definition per shape: the Train workers build ``EpochRecord`` and ``WorkerProbe``, the trial's actor returns
``FitResult``, ``EvalResult``, ``SavedFormat`` and ``ServingData``, and the stages read their fields by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from raylife.measure.telemetry import Reading
from raylife.workloads.reference import DataRef


@dataclass(frozen=True)
class LoopConfig:
    """Everything one Ray Train worker needs to run its training loop."""

    data: DataRef
    split: str  # which split to train on: "train", or "retrain" for the fresh slice
    epochs: int
    batch_size: int  # global: split evenly over the workers
    learning_rate: float
    builder: str
    model: str
    framework: str
    model_options: Mapping[str, Any] = field(default_factory=dict)
    model_args: Mapping[str, Any] = field(default_factory=dict)
    init_checkpoint: str | None = None  # continue from this checkpoint (retrain)
    threads: int = 1
    precision: str = "fp32"  # fp32 | bf16 | fp16 (mixed precision: autocast, a grad scaler for fp16)
    device: str = "cpu"  # cpu | gpu: which counters the worker reads (RAPL always, NVML on a GPU)
    checkpoint_every_epoch: bool = False  # so a restarted worker group resumes where the failed one was
    fault: FaultPlan | None = None
    sink: Any = None  # the trial actor's handle: epochs and probes are pushed to it

    @property
    def seed(self) -> int:
        return self.data.seed


@dataclass(frozen=True)
class FitResources:
    """Where and on how much one fit runs, and how many worker failures it survives."""

    num_workers: int
    cpus_per_worker: float
    use_gpu: bool = False
    custom: Mapping[str, float] = field(default_factory=dict)  # the platform's Ray custom resources, per worker
    labels: Mapping[str, str] = field(default_factory=dict)  # the platform's node labels
    max_failures: int = 0

    def per_worker(self) -> dict[str, float]:
        return {"CPU": self.cpus_per_worker, **({"GPU": 1} if self.use_gpu else {}), **self.custom}


@dataclass(frozen=True)
class FaultPlan:
    """A failure to inject into one fit: the worker of ``rank`` exits when ``epoch`` (1-based) ends, once."""

    epoch: int
    rank: int = 0


@dataclass(frozen=True)
class FaultEvent:
    """A failure injected: when the worker died and what it had done."""

    killed_unix: float
    epoch: int  # 0-based epoch it died in
    rank: int
    progress: float  # epochs trained when it died, the partial one included (e.g. 1.5)


@dataclass(frozen=True)
class EpochRecord:
    """One epoch as rank 0 saw it; ``epoch_s`` covers the training steps only, not validation."""

    epoch: int
    train_loss: float
    eval_loss: float
    accuracy: float
    epoch_s: float
    elapsed_s: float
    samples_per_s: float | None
    end_unix: float

    def as_report(self) -> dict[str, Any]:
        """The metrics dict ``ray.train.report`` takes."""
        return asdict(self)


@dataclass(frozen=True)
class WorkerProbe:
    """One worker's timings (wall clock: they cross processes) and peak memory, sent when its loop ends."""

    rank: int
    replicas: int  # the framework's own count of data-parallel replicas
    node_id: str
    hostname: str
    pid: int
    peak_rss_mb: float | None
    rss_samples: int
    loop_enter_unix: float
    first_step_unix: float | None
    loop_exit_unix: float
    environment: Mapping[str, Any] = field(default_factory=dict)  # the machine this worker ran on
    resumed_from_epoch: int = 0  # epochs a checkpoint already held when this loop started (after a failure)
    telemetry: Reading = field(default_factory=Reading)  # energy, GPU power/utilisation/memory over the loop


@dataclass(frozen=True)
class Progress:
    epochs_done: int
    last: EpochRecord | None


@dataclass(frozen=True)
class FitResult:
    """One Ray Train ``fit()``: when it started and ended (the trial actor's clock), its checkpoint, epochs and probes."""

    fit_start_unix: float
    fit_end_unix: float
    checkpoint: str | None
    epochs: tuple[EpochRecord, ...]
    probes: tuple[WorkerProbe, ...]  # sorted by rank; the last attempt's when workers were restarted
    faults: tuple[FaultEvent, ...] = ()

    @property
    def first_step_unix(self) -> float | None:
        steps = [p.first_step_unix for p in self.probes if p.first_step_unix]
        return min(steps) if steps else None

    @property
    def loop_enter_unix(self) -> float | None:
        return min((p.loop_enter_unix for p in self.probes), default=None)

    @property
    def loop_exit_unix(self) -> float | None:
        return max((p.loop_exit_unix for p in self.probes), default=None)


@dataclass(frozen=True)
class ModelFacts:
    params: int
    flops_per_sample: float | None  # forward pass, multiply and add counted apart; None where not countable
    model_memory_bytes: float  # every weight and buffer


@dataclass(frozen=True)
class EvalResult:
    """Quality of a checkpoint on the held-out test split, and where it was measured."""

    accuracy: float | None
    eval_loss: float | None
    top5_accuracy: float | None
    model_facts: ModelFacts
    baseline_accuracy: float
    samples: int
    checkpoint_load_s: float
    predict_s: float
    split_sizes: Mapping[str, int]
    data_source: str
    synthetic_data: bool
    environment: Mapping[str, Any]
    device: str = "cpu"  # where the checkpoint was scored
    fetch_s: float | None = None  # copying the checkpoint down from an object store; None when it was on disk
    telemetry: Reading = field(default_factory=Reading)  # energy and GPU counters while loading and scoring


@dataclass(frozen=True)
class SavedFormat:
    """A model saved in one format, reloaded, and checked against the checkpoint's predictions."""

    format: str
    native: bool
    path: str
    save_s: float
    load_s: float
    first_predict_s: float
    bytes: int
    params: int
    roundtrip_max_abs_diff: float
    device: str = "cpu"  # where the reloaded format was timed and checked
    upload_s: float | None = None  # copying the saved folder up to an object store; None when saved in place


@dataclass(frozen=True, eq=False)
class ServingData:
    """Held-out inputs for requests, their labels, and the served format's offline predictions of them."""

    x: np.ndarray
    y: np.ndarray
    offline_pred: np.ndarray
