"""The training-loop contract: what the trial's actor hands every Ray Train worker, and what the workers send back.

Both sides import it — the framework loops (``frameworks/``) and the trial's actor and stages (``remote/``,
``stages/``) — so no module under ``frameworks/`` needs ``remote/``. Frozen dataclasses, pickled by Ray.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from raylife.measure.environment import Fingerprint
from raylife.measure.telemetry import Reading
from raylife.workloads.reference import DataRef


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
class CheckpointCost:
    """One training checkpoint: its bytes, and how long rank 0's training loop was blocked writing it and handing it to
    Ray Train's report (which copies it to the storage path before returning)."""

    epoch: int  # 0-based epoch it was taken after
    bytes: int
    stall_s: float


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
    init_weights: str | None = None  # pretrained weights (path or URI) a fresh model loads before its first step
    threads: int = 1
    precision: str = "fp32"  # fp32 | bf16 | fp16 (mixed precision: autocast, a grad scaler for fp16)
    device: str = "cpu"  # cpu | gpu: which counters the worker reads (RAPL always, NVML on a GPU)
    checkpoint_every_epoch: bool = False  # so a restarted worker group resumes where the failed one was
    checkpoint_upload: str = "sync"  # sync | async: Ray Train copies a checkpoint to storage_path in the background
    fault: FaultPlan | None = None
    sink: Any = None  # the trial actor's handle: epochs and probes are pushed to it
    steps: int | None = None  # one epoch of exactly this many global batches, the data cycled as often as needed
    streamed: bool = False  # the data arrives as Ray Data shards ("train", "val"), not loaded by the worker

    @property
    def seed(self) -> int:
        return self.data.seed


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
    data_wait_s: float | None = None  # streamed data: of epoch_s, the time rank 0 waited for its next batch

    def as_report(self) -> dict[str, Any]:
        """The metrics dict ``ray.train.report`` takes (Ray's API, not ours, wants a dict)."""
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
    environment: Fingerprint | None = None  # the machine this worker ran on
    resumed_from_epoch: int = 0  # epochs a checkpoint already held when this loop started (after a failure)
    telemetry: Reading = field(default_factory=Reading)  # energy, GPU power/utilisation/memory over the loop
    peak_private_mb: float | None = None  # RSS less shared pages: Ray's object store maps blocks into every reader
    first_batch_s: float | None = None  # streamed data: from asking the shard for the first batch until it arrived
    restore_s: float | None = None  # fetching the checkpoint this loop started from (retrain, a restart) and loading it


__all__ = ["EpochRecord", "FaultEvent", "FaultPlan", "LoopConfig", "WorkerProbe"]
