"""Helpers shared by the per-worker training loops of every framework (runs inside Ray Train workers).

A loop receives a plain ``config`` dict (see ``raylife.stages.train.loop_config``) and reports through
a ``WorkerSession``: per-epoch records go to the launcher actor for live progress and storage, and each
worker's timings and peak memory go there when it finishes. Only rank 0 writes the checkpoint.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import numpy as np

from raylife.measure.memory import RssSampler
from raylife.workloads import WORKLOADS, Splits


def load_splits(config: dict[str, Any]) -> Splits:
    data = config["data"]
    workload = WORKLOADS.get(config["workload"])
    return workload.load_splits(data.get("dataset"), config["seed"], data.get("options"), fmt=data.get("format"))


def make_recipe(config: dict[str, Any], splits: Splits) -> dict[str, Any]:
    """How to rebuild the model anywhere: builder, the data's input shape and classes, options."""
    return {
        "builder": config["builder"],
        "input_shape": list(splits.input_shape),
        "num_classes": splits.num_classes,
        "options": dict(config["model_options"]),
        "model_args": dict(config.get("model_args") or splits.facts.model_args),
        "framework": config["framework"],
        "model": config["model"],
    }


def epoch_order(n: int, seed: int, epoch: int, rank: int, world: int) -> np.ndarray:
    """This rank's sample indices for one epoch.

    Every rank draws the same global permutation and takes an equal, disjoint slice (the remainder is
    dropped, as DistributedSampler(drop_last=True) does), so all ranks run the same number of steps and
    collective ops never wait on a rank that ran out of data.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = n // world
    return perm[rank * per_rank : (rank + 1) * per_rank]


def per_worker_batch(global_batch: int, world: int) -> int:
    """The suite's batch_size is global (constant across worker counts), split evenly over the workers."""
    return max(1, global_batch // world)


class WorkerSession:
    """One worker's view of the run: rank, timings, peak memory, and the channel to the launcher."""

    def __init__(self, config: dict[str, Any]) -> None:
        import ray.train

        self.loop_enter_unix = time.time()
        self.config = config
        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world = context.get_world_size()
        self.sink = config["sink"]
        self.rss = RssSampler().start()
        self.first_step_unix: float | None = None
        self.train_start: float | None = None  # perf_counter at the first step
        self.epochs: list[dict[str, Any]] = []

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
        self, epoch: int, train_loss: float, val_loss: float, val_accuracy: float, epoch_s: float, samples: int
    ) -> dict[str, Any]:
        """Record one epoch (rank 0's view); ``epoch_s`` covers the training steps only, not validation."""
        record = {
            "epoch": epoch,
            "train_loss": float(train_loss),
            "eval_loss": float(val_loss),
            "accuracy": float(val_accuracy),
            "epoch_s": float(epoch_s),
            "elapsed_s": self.elapsed_s(),
            "samples_per_s": samples / epoch_s if epoch_s > 0 else None,
            "end_unix": time.time(),
        }
        self.epochs.append(record)
        if self.is_chief:
            self.sink.put_epoch.remote(record)  # fire and forget: progress must not slow training
        return record

    def finish(self, replicas: int) -> dict[str, Any]:
        """Send this worker's timings and peak memory to the launcher; returns rank 0's summary.

        ``replicas`` is the framework's own count of data-parallel replicas (DDP world size,
        ``num_replicas_in_sync``): proof that training really ran data-parallel.
        """
        import ray

        peak = self.rss.stop()
        probe = {
            "rank": self.rank,
            "replicas": int(replicas),
            "node_id": ray.get_runtime_context().get_node_id(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "peak_rss_mb": peak,
            "rss_samples": self.rss.samples,
            "loop_enter_unix": self.loop_enter_unix,
            "first_step_unix": self.first_step_unix,
            "loop_exit_unix": time.time(),
        }
        ray.get(self.sink.put_probe.remote(probe))
        return {"epochs": self.epochs, **probe}


def val_batches(x: np.ndarray, batch: int = 512):
    for start in range(0, len(x), batch):
        yield start, x[start : start + batch]
