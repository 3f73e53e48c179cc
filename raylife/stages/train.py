"""train: fit the model with Ray Train (TorchTrainer / TensorflowTrainer) and time every phase of it."""

from __future__ import annotations

from typing import Any

import ray

from raylife.errors import RaylifeError
from raylife.frameworks.contract import FaultEvent, FaultPlan, LoopConfig, WorkerProbe
from raylife.remote.messages import FitResources, FitResult
from raylife.stages.context import TrialContext


class FitFailed(RaylifeError):
    """A Ray Train fit failed for a reason raylife knows (an injected fault past max_failures)."""


def loop_config(
    ctx: TrialContext, split: str, epochs: int, init_checkpoint: str | None, fault: FaultPlan | None = None
) -> LoopConfig:
    """What every training worker receives (the trial's actor adds its own handle as the ``sink``)."""
    t = ctx.trial
    return LoopConfig(
        data=t.data,
        split=split,
        epochs=epochs,
        batch_size=t.batch_size,
        learning_rate=t.learning_rate,
        builder=t.builder,
        model=t.model,
        framework=t.framework,
        model_options=dict(t.model_options),
        model_args=dict(t.model_args),
        init_checkpoint=init_checkpoint,
        init_weights=t.weights if split == "train" else None,  # retraining starts from the trained checkpoint
        threads=ctx.threads,
        precision=t.precision,
        device=t.device,
        checkpoint_every_epoch=t.max_failures > 0,  # without one, a restarted worker group starts from scratch
        checkpoint_upload=t.checkpoint_upload,
        fault=fault,
        steps=t.steps if split == "train" else None,  # retraining runs retrain_epochs
        streamed=t.streamed,
    )


def fit_resources(ctx: TrialContext) -> FitResources:
    t = ctx.trial
    return FitResources(
        num_workers=t.num_workers, cpus_per_worker=t.cpus_per_worker, use_gpu=t.device == "gpu",
        custom=dict(t.platform_resources), labels=dict(t.platform_labels), max_failures=t.max_failures,
    )


def run_training(
    ctx: TrialContext, phase: str, split: str, epochs: int, init_checkpoint: str | None, fault: FaultPlan | None = None
) -> FitResult:
    """Run one Ray Train fit through the trial's actor, reporting epochs as progress."""
    t = ctx.trial
    actor = ctx.trial_actor()
    ctx.on_progress(f"starting {t.num_workers} worker{'s' if t.num_workers > 1 else ''}")
    ref = actor.fit.remote(
        loop_config(ctx, split, epochs, init_checkpoint, fault), fit_resources(ctx), ctx.storage.uri, phase,
        ctx.extra_env(),
    )

    # Progress is best effort and never blocks: the actor may still be importing its framework (seconds on a loaded
    # machine, while the first fit queues behind its constructor), so a poll only reads an answer that has arrived
    # and otherwise leaves the question pending. A slow answer must not fail a trial whose fit is fine.
    pending: list[ray.ObjectRef] = []  # at most one unanswered progress call

    def poll() -> None:
        if pending:
            ready, _ = ray.wait(pending, timeout=0)
            if not ready:
                return
            try:
                progress = ray.get(pending.pop())
            except Exception:  # noqa: BLE001 - the actor's death reaches us through the fit's own result
                return
            if progress.last:
                ctx.on_progress(f"epoch {progress.epochs_done}/{epochs} · val acc {progress.last.accuracy:.3f}")
        pending.append(actor.progress.remote())

    try:
        out: FitResult = ctx.wait(ref, f"{phase} of {t.name}", poll)
    except Exception as exc:
        faults = _fault_events(actor) if fault is not None else []
        if faults:
            raise FitFailed(
                f"{phase} failed after the injected worker failure in epoch {faults[0].epoch + 1} (rank {faults[0].rank}): "
                f"train.max_failures = {t.max_failures} allows {'no restart' if t.max_failures == 0 else f'{t.max_failures} restarts'}"
                f" ({type(exc).__name__})",
                hint="raise train.max_failures to measure recovery",
            ) from exc
        raise
    if not out.checkpoint:
        raise RuntimeError(f"{phase} finished without a checkpoint")
    ctx.record.add_epochs(phase, out.epochs)
    return out


def _fault_events(actor: Any) -> list[FaultEvent]:
    """The injected faults the actor saw; none when it cannot say (its own failure must not hide the fit's)."""
    try:
        return ray.get(actor.fault_events.remote(), timeout=30)
    except Exception:  # noqa: BLE001 - the fit's exception is the one to report
        return []


def record_training(ctx: TrialContext, stage: str, prefix: str, out: FitResult) -> None:
    """Split the fit's wall time into worker start, loop setup, compute and teardown.

    Instants cross processes, so they use wall-clock time from the trial's actor and the workers (one host,
    or NTP-synchronised hosts on a real cluster).
    """
    add = ctx.record.add
    epochs, probes = out.epochs, out.probes
    fit_start, fit_end = out.fit_start_unix, out.fit_end_unix
    first_step, loop_enter, loop_exit = out.first_step_unix, out.loop_enter_unix, out.loop_exit_unix
    compute_s = sum(e.epoch_s for e in epochs)
    samples = sum((e.samples_per_s or 0) * e.epoch_s for e in epochs)

    add(stage, f"{prefix}_wall_s", fit_end - fit_start, "s")
    add(stage, f"{prefix}_setup_s", first_step - fit_start if first_step else None, "s")
    add(stage, f"{prefix}_worker_start_s", loop_enter - fit_start if loop_enter else None, "s")
    add(stage, f"{prefix}_loop_setup_s", first_step - loop_enter if first_step and loop_enter else None, "s")
    add(stage, f"{prefix}_compute_s", compute_s, "s")
    add(stage, f"{prefix}_teardown_s", fit_end - loop_exit if loop_exit else None, "s")
    add(stage, f"{prefix}_samples_per_s", samples / compute_s if compute_s else None, "samples/s")
    if ctx.trial.tokens_per_sample:  # a decoder: every row is tokens_per_sample next-token predictions
        tokens = samples * ctx.trial.tokens_per_sample
        add(stage, f"{prefix}_tokens_per_s", tokens / compute_s if compute_s else None, "tokens/s")
    add(stage, "epoch_s", compute_s / len(epochs) if epochs else None, "s")
    add(stage, "epochs", len(epochs), "count")
    rank0 = next((p for p in probes if p.rank == 0), None)
    if rank0 is not None and rank0.restore_s is not None:  # the fit started from a checkpoint (retrain)
        add(stage, "restore_s", rank0.restore_s, "s")
    for checkpoint in out.checkpoints:
        add(stage, "checkpoint_bytes", checkpoint.bytes, "bytes", epoch=checkpoint.epoch)
        add(stage, "checkpoint_stall_s", checkpoint.stall_s, "s", epoch=checkpoint.epoch)
    if epochs:
        add(stage, "final_loss", epochs[-1].train_loss, "loss")
        add(stage, "val_accuracy", epochs[-1].accuracy, "ratio")
    record_ingest(ctx, stage, out)
    add(stage, f"{prefix}_peak_rss_mb", max((p.peak_rss_mb for p in probes if p.peak_rss_mb is not None), default=None), "MiB")
    add(stage, f"{prefix}_replicas", min((p.replicas for p in probes), default=None), "count")
    add(stage, f"{prefix}_nodes", len({p.node_id for p in probes}), "count")
    for p in probes:
        add(stage, "worker_peak_rss_mb", p.peak_rss_mb, "MiB", rank=p.rank, hostname=p.hostname, node_id=p.node_id)
        add(stage, "worker_peak_private_mb", p.peak_private_mb, "MiB", rank=p.rank, node_id=p.node_id)
        ctx.record.add_placement(stage, "train_worker", p.rank, p.node_id, p.environment)
    record_telemetry(ctx, stage, prefix, probes)


def record_ingest(ctx: TrialContext, stage: str, out: FitResult) -> None:
    """Data streamed through Ray Data: the pipeline's own rate, rank 0's first batch and waits, the object store."""
    if out.ingest is None:
        return
    add, ingest = ctx.record.add, out.ingest
    add(stage, "ingest_probe_s", ingest.probe_wall_s, "s")
    add(stage, "ingest_samples_per_s", ingest.samples_per_s, "samples/s", samples=ingest.probe_samples)
    add(stage, "files_skipped", len(ingest.skipped), "count", files=[b.path for b in ingest.skipped],
        reasons=[b.reason for b in ingest.skipped])
    add(stage, "files_ignored", len(ingest.ignored), "count", files=list(ingest.ignored))
    rank0 = next((p for p in out.probes if p.rank == 0), None)
    add(stage, "time_to_first_batch_s", rank0.first_batch_s if rank0 else None, "s")
    waits = [e.data_wait_s for e in out.epochs if e.data_wait_s is not None]
    compute = sum(e.epoch_s for e in out.epochs if e.data_wait_s is not None)
    add(stage, "data_wait_pct", 100.0 * sum(waits) / compute if waits and compute > 0 else None, "%")
    store = ingest.store
    reason = {"reason": store.missing} if store.missing else {}
    add(stage, "object_store_peak_bytes", store.peak_bytes, "bytes", **reason)
    add(stage, "object_store_spilled_bytes", store.spilled_bytes, "bytes", **reason)


def _total(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) if got else None


def record_telemetry(ctx: TrialContext, stage: str, prefix: str, probes: tuple[WorkerProbe, ...]) -> None:
    """Energy and GPU counters of the fit; what the hardware did not tell is recorded once per trial, with why."""
    add = ctx.record.add
    per_node = {p.node_id: p.telemetry for p in probes}  # RAPL counts a whole package: one reading per node
    readings = [p.telemetry for p in probes]
    add(stage, f"{prefix}_cpu_energy_j", _total([r.cpu_energy_j for r in per_node.values()]), "J")
    if ctx.trial.device == "gpu":
        add(stage, f"{prefix}_gpu_energy_j", _total([r.gpu_energy_j for r in readings]), "J")
        utils = [r.gpu_util_mean_pct for r in readings if r.gpu_util_mean_pct is not None]
        power = [r.gpu_power_mean_w for r in readings if r.gpu_power_mean_w is not None]
        add(stage, f"{prefix}_gpu_util_pct", sum(utils) / len(utils) if utils else None, "%")
        add(stage, f"{prefix}_gpu_power_w", sum(power) / len(power) if power else None, "W")
        add(stage, f"{prefix}_gpu_mem_peak_mb", max((r.gpu_mem_peak_mb for r in readings if r.gpu_mem_peak_mb is not None),
                                                   default=None), "MiB")
    if stage == "train":
        missing = {what: why for r in readings for what, why in r.missing.items()}
        for what, why in sorted(missing.items()):
            add(stage, "telemetry_unavailable", 1, "count", what=what, reason=why)


def record_faults(ctx: TrialContext, stage: str, out: FitResult) -> None:
    """What an injected worker failure cost: how long until training ran again, and the work it threw away."""
    add = ctx.record.add
    add(stage, "failures", len(out.faults), "count")
    for fault in out.faults:
        # The probes are the restarted workers' (the dead group never reported): their first step is recovery.
        first_step, resumed = out.first_step_unix, min((p.resumed_from_epoch for p in out.probes), default=0)
        add(stage, "recovery_s", first_step - fault.killed_unix if first_step else None, "s",
            rank=fault.rank, epoch=fault.epoch + 1)
        add(stage, "epochs_lost", fault.progress - resumed, "epochs", rank=fault.rank, resumed_from_epoch=resumed)


class TrainStage:
    name = "train"

    def run(self, ctx: TrialContext) -> None:
        t = ctx.trial
        fault = None
        if t.faults is not None and t.faults.kill_worker_at_epoch is not None:
            fault = FaultPlan(epoch=t.faults.kill_worker_at_epoch, rank=t.faults.kill_worker_rank)
        out = run_training(ctx, "train", "train", t.epochs, None, fault)
        ctx.artifacts.checkpoint = out.checkpoint
        record_training(ctx, self.name, "train", out)
        if fault is not None:
            record_faults(ctx, self.name, out)
        if t.target_accuracy is not None and t.measures_quality:
            reached = next((e for e in out.epochs if e.accuracy >= t.target_accuracy), None)
            # From the fit() call, setup included: the time a user waits for a model this good.
            value = reached.end_unix - out.fit_start_unix if reached and out.first_step_unix else None
            ctx.record.add(
                self.name, "time_to_target_s", value, "s",
                target_accuracy=t.target_accuracy, epoch=reached.epoch if reached else None,
            )
