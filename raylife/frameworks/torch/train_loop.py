"""The PyTorch training loop, run by every Ray Train worker (DDP when there are 2+ workers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from raylife.frameworks.contract import WorkerProbe
from raylife.frameworks.torch.backend import TorchBackend, autocast
from raylife.frameworks.weights import local_weights
from raylife.frameworks.worker import (
    WorkerSession,
    epoch_order,
    local_checkpoint,
    loop_of,
    make_recipe,
    per_worker_batch,
    resume_checkpoint,
    shard_passes,
    steps_order,
    val_batches,
)


def flat(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A decoder's logits (batch, positions, vocabulary) and labels (batch, positions) as one row per prediction, the
    layout cross-entropy takes; a classifier's pass as they are."""
    if logits.dim() == 3:
        return logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    return logits, labels


def _evaluate(model: nn.Module, batches: Iterable[tuple[Any, Any]], device: torch.device) -> tuple[float, float]:
    """Loss and accuracy over (inputs, labels) batches: numpy arrays or tensors (per prediction: a classifier's per
    sample, a decoder's per token)."""
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    with torch.inference_mode():
        for xb, yb in batches:
            logits, yb = flat(model(torch.as_tensor(xb).to(device)), torch.as_tensor(yb).to(device))
            loss_sum += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
    return loss_sum / max(1, seen), correct / max(1, seen)


def _array_batches(x: np.ndarray, y: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start, xb in val_batches(x):
        yield xb, y[start : start + len(xb)]


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    batch: int,
    device: torch.device,
    precision: str,
    on_step: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, int, float]:
    """One epoch's training steps over ``order`` of in-memory arrays (see ``train_steps``)."""
    batches = ((x[order[i : i + batch]], y[order[i : i + batch]]) for i in range(0, len(order), batch))
    return train_steps(model, optimizer, scaler, batches, device, precision, on_step)


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    batches: Iterable[tuple[Any, Any]],
    device: torch.device,
    precision: str,
    on_step: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, int, float]:
    """Training steps over (inputs, labels) batches, numpy or tensors: (the loss summed over their samples, still on
    the device; samples; seconds of the steps, fetching each batch included). ``on_step(step)`` runs before each step
    (fault injection, the first step's time).

    The loss stays on the device and is read once per epoch: a per-step ``.item()`` is a host sync that stalls a GPU.
    """
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    seen = 0
    start = time.perf_counter()
    for step, (xb, yb) in enumerate(batches):
        if on_step is not None:
            on_step(step)
        xb = torch.as_tensor(xb).to(device)
        yb = torch.as_tensor(yb).to(device)
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, precision):
            loss = nn.functional.cross_entropy(*flat(model(xb).float(), yb))
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        loss_sum.add_(loss.detach(), alpha=len(yb))  # one kernel; float32 into the float64 sum
        seen += len(yb)
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # the epoch ends when its kernels have run, not when they were queued
    return loss_sum, seen, time.perf_counter() - start


@dataclass
class Prepared:
    """What one worker trains with: its data, the (DDP-wrapped) model and its unwrapped module, the optimizer."""

    splits: Any
    recipe: Any
    x_sample: np.ndarray  # what a checkpoint's save traces with
    model: nn.Module
    plain: nn.Module  # the module under DDP's wrapper: what rank 0 validates and saves
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    device: torch.device
    batch: int  # per worker
    distributed: bool
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None  # x, y, x_val, y_val in memory; None: streamed


def _prepare(loop: Any, session: WorkerSession, backend: TorchBackend) -> Prepared:
    import ray.train.torch

    splits = loop.data.load()  # streamed: the lists of files only; the rows come through Ray Data shards
    arrays = None if loop.streamed else (*splits[loop.split], *splits["val"])
    x_sample = splits.head("val", 8)[0]
    recipe = make_recipe(loop, splits)
    resume_dir, session.resumed_from_epoch = resume_checkpoint()  # set when Ray Train restarted the workers
    model = backend.build_model(recipe)
    if resume_dir or loop.init_checkpoint:
        with session.restoring(), local_checkpoint(resume_dir or loop.init_checkpoint) as directory:
            model = backend.load_checkpoint(directory)
    elif loop.init_weights:  # fine-tune from pretrained weights
        with local_weights(loop.init_weights) as path:
            backend.load_weights(model, path)
    device = ray.train.torch.get_device()
    model = ray.train.torch.prepare_model(model)  # moves to device; DDP-wraps when world > 1
    # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none. No scaler at all
    # otherwise: a disabled one still costs three calls per step.
    scaler = torch.amp.GradScaler(device.type) if loop.precision == "fp16" else None
    return Prepared(splits=splits, recipe=recipe, x_sample=x_sample, model=model,
                    plain=model.module if hasattr(model, "module") else model,
                    optimizer=torch.optim.Adam(model.parameters(), lr=loop.learning_rate), scaler=scaler,
                    device=device, batch=per_worker_batch(loop.batch_size, session.world),
                    distributed=session.world > 1 and dist.is_initialized(), arrays=arrays)


def _epoch_batches(loop: Any, session: WorkerSession, run: Prepared, epoch: int, shard: Any) -> tuple[Iterable, int]:
    """This worker's batches of one epoch (its slice of the arrays, or its Ray Data shard) and how many steps."""
    batch = run.batch
    if shard is None:
        x, y = run.arrays[0], run.arrays[1]
        order = (steps_order(len(y), loop.seed, session.rank, session.world, loop.steps, batch) if loop.steps
                 else epoch_order(len(y), loop.seed, epoch, session.rank, session.world))
        return (((x[order[i : i + batch]], y[order[i : i + batch]]) for i in range(0, len(order), batch)),
                session.steps(len(order), batch))
    # Ray Data's equal split gives every worker as many rows; dropping the last partial batch, as many steps
    steps = loop.steps or run.splits.sizes()[loop.split] // session.world // batch
    session.clock.restart()
    batches = session.clock.timed(
        (b["x"], b["y"]) for b in shard_passes(lambda cycle, epoch=epoch: shard.iter_torch_batches(
            batch_size=batch, drop_last=True, device=run.device, local_shuffle_buffer_size=4 * batch,
            local_shuffle_seed=loop.seed * 1000 + epoch * 100 + cycle), loop.steps))
    return batches, steps


def _report_epoch(loop: Any, session: WorkerSession, backend: TorchBackend, run: Prepared, epoch: int,
                  train_loss: float, samples: int, epoch_s: float, streamed: bool) -> None:
    """Rank 0 validates and reports the epoch (with a checkpoint when one is due); the others report their epoch."""
    import ray.train

    if not session.is_chief:
        ray.train.report({"epoch": epoch})
        return
    last = epoch == loop.epochs - 1
    # Only rank 0 validates, on the unwrapped module: DDP's forward may broadcast buffers, a collective the other
    # ranks would never join. Streamed validation batches are the training batch: inference at it needs less memory
    # than the training step did, whereas a fixed 256 rows at 128x128 cost cnn_small ~0.7 GiB of activations.
    val = (_array_batches(run.arrays[2], run.arrays[3]) if not streamed else
           ((b["x"], b["y"]) for b in ray.train.get_dataset_shard("val").iter_torch_batches(batch_size=run.batch)))
    val_loss, val_acc = _evaluate(run.plain, val, run.device)
    record = session.end_epoch(epoch, train_loss, val_loss, val_acc, epoch_s, samples,
                               session.clock.wait_s if streamed else None)
    if last or loop.checkpoint_every_epoch:
        # The last one moves the model to the CPU (it is what every later stage loads); one in the middle leaves it
        # where it trains (the state_dict loads with map_location="cpu").
        session.report_checkpoint(epoch, record.as_report(), lambda directory, last=last: backend.save_checkpoint(
            run.plain.cpu().eval() if last else run.plain, directory, run.x_sample, run.recipe))
    else:
        ray.train.report(record.as_report())


def train_loop(config: dict[str, Any]) -> WorkerProbe:
    import ray.train

    loop = loop_of(config)
    session = WorkerSession(loop)
    backend = TorchBackend()
    backend.set_threads(loop.threads)
    torch.manual_seed(loop.seed)
    run = _prepare(loop, session, backend)
    shard = ray.train.get_dataset_shard("train") if loop.streamed else None
    for epoch in range(session.resumed_from_epoch, loop.epochs):
        batches, steps = _epoch_batches(loop, session, run, epoch, shard)

        def on_step(step: int, epoch: int = epoch, steps: int = steps) -> None:
            session.maybe_fail(epoch, step, steps)
            session.mark_step()

        loss_sum, seen, epoch_s = train_steps(run.model, run.optimizer, run.scaler, batches, run.device,
                                              loop.precision, on_step)
        sums = torch.stack([loss_sum, torch.tensor(float(seen), dtype=torch.float64, device=run.device)])
        if run.distributed:
            dist.all_reduce(sums)  # the loss over every worker's samples, not just rank 0's
        _report_epoch(loop, session, backend, run, epoch, (sums[0] / sums[1]).item(), int(sums[1].item()), epoch_s,
                      shard is not None)
    return session.finish(replicas=dist.get_world_size() if run.distributed else 1)
