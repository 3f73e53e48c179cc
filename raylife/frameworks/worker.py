"""Helpers shared by the per-worker training loops of every framework (runs inside Ray Train workers).

A loop receives ``{"loop": LoopConfig}`` as its Ray Train config (Ray Train's API takes a dict; the one value in it
is typed) and reports through a ``WorkerSession``:
per-epoch records (``EpochRecord``) go to the trial's actor for live progress and storage, and each worker's
timings and peak memory (``WorkerProbe``) go there when it finishes. Only rank 0 writes the checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from raylife.frameworks.contract import CheckpointCost, EpochRecord, FaultEvent, LoopConfig, WorkerProbe
from raylife.frameworks.model import Recipe
from raylife.measure.environment import fingerprint
from raylife.measure.memory import RssSampler
from raylife.measure.telemetry import Telemetry
from raylife.workloads import Splits

PROGRESS_FILE = "progress.json"  # in a checkpoint: how many epochs the model in it has trained


@dataclass(frozen=True)
class CheckpointProgress:
    """Written into every training checkpoint by the worker that saved it, read by a restarted worker group."""

    epochs_done: int

    def write(self, directory: str | Path) -> None:
        (Path(directory) / PROGRESS_FILE).write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, directory: str | Path) -> CheckpointProgress:
        """What a checkpoint holds; 0 epochs for one without the file (saved by an older raylife)."""
        path = Path(directory) / PROGRESS_FILE
        return cls(**json.loads(path.read_text())) if path.exists() else cls(epochs_done=0)


def write_progress(directory: str | Path, epochs_done: int) -> None:
    CheckpointProgress(epochs_done).write(directory)


def resume_checkpoint() -> tuple[str | None, int]:
    """(directory, epochs done) of the checkpoint Ray Train restarted this worker group from; (None, 0) at a
    fresh start. The directory is local, valid for this loop's lifetime."""
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return None, 0
    directory = checkpoint.to_directory()
    return directory, CheckpointProgress.read(directory).epochs_done


@contextmanager
def local_checkpoint(location: str) -> Iterator[str]:
    """The checkpoint to start from as a folder on this worker's disk, for as long as the model loads from it: the
    folder itself when the storage is one, else a copy of the object store's that is removed afterwards."""
    from raylife.artifacts import fetch

    copy = fetch(location)
    try:
        yield str(copy.local)
    finally:
        if copy.copied:
            shutil.rmtree(copy.local, ignore_errors=True)


def loop_of(config: dict[str, Any]) -> LoopConfig:
    """The typed config inside the dict Ray Train hands every worker."""
    return config["loop"]


def make_recipe(loop: LoopConfig, splits: Splits) -> Recipe:
    """How to rebuild the model anywhere: builder, the data's input shape and classes, options."""
    return Recipe(
        builder=loop.builder,
        input_shape=tuple(splits.input_shape),
        num_classes=splits.num_classes,
        options=dict(loop.model_options),
        model_args=dict(loop.model_args or splits.facts.model_args),
        framework=loop.framework,
        model=loop.model,
    )


def epoch_order(n: int, seed: int, epoch: int, rank: int, world: int) -> np.ndarray:
    """This rank's sample indices for one epoch.

    Every rank draws the same global permutation and takes an equal, disjoint slice (the remainder is
    dropped, as DistributedSampler(drop_last=True) does), so all ranks run the same number of steps and
    collective ops never wait on a rank that ran out of data.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = n // world
    return perm[rank * per_rank : (rank + 1) * per_rank]


def steps_order(n: int, seed: int, rank: int, world: int, steps: int, batch: int) -> np.ndarray:
    """This rank's sample indices for ``steps`` steps of ``batch``: its epoch orders, one pass after another, as many
    as it takes (``[train] steps``: a run bounded by optimizer steps, not by passes over the data)."""
    need, parts, taken, cycle = steps * batch, [], 0, 0
    while taken < need:
        part = epoch_order(n, seed, cycle, rank, world)
        if not len(part):
            raise ValueError(f"{n} samples leave worker {rank} of {world} none to train on")
        parts.append(part)
        taken += len(part)
        cycle += 1
    return np.concatenate(parts)[:need]


def per_worker_batch(global_batch: int, world: int) -> int:
    """The suite's batch_size is global (constant across worker counts), split evenly over the workers."""
    return max(1, global_batch // world)


class WorkerSession:
    """One worker's view of the run: rank, timings, peak memory, and the channel to the trial actor."""

    def __init__(self, loop: LoopConfig) -> None:
        import ray.train

        self.loop_enter_unix = time.time()
        self.loop = loop
        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world = context.get_world_size()
        self.sink = loop.sink
        self.rss = RssSampler().start()
        self.telemetry = Telemetry(gpu=loop.device == "gpu").start()
        self.first_step_unix: float | None = None
        self.train_start: float | None = None  # perf_counter at the first step
        self.epochs: list[EpochRecord] = []
        self.resumed_from_epoch = 0
        self.restore_s: float | None = None
        self.clock = WaitClock()  # streamed data: waits on the shard
        fault = loop.fault
        self._fault_armed = fault is not None and fault.rank == self.rank

    def maybe_fail(self, epoch: int, step: int, steps: int) -> None:
        """The injected fault: halfway through the planned epoch (0-based ``epoch`` + 1 == fault.epoch), the chosen
        worker dies as a crashed process would, once per fit (the trial's actor remembers it across restarts)."""
        if not self._fault_armed or epoch + 1 != self.loop.fault.epoch or step < steps // 2:
            return
        import ray

        self._fault_armed = False
        event = FaultEvent(killed_unix=time.time(), epoch=epoch, rank=self.rank, progress=epoch + step / max(1, steps))
        if ray.get(self.sink.claim_fault.remote(event)):
            os._exit(1)

    @staticmethod
    def steps(samples: int, batch: int) -> int:
        return math.ceil(samples / batch)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def mark_step(self) -> None:
        if self.first_step_unix is None:
            self.first_step_unix = time.time()
            self.train_start = time.perf_counter()

    def elapsed_s(self) -> float:
        return 0.0 if self.train_start is None else time.perf_counter() - self.train_start

    def end_epoch(
        self, epoch: int, train_loss: float, val_loss: float, val_accuracy: float, epoch_s: float, samples: int,
        data_wait_s: float | None = None,
    ) -> EpochRecord:
        """Record one epoch (rank 0's view); ``epoch_s`` covers the training steps only, not validation."""
        record = EpochRecord(
            epoch=epoch,
            train_loss=float(train_loss),
            eval_loss=float(val_loss),
            accuracy=float(val_accuracy),
            epoch_s=float(epoch_s),
            elapsed_s=self.elapsed_s(),
            samples_per_s=samples / epoch_s if epoch_s > 0 else None,
            end_unix=time.time(),
            data_wait_s=data_wait_s,
        )
        self.epochs.append(record)
        if self.is_chief:
            self.sink.put_epoch.remote(record)  # fire and forget: progress must not slow training
        return record

    @contextmanager
    def restoring(self) -> Iterator[None]:
        """Times fetching and loading the checkpoint the loop starts from (``restore_s``)."""
        start = time.perf_counter()
        yield
        self.restore_s = time.perf_counter() - start

    def report_checkpoint(self, epoch: int, metrics: dict[str, Any], save: Callable[[Path], None]) -> None:
        """Save a checkpoint (``save(directory)``), report it to Ray Train and tell the trial's actor what it cost.

        Every worker calls it (TensorFlow's strategy needs every worker to save); only rank 0's copy is reported as
        the checkpoint. The stall is rank 0's loop blocked from the save's start until ``report`` returns: with
        ``checkpoint_upload = "sync"`` that includes the copy to ``storage_path``; with ``"async"`` Ray Train copies
        in a background thread and deletes the directory afterwards, so it must outlive this call (and the worker
        waits for the last copy before it exits).
        """
        import tempfile

        import ray.train

        from raylife.frameworks.backend import directory_bytes

        upload = ray.train.CheckpointUploadMode.ASYNC if self.loop.checkpoint_upload == "async" else None
        keep = upload is not None and self.is_chief
        directory = Path(tempfile.mkdtemp(prefix="raylife-checkpoint-"))
        try:
            stall = time.perf_counter()
            save(directory)
            write_progress(directory, epoch + 1)
            if not self.is_chief:
                ray.train.report({"epoch": epoch})
                return
            size = directory_bytes(directory)  # before an asynchronous upload may delete it
            checkpoint = ray.train.Checkpoint.from_directory(str(directory))
            if upload is None:
                ray.train.report(metrics, checkpoint=checkpoint)
            else:
                ray.train.report(metrics, checkpoint=checkpoint, checkpoint_upload_mode=upload)
            stall_s = time.perf_counter() - stall
            self.sink.put_checkpoint.remote(CheckpointCost(epoch=epoch, bytes=size, stall_s=stall_s))
        finally:
            if not keep:
                shutil.rmtree(directory, ignore_errors=True)

    def finish(self, replicas: int) -> WorkerProbe:
        """Send this worker's timings and peak memory to the trial's actor; returns them.

        ``replicas`` is the framework's own count of data-parallel replicas (DDP world size,
        ``num_replicas_in_sync``): proof that training really ran data-parallel.
        """
        import ray

        peak = self.rss.stop()
        reading = self.telemetry.stop()
        probe = WorkerProbe(
            rank=self.rank,
            replicas=int(replicas),
            node_id=ray.get_runtime_context().get_node_id(),
            hostname=socket.gethostname(),
            pid=os.getpid(),
            peak_rss_mb=peak,
            rss_samples=self.rss.samples,
            loop_enter_unix=self.loop_enter_unix,
            first_step_unix=self.first_step_unix,
            loop_exit_unix=time.time(),
            environment=fingerprint(),
            resumed_from_epoch=self.resumed_from_epoch,
            telemetry=reading,
            first_batch_s=self.clock.first_batch_s,
            peak_private_mb=self.rss.peak_private_mb,
            restore_s=self.restore_s,
        )
        ray.get(self.sink.put_probe.remote(probe))
        return probe


class WaitClock:
    """Times how long a training loop waits on a streamed shard: each ``next`` of the batches it iterates, and the
    first batch of the first pass since the iterator was asked for (``first_batch_s``). ``wait_s`` and ``rows`` count
    the current pass (``restart`` at each epoch)."""

    def __init__(self) -> None:
        self.first_batch_s: float | None = None
        self.wait_s = 0.0
        self.rows = 0

    def restart(self) -> None:
        self.wait_s, self.rows = 0.0, 0

    def timed(self, batches: Any) -> Iterator[Any]:
        asked = time.perf_counter()
        iterator = iter(batches)
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            now = time.perf_counter()
            self.wait_s += now - start
            if self.first_batch_s is None:
                self.first_batch_s = now - asked
            self.rows += len(next(iter(batch.values())) if isinstance(batch, dict) else batch[0])
            yield batch


def shard_passes(epoch_batches: Any, steps: int | None) -> Iterator[Any]:
    """One epoch of a streamed shard, or with ``steps`` exactly that many batches, as many passes as it takes
    (``epoch_batches(i)`` gives pass ``i``'s batches)."""
    if not steps:
        yield from epoch_batches(0)
        return
    taken, cycle = 0, 0
    while taken < steps:
        before = taken
        for batch in epoch_batches(cycle):
            yield batch
            taken += 1
            if taken == steps:
                return
        if taken == before:
            raise ValueError("the streamed training split gives this worker no full batch: lower batch_size")
        cycle += 1


def val_batches(x: np.ndarray, batch: int = 512):
    for start in range(0, len(x), batch):
        yield start, x[start : start + batch]
