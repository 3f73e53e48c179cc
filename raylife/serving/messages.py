"""What crosses between the driver and a trial's Serve replicas: the replica's constructor arguments and
``user_config`` (pydantic models: Serve's declarative config carries them as JSON, and the replica validates them
back into these types), and what a replica reports about itself (frozen dataclasses, pickled by Ray)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from raylife.measure.environment import Fingerprint
from raylife.measure.memory import GpuMemoryPeak
from raylife.measure.telemetry import Mark


class ReplicaArgs(BaseModel):
    """``ModelServer``'s constructor arguments: the application's ``args``. Changing them starts new replicas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str
    format: str
    model_dir: str
    version: str
    threads: int = Field(1, ge=1)
    max_batch_size: int = Field(1, ge=1)
    batch_wait_timeout_s: float = Field(0.005, ge=0)
    input_dtype: str = "float32"  # JSON has no dtypes: token and id inputs are integers
    device: str = "cpu"
    precision: str = "fp32"


class Answer(BaseModel):
    """A replica's answer to one request, the same over HTTP (as JSON) and through a DeploymentHandle: the top-1
    class of each input, and the model version and replica that produced them (how an update's end is observed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    predictions: list[int]
    version: str | None = None
    replica: str | None = None


class ModelVersion(BaseModel):
    """The deployment's ``user_config``: which weights to serve. Changing it alone reloads them in place
    (Serve calls ``reconfigure`` on the live replicas)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_dir: str
    version: str


@dataclass(frozen=True)
class ModelLoad:
    """One load of weights into a replica (its first, and one per in-place update)."""

    version: str
    load_s: float  # from the served format's folder on this node into a predictor
    at_unix: float
    fetch_s: float | None = None  # copying the folder down from an object store first; None when it was on disk


@dataclass(frozen=True)
class ReplicaStats:
    """A replica's own account of itself, read through its ``stats`` method."""

    replica: str  # Serve's replica id
    pid: int
    node_id: str
    version: str  # the weights it serves now
    init_s: float  # its constructor, framework import and first load included
    loads: tuple[ModelLoad, ...]
    rss_loaded_mb: float  # resident memory once the first model was loaded
    rss_mb: float  # now
    peak_rss_mb: float | None  # the largest seen since it started (sampled every 0.1 s)
    requests: int
    environment: Fingerprint
    meter: Mark | None = None  # its devices' counters now (energy between two stages' marks)
    gpu_memory_peak: GpuMemoryPeak = field(default_factory=GpuMemoryPeak)  # the framework's own count
    started_unix: float | None = None  # its constructor's start, on its node's clock
    first_answer_unix: float | None = None  # its first answer's end; None until it has answered

    @property
    def constructor_end_unix(self) -> float | None:
        return None if self.started_unix is None else self.started_unix + self.init_s

    @property
    def first_load(self) -> ModelLoad:
        return self.loads[0]


__all__ = ["Answer", "ModelLoad", "ModelVersion", "ReplicaArgs", "ReplicaStats"]
