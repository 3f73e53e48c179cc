"""Code that runs inside the Ray cluster on behalf of the stages: the trial's own actor, which launches Ray Train
fits and, between them, evaluates, persists and prepares serving data. Frameworks are imported here, never on
the driver."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray

from raylife.frameworks import FRAMEWORKS
from raylife.frameworks.backend import directory_bytes, read_recipe
from raylife.frameworks.worker import load_splits
from raylife.measure.environment import fingerprint
from raylife.measure.quality import classification_quality, majority_baseline
from raylife.measure.timing import timed
from raylife.workloads import Splits

# Train v2 reads these in the process that calls fit() and passes them to its controller and workers.
# Polling at 0.2 s instead of 2 s and skipping the preemption watcher and state reconciliation cut
# teardown from ~4.8 s to ~0.5 s on a 2-core machine (shared/RAY_NOTES.md) without changing training.
TRAIN_ENV_VARS = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_STATE_ACTOR_RECONCILIATION": "0",
}


class TrainLauncher:
    """The trial's own process: calls ``trainer.fit()`` and collects what its workers report, and between fits
    evaluates, persists and prepares serving data with the framework it has already imported.

    An actor with 0 CPUs (during a fit it only waits) and max_concurrency > 1, so workers can push epoch records
    and per-worker probes to it while ``fit`` blocks; the driver polls ``progress`` the same way. Running fit here,
    not in the driver, keeps torch/TensorFlow out of the driver and lets each framework's process environment
    (TF_USE_LEGACY_KERAS) be set from process start. Evaluating here, rather than in a task of its own, saves a
    process start, a framework import and a data load per trial (~7 s of an 8 s evaluate stage on 2 cores); it
    computes only while no fit runs, with the trial's per-worker thread count.
    """

    def __init__(self, framework: str, threads: int = 1) -> None:
        self.framework = FRAMEWORKS.get(framework)
        self.backend = self.framework.load_backend()
        self.backend.set_threads(threads)  # first, before TensorFlow's runtime starts and fixes its thread pools
        self.epochs: list[dict[str, Any]] = []
        self.probes: list[dict[str, Any]] = []
        self._splits: tuple[str, Splits] | None = None

    def splits(self, params: dict[str, Any]) -> Splits:
        """The trial's data, loaded once (seeded: the same rows as every worker's)."""
        config = data_config(params)
        key = repr(sorted(config.items(), key=str))
        if self._splits is None or self._splits[0] != key:
            self._splits = (key, load_splits(config))
        return self._splits[1]

    def evaluate(self, params: dict[str, Any], checkpoint: str) -> dict[str, Any]:
        return evaluate_checkpoint(self.backend, params, checkpoint, self.splits(params))

    def persist(self, params: dict[str, Any], checkpoint: str, formats: list[str], out_dir: str) -> list[dict[str, Any]]:
        return persist_formats(self.framework, self.backend, checkpoint, formats, out_dir, self.splits(params))

    def serving_data(self, params: dict[str, Any], fmt: str, model_dir: str) -> dict[str, Any]:
        return serving_data(self.backend, fmt, model_dir, self.splits(params))

    def put_epoch(self, record: dict[str, Any]) -> None:
        self.epochs.append(record)

    def put_probe(self, probe: dict[str, Any]) -> None:
        self.probes.append(probe)

    def progress(self) -> dict[str, Any]:
        return {"epochs_done": len(self.epochs), "last": self.epochs[-1] if self.epochs else None}

    def fit(
        self, config: dict[str, Any], resources: dict[str, Any], storage_path: str, name: str, env_vars: dict[str, str]
    ) -> dict[str, Any]:
        from ray.train import CheckpointConfig, RunConfig, ScalingConfig

        backend = self.backend
        self.epochs, self.probes = [], []
        config = {**config, "sink": ray.get_runtime_context().current_actor}
        scaling = ScalingConfig(
            num_workers=resources["num_workers"],
            use_gpu=resources["use_gpu"],
            resources_per_worker={"CPU": resources["cpus_per_worker"], **({"GPU": 1} if resources["use_gpu"] else {})},
        )
        run = RunConfig(
            name=name,
            storage_path=storage_path,
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            worker_runtime_env={"env_vars": {**self.framework.env_vars, **env_vars}},
        )
        trainer = backend.make_trainer(config, scaling, run)
        fit_start = time.time()
        result = trainer.fit()
        fit_end = time.time()
        return {
            "fit_start_unix": fit_start,
            "fit_end_unix": fit_end,
            "checkpoint": result.checkpoint.path if result.checkpoint else None,
            "chief": result.return_value,
            "epochs": list(self.epochs),
            "probes": sorted(self.probes, key=lambda p: p["rank"]),
        }


def data_config(trial_params: dict[str, Any]) -> dict[str, Any]:
    return {
        "workload": trial_params["workload"],
        "data": {
            "dataset": trial_params["dataset"],
            "format": trial_params["data_format"],
            "options": trial_params["data_options"],
        },
        "seed": trial_params["seed"],
    }


def evaluate_checkpoint(backend: Any, params: dict[str, Any], checkpoint: str, splits: Splits) -> dict[str, Any]:
    """Quality of a checkpoint on the held-out test split, plus where it ran."""
    x, y = splits["test"]
    with timed() as load:
        model = backend.load_checkpoint(checkpoint)
    with timed() as predict:
        logits = backend.predict(model, x)
    quality = classification_quality(logits, y)
    if not params["measures_quality"]:
        quality = {name: None for name in quality}  # random inputs: there is nothing to be right about
    return {
        **quality,
        "model_facts": backend.model_facts(model, x[:1]),
        "baseline_accuracy": majority_baseline(splits["train"][1], y),
        "samples": len(y),
        "checkpoint_load_s": load.seconds,
        "predict_s": predict.seconds,
        "split_sizes": splits.sizes(),
        "data_source": splits.source,
        "synthetic_data": splits.synthetic,
        "environment": fingerprint(),
    }


def persist_formats(
    info: Any, backend: Any, checkpoint: str, formats: list[str], out_dir: str, splits: Splits
) -> list[dict[str, Any]]:
    """Save the checkpoint's model in each format, load it back, and check it predicts the same."""
    x, _ = splits["test"]
    sample = np.ascontiguousarray(x[:64])
    model = backend.load_checkpoint(checkpoint)
    recipe = read_recipe(checkpoint)
    reference = backend.predict(model, sample)
    params_count = backend.count_params(model)
    results = []
    for fmt in formats:
        handler = backend.formats[fmt]
        directory = Path(out_dir) / fmt
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        with timed() as save:
            handler.save(model, directory, sample, recipe)
        size = directory_bytes(directory)
        with timed() as load:
            predictor = handler.load(directory)
        with timed() as first:
            predicted = predictor(sample)
        results.append(
            {
                "format": fmt,
                "native": fmt == info.native_format,
                "path": str(directory),
                "save_s": save.seconds,
                "load_s": load.seconds,
                "first_predict_s": first.seconds,
                "bytes": size,
                "params": params_count,
                "roundtrip_max_abs_diff": float(np.abs(np.asarray(predicted) - reference).max()),
            }
        )
    return results


def serving_data(backend: Any, fmt: str, model_dir: str, splits: Splits) -> dict[str, Any]:
    """Held-out inputs for requests, their labels, and the offline predictions of the served format."""
    x, y = splits["test"]
    predictor = backend.formats[fmt].load(Path(model_dir))
    logits = np.concatenate([np.asarray(predictor(x[i : i + 256])) for i in range(0, len(x), 256)])
    return {"x": x, "y": y, "offline_pred": logits.argmax(axis=1)}
