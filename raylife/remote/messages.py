"""Values that cross between the driver and the trial's actor (pickled by Ray): frozen dataclasses, never dicts.

One definition per shape: the trial's actor returns ``FitResult``, ``EvalResult``, ``SavedFormat`` and
``ServingData``, and the stages read their fields by name. What the training workers exchange with the actor is the
training-loop contract, ``raylife.frameworks.contract``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from raylife.frameworks.contract import CheckpointCost, EpochRecord, FaultEvent, WorkerProbe
from raylife.frameworks.model import ModelFacts
from raylife.measure.environment import Fingerprint
from raylife.measure.object_store import StoreUse
from raylife.measure.telemetry import Reading
from raylife.workloads.streamed import BadFile


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
class Progress:
    epochs_done: int
    last: EpochRecord | None


@dataclass(frozen=True)
class IngestFigures:
    """A fit on data streamed through Ray Data: the pipeline alone (read + decode + resize, no model, before the fit),
    and the object store over the fit."""

    probe_samples: int  # rows timed (those after the first batch, when there were more)
    probe_s: float  # the seconds they took
    probe_wall_s: float  # the whole probe, first batch included: a named part of the stage
    store: StoreUse
    skipped: tuple[BadFile, ...] = ()  # files that did not decode, left out (``on_bad_file = "skip"``)
    ignored: tuple[str, ...] = ()  # files in the data's folders that are not its format (never decoded)

    @property
    def samples_per_s(self) -> float | None:
        return self.probe_samples / self.probe_s if self.probe_s > 0 and self.probe_samples else None


@dataclass(frozen=True)
class FitResult:
    """One Ray Train ``fit()``: when it started and ended (the trial actor's clock), its checkpoint, epochs and probes."""

    fit_start_unix: float
    fit_end_unix: float
    checkpoint: str | None
    epochs: tuple[EpochRecord, ...]
    probes: tuple[WorkerProbe, ...]  # sorted by rank; the last attempt's when workers were restarted
    faults: tuple[FaultEvent, ...] = ()
    checkpoints: tuple[CheckpointCost, ...] = ()  # every checkpoint rank 0 took, in order
    ingest: IngestFigures | None = None  # streamed data only: the pipeline's own figures

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
    environment: Fingerprint
    device: str = "cpu"  # where the checkpoint was scored
    fetch_s: float | None = None  # copying the checkpoint down from an object store; None when it was on disk
    telemetry: Reading = field(default_factory=Reading)  # energy and GPU counters while loading and scoring
    model_facts_s: float = 0.0  # counting parameters and FLOPs (TensorFlow traces and freezes the graph)
    data_load_s: float | None = None  # loading the trial's data into the actor; None when it was already loaded
    # a decoder's (next-token targets): exp of eval_loss, the unigram model's on the same tokens, tokens scored
    perplexity: float | None = None
    baseline_perplexity: float | None = None
    tokens: int | None = None


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


@dataclass(frozen=True)
class PersistResult:
    """Every format saved and reloaded, and the work around them: the checkpoint's load, the reference predictions."""

    formats: tuple[SavedFormat, ...]
    checkpoint_load_s: float
    reference_predict_s: float
    data_load_s: float | None = None  # loading the trial's data into the actor; None when it was already loaded


@dataclass(frozen=True, eq=False)
class ServingData:
    """Held-out inputs for requests, their labels, and the served format's offline predictions of them."""

    x: np.ndarray
    y: np.ndarray
    offline_pred: np.ndarray


@dataclass(frozen=True)
class TokenPrompts:
    """What a decoder's serve stage sends: held-out rows' first tokens, and the greedy tokens the saved model itself
    generates offline for the first prompt (the served stream must be the same)."""

    prompts: tuple[tuple[int, ...], ...]
    offline_first: tuple[int, ...]
    offline_s: float  # generating ``offline_first`` in the trial's actor, KV cache on
