"""train: fit the model with Ray Train (TorchTrainer / TensorflowTrainer) and time every phase of it."""

from __future__ import annotations

from typing import Any

import ray

from raylife.stages.cluster import data_config
from raylife.stages.context import TrialContext


def loop_config(ctx: TrialContext, split: str, epochs: int, init_checkpoint: str | None) -> dict[str, Any]:
    """The plain dict every training worker receives (the launcher adds the ``sink`` handle)."""
    t = ctx.trial
    return {
        **data_config(ctx.params),
        "split": split,
        "epochs": epochs,
        "batch_size": t.batch_size,
        "learning_rate": t.learning_rate,
        "builder": t.builder,
        "model": t.model,
        "model_options": dict(t.model_options),
        "framework": t.framework,
        "model_args": dict(t.model_args),
        "init_checkpoint": init_checkpoint,
        "threads": ctx.threads,
    }


def run_training(ctx: TrialContext, phase: str, split: str, epochs: int, init_checkpoint: str | None) -> dict[str, Any]:
    """Run one Ray Train fit through the trial's launcher, reporting epochs as progress."""
    t = ctx.trial
    launcher = ctx.launcher()
    resources = {"num_workers": t.num_workers, "cpus_per_worker": t.cpus_per_worker, "use_gpu": t.device == "gpu"}
    ctx.on_progress(f"starting {t.num_workers} worker{'s' if t.num_workers > 1 else ''}")
    ref = launcher.fit.remote(
        loop_config(ctx, split, epochs, init_checkpoint), resources, str(ctx.storage_dir), phase, ctx.extra_env()
    )

    def poll() -> None:
        progress = ray.get(launcher.progress.remote(), timeout=10)
        last = progress["last"]
        if last:
            ctx.on_progress(f"epoch {progress['epochs_done']}/{epochs} · val acc {last['accuracy']:.3f}")

    out = ctx.wait(ref, f"{phase} of {t.name}", poll)
    if not out["checkpoint"]:
        raise RuntimeError(f"{phase} finished without a checkpoint")
    ctx.record.add_epochs(phase, out["epochs"])
    return out


def record_training(ctx: TrialContext, stage: str, prefix: str, out: dict[str, Any]) -> None:
    """Split the fit's wall time into worker start, loop setup, compute and teardown.

    Instants cross processes, so they use wall-clock time from the launcher and the workers (one host,
    or NTP-synchronised hosts on a real cluster).
    """
    add = ctx.record.add
    epochs, probes = out["epochs"], out["probes"]
    fit_start, fit_end = out["fit_start_unix"], out["fit_end_unix"]
    first_steps = [p["first_step_unix"] for p in probes if p["first_step_unix"]]
    first_step = min(first_steps) if first_steps else None
    loop_enter = min(p["loop_enter_unix"] for p in probes) if probes else None
    loop_exit = max(p["loop_exit_unix"] for p in probes) if probes else None
    compute_s = sum(e["epoch_s"] for e in epochs)
    samples = sum((e["samples_per_s"] or 0) * e["epoch_s"] for e in epochs)

    add(stage, f"{prefix}_wall_s", fit_end - fit_start, "s")
    add(stage, f"{prefix}_setup_s", first_step - fit_start if first_step else None, "s")
    add(stage, f"{prefix}_worker_start_s", loop_enter - fit_start if loop_enter else None, "s")
    add(stage, f"{prefix}_loop_setup_s", first_step - loop_enter if first_step and loop_enter else None, "s")
    add(stage, f"{prefix}_compute_s", compute_s, "s")
    add(stage, f"{prefix}_teardown_s", fit_end - loop_exit if loop_exit else None, "s")
    add(stage, f"{prefix}_samples_per_s", samples / compute_s if compute_s else None, "samples/s")
    add(stage, "epoch_s", compute_s / len(epochs) if epochs else None, "s")
    add(stage, "epochs", len(epochs), "count")
    if epochs:
        add(stage, "final_loss", epochs[-1]["train_loss"], "loss")
        add(stage, "val_accuracy", epochs[-1]["accuracy"], "ratio")
    add(stage, f"{prefix}_peak_rss_mb", max((p["peak_rss_mb"] for p in probes), default=None), "MiB")
    add(stage, f"{prefix}_replicas", min((p["replicas"] for p in probes), default=None), "count")
    add(stage, f"{prefix}_nodes", len({p["node_id"] for p in probes}), "count")
    for p in probes:
        add(stage, "worker_peak_rss_mb", p["peak_rss_mb"], "MiB", rank=p["rank"], hostname=p["hostname"], node_id=p["node_id"])


class TrainStage:
    name = "train"

    def run(self, ctx: TrialContext) -> None:
        t = ctx.trial
        out = run_training(ctx, "train", "train", t.epochs, None)
        ctx.artifacts["checkpoint"] = out["checkpoint"]
        record_training(ctx, self.name, "train", out)
        if t.target_accuracy is not None and t.measures_quality:
            first_step = min((p["first_step_unix"] for p in out["probes"] if p["first_step_unix"]), default=None)
            reached = next((e for e in out["epochs"] if e["accuracy"] >= t.target_accuracy), None)
            # From the fit() call, setup included: the time a user waits for a model this good.
            value = reached["end_unix"] - out["fit_start_unix"] if reached and first_step else None
            ctx.record.add(
                self.name, "time_to_target_s", value, "s",
                target_accuracy=t.target_accuracy, epoch=reached["epoch"] if reached else None,
            )
