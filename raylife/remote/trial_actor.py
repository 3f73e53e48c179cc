"""The trial's own actor, inside the Ray cluster: it launches the Ray Train fits and, between them, evaluates,
persists and prepares serving data with the framework and the data it has already loaded. Frameworks are imported
here, never on the driver."""

from __future__ import annotations

import math

import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import ray

from raylife.frameworks import FRAMEWORKS, Framework
from raylife.frameworks.backend import Backend, directory_bytes
from raylife.frameworks.contract import CheckpointCost, EpochRecord, FaultEvent, LoopConfig, WorkerProbe
from raylife.frameworks.model import Recipe
from raylife.measure.environment import fingerprint
from raylife.measure.object_store import StoreSampler, StoreUse
from raylife.measure.quality import QualityTally, majority_baseline, unigram_perplexity
from raylife.measure.telemetry import Telemetry
from raylife.measure.timing import timed
from raylife.remote.messages import EvalResult, FitResources, FitResult, IngestFigures, PersistResult, Progress, SavedFormat, ServingData, TokenPrompts
from raylife.artifacts import Copy, Location, fetch, upload
from raylife.workloads import Splits
from raylife.workloads.reference import DataRef

# Train v2 reads these in the process that calls fit() and passes them to its controller and workers.
# Polling at 0.2 s instead of 2 s and skipping the preemption watcher and state reconciliation cut
# teardown from ~4.8 s to ~0.5 s on a 2-core machine (docs/ray-notes.md) without changing training.
TRAIN_ENV_VARS = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_STATE_ACTOR_RECONCILIATION": "0",
}


class TrialActor:
    """The trial's own process: calls ``trainer.fit()`` and collects what its workers report, and between fits
    evaluates, persists and prepares serving data with the framework it has already imported.

    An actor with 0 CPUs (during a fit it only waits) and max_concurrency > 1, so workers can push epoch records
    and per-worker probes to it while ``fit`` blocks; the driver polls ``progress`` the same way. Running fit here,
    not in the driver, keeps torch/TensorFlow out of the driver and lets each framework's process environment
    (TF_USE_LEGACY_KERAS) be set from process start. Evaluating here, rather than in a task of its own, saves a
    process start, a framework import and a data load per trial (~7 s of an 8 s evaluate stage on 2 cores); it
    computes only while no fit runs, with the trial's per-worker thread count.
    """

    def __init__(self, framework: str, threads: int = 1, device: str = "cpu", precision: str = "fp32") -> None:
        self.framework: Framework = FRAMEWORKS.get(framework)
        self.backend: Backend = self.framework.load_backend()
        self.backend.set_threads(threads)  # first, before TensorFlow's runtime starts and fixes its thread pools
        # A GPU trial scores and reloads its model on the GPU when this process sees one (it reserves none: the
        # fits need every GPU); where it does not, on the CPU — and every result says which (label `device`).
        self.device = "gpu" if device == "gpu" and self.backend.gpu_visible() else "cpu"
        self.precision = precision
        self.epochs: list[EpochRecord] = []
        self.probes: list[WorkerProbe] = []
        self.faults: list[FaultEvent] = []
        self.checkpoints: list[CheckpointCost] = []
        self._splits: tuple[DataRef, Splits] | None = None
        self._copies: dict[str, Copy] = {}  # object-store folder → its copy on this node

    def local(self, location: str) -> Copy:
        """A folder of the trial's storage on this node's disk; copied down once (the checkpoint serves evaluate
        and persist, the saved format persist and serving data)."""
        if location not in self._copies:
            self._copies[location] = fetch(location)
        return self._copies[location]

    def discard_copies(self) -> None:
        """Remove what ``local`` copied down (the trial's end; the folders stay in the object store)."""
        for copy in self._copies.values():
            if copy.copied:
                shutil.rmtree(copy.local, ignore_errors=True)
        self._copies.clear()

    def ready(self) -> None:
        """Answers once the constructor (the framework's import) has run: the driver times the actor's start."""

    def splits(self, data: DataRef) -> Splits:
        """The trial's data, loaded once (seeded: the same rows as every worker's)."""
        if self._splits is None or self._splits[0] != data:
            self._splits = (data, data.load())
        return self._splits[1]

    def _timed_splits(self, data: DataRef) -> tuple[Splits, float | None]:
        """The splits, and how long loading them took when this call loaded them (a named part of the stage)."""
        loaded = self._splits is not None and self._splits[0] == data
        with timed() as load:
            splits = self.splits(data)
        return splits, None if loaded else load.seconds

    def evaluate(self, data: DataRef, checkpoint: str, measures_quality: bool) -> EvalResult:
        copy = self.local(checkpoint)
        splits, data_load_s = self._timed_splits(data)
        meter = Telemetry(gpu=self.device == "gpu").start()
        try:
            result = evaluate_checkpoint(self.backend, str(copy.local), splits, measures_quality, self.device)
        except Exception as exc:
            raise named_bad_file(splits) or exc from exc
        return replace(result, fetch_s=copy.seconds if copy.copied else None, telemetry=meter.stop(),
                       data_load_s=data_load_s)

    def persist(self, data: DataRef, checkpoint: str, formats: list[str], out_dir: str) -> PersistResult:
        """Save next to the checkpoint's copy on this node, then (object store) copy each format's folder up."""
        target = Location.parse(out_dir)
        local_dir = Path(tempfile.mkdtemp(prefix="raylife-saved-")) if target.remote else None
        splits, data_load_s = self._timed_splits(data)
        result = persist_formats(self.framework, self.backend, str(self.local(checkpoint).local), formats,
                                 str(local_dir or target.uri), splits, self.device, self.precision)
        result = replace(result, data_load_s=data_load_s)
        if local_dir is None:
            return result
        uploaded = []
        for r in result.formats:
            where = target.child(r.format).uri
            sent = upload(Path(r.path), where)
            self._copies[where] = Copy(Path(r.path), 0.0, sent.bytes, copied=True)  # serving data reads it here
            uploaded.append(replace(r, path=where, upload_s=sent.seconds))
        self._copies[f"scratch:{local_dir}"] = Copy(local_dir, 0.0, 0, copied=True)
        return replace(result, formats=tuple(uploaded))

    def serving_data(self, data: DataRef, fmt: str, model_dir: str) -> ServingData:
        return serving_data(self.backend, fmt, str(self.local(model_dir).local), self.splits(data), self.device,
                            self.precision)

    def token_prompts(self, data: DataRef, model_dir: str, prompt_tokens: int, max_tokens: int,
                      count: int) -> TokenPrompts:
        """Up to ``count`` held-out rows cut to ``prompt_tokens``, and the saved decoder's own greedy answer to the
        first (the served tokens are checked against it)."""
        from raylife.workloads.generative.generate import greedy_torch

        x, _ = self.splits(data).head("test", count)
        prompts = tuple(tuple(int(i) for i in row[:prompt_tokens]) for row in np.asarray(x))
        model = self.backend.load_checkpoint(self.local(model_dir).local)
        started = time.perf_counter()
        first = tuple(int(t.ids[0]) for t in greedy_torch(model, np.asarray(prompts[:1]), max_tokens))
        return TokenPrompts(prompts=prompts, offline_first=first, offline_s=time.perf_counter() - started)

    def put_epoch(self, record: EpochRecord) -> None:
        self.epochs.append(record)

    def put_probe(self, probe: WorkerProbe) -> None:
        self.probes.append(probe)

    def put_checkpoint(self, cost: CheckpointCost) -> None:
        self.checkpoints.append(cost)

    def claim_fault(self, event: FaultEvent) -> bool:
        """True once per fit: the worker that asks first dies; a restarted one finds the fault already spent."""
        if self.faults:
            return False
        self.faults.append(event)
        return True

    def fault_events(self) -> list[FaultEvent]:
        return list(self.faults)

    def progress(self) -> Progress:
        return Progress(len(self.epochs), self.epochs[-1] if self.epochs else None)

    def fit(
        self, loop: LoopConfig, resources: FitResources, storage_path: str, name: str, env_vars: dict[str, str]
    ) -> FitResult:
        from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

        self.epochs, self.probes, self.faults, self.checkpoints = [], [], [], []
        loop = replace(loop, sink=ray.get_runtime_context().current_actor)
        scaling = ScalingConfig(
            num_workers=resources.num_workers,
            use_gpu=resources.use_gpu,
            resources_per_worker=resources.per_worker(),
            label_selector=dict(resources.labels) or None,
        )
        run = RunConfig(
            name=name,
            storage_path=storage_path,
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            failure_config=FailureConfig(max_failures=resources.max_failures),
            worker_runtime_env={"env_vars": {**self.framework.env_vars, **env_vars}},
        )
        datasets, ingest, sampler = None, None, None
        try:
            if loop.streamed:  # the files stream through Ray Data to the workers' shards
                splits = self.splits(loop.data)
                datasets = {"train": splits.dataset(loop.split), "val": splits.dataset("val")}
                ingest = probe_ingest(splits.dataset(loop.split), loop.batch_size)
                sampler = StoreSampler().start()
            trainer = self.backend.make_trainer({"loop": loop}, scaling, run, datasets)
            fit_start = time.time()
            result = trainer.fit()
            fit_end = time.time()
        except Exception as exc:
            raise (named_bad_file(self.splits(loop.data)) if loop.streamed else None) or exc from exc
        finally:
            store = sampler.stop() if sampler is not None else None
        if ingest is not None:
            splits = self.splits(loop.data)
            ingest = replace(ingest, skipped=tuple(splits.bad_files()), ignored=tuple(getattr(splits, "ignored", ())))
        return FitResult(
            fit_start_unix=fit_start,
            fit_end_unix=fit_end,
            # a URI when the storage is an object store (Ray Train returns the path inside its filesystem)
            checkpoint=Location.parse(storage_path).within(result.checkpoint.path).uri if result.checkpoint else None,
            epochs=tuple(self.epochs),
            probes=tuple(sorted(self.probes, key=lambda p: p.rank)),
            faults=tuple(self.faults),
            checkpoints=tuple(self.checkpoints),
            ingest=replace(ingest, store=store) if ingest is not None else None,
        )


# Rows the ingest probe reads at most, and for how long: enough batches for a steady rate, a bounded cost.
PROBE_ROWS, PROBE_S = 2048, 10.0


def probe_ingest(dataset: Any, batch: int) -> IngestFigures:
    """The pipeline alone, before the fit: rows per second after its first batch (read, decode, resize; no model)."""
    start = time.perf_counter()
    first, rows, first_rows = None, 0, 0
    for rows_batch in dataset.iter_batches(batch_size=max(1, batch), batch_format="numpy"):
        rows += len(rows_batch["y"])
        now = time.perf_counter()
        if first is None:
            first, first_rows = now, rows
        if rows >= PROBE_ROWS or now - start >= PROBE_S:
            break
    end = time.perf_counter()
    steady = rows - first_rows, end - (first or end)
    samples, seconds = steady if steady[0] > 0 and steady[1] > 0 else (rows, end - start)
    return IngestFigures(probe_samples=samples, probe_s=seconds, probe_wall_s=end - start, store=StoreUse())


def named_bad_file(splits: Splits) -> Exception | None:
    """The first file the splits' pipelines could not decode, as one DataError (``on_bad_file = "fail"``), read from
    the ledger the decode step reported to: never from the text Ray Data and Ray Train wrap around the failure."""
    return splits.bad_file_error() if splits.streamed and hasattr(splits, "bad_file_error") else None


# Rows evaluate predicts on random inputs (an offline throughput; no quality is stored), and rows the persist stage's
# round trip compares: a save that breaks the model changes every row, so a few batches' worth make the check sound.
RANDOM_EVAL_ROWS, ROUNDTRIP_ROWS = 32, 16


def evaluate_checkpoint(
    backend: Backend, checkpoint: str, splits: Splits, measures_quality: bool, device: str = "cpu"
) -> EvalResult:
    """Quality of a checkpoint on the held-out test split, plus where it ran (a streamed split batch by batch)."""
    with timed() as load:
        model = backend.to_device(backend.load_checkpoint(checkpoint), device)
    sequences = splits.facts.sequence_targets
    # a decoder's logits are positions x vocabulary per row: batches of about 4M of them
    rows = max(1, 4_000_000 // (splits.facts.input_shape[0] * splits.num_classes)) if sequences else 256
    tally, labels = QualityTally(), []
    with timed() as predict:
        if not measures_quality:  # random inputs: nothing to be right about; a few batches time the prediction
            batches = [splits.head("test", RANDOM_EVAL_ROWS)]
        else:
            batches = splits.batches("test", rows)
        for xb, yb in batches:
            tally.add(backend.predict(model, xb, batch_size=rows), yb)
            labels.append(np.asarray(yb))
    y = np.concatenate(labels)
    quality = tally.result() if measures_quality else {"accuracy": None, "eval_loss": None}
    with timed() as counting:
        facts = backend.model_facts(model, splits.head("test", 1)[0])
    return EvalResult(
        accuracy=quality["accuracy"],
        eval_loss=quality["eval_loss"],
        top5_accuracy=quality.get("top5_accuracy"),
        model_facts=facts,
        model_facts_s=counting.seconds,
        baseline_accuracy=majority_baseline(splits.labels("train"), y),
        samples=len(y),
        perplexity=math.exp(quality["eval_loss"]) if sequences and quality["eval_loss"] is not None else None,
        baseline_perplexity=(unigram_perplexity(splits.labels("train"), y, splits.num_classes)
                             if sequences and measures_quality else None),
        tokens=int(y.size) if sequences else None,
        checkpoint_load_s=load.seconds,
        predict_s=predict.seconds,
        split_sizes=splits.sizes(),
        data_source=splits.source,
        synthetic_data=splits.synthetic,
        environment=fingerprint(),
        device=device,
    )


def persist_formats(
    info: Framework, backend: Backend, checkpoint: str, formats: list[str], out_dir: str, splits: Splits,
    device: str = "cpu", precision: str = "fp32",
) -> PersistResult:
    """Save the checkpoint's model in each format, load it back, and check it predicts the same."""
    sample = splits.head("test", ROUNDTRIP_ROWS)[0]
    with timed() as restore:
        model = backend.load_checkpoint(checkpoint)
    recipe = Recipe.read(checkpoint)
    with timed() as reference_predict:
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
            predictor = handler.load(directory, device, precision)
        with timed() as first:
            predicted = predictor(sample)
        results.append(
            SavedFormat(
                format=fmt,
                native=fmt == info.native_format,
                path=str(directory),
                save_s=save.seconds,
                load_s=load.seconds,
                first_predict_s=first.seconds,
                bytes=size,
                params=params_count,
                roundtrip_max_abs_diff=float(np.abs(np.asarray(predicted) - reference).max()),
                device=device,
            )
        )
    return PersistResult(formats=tuple(results), checkpoint_load_s=restore.seconds,
                         reference_predict_s=reference_predict.seconds)


def serving_data(
    backend: Backend, fmt: str, model_dir: str, splits: Splits, device: str = "cpu", precision: str = "fp32"
) -> ServingData:
    """Held-out inputs for requests, their labels, and the offline predictions of the served format (of a streamed
    split, its first rows: ``FileSplits.head``'s budget)."""
    x, y = splits.head("test", len(splits.labels("test"))) if splits.streamed else splits["test"]
    predictor = backend.formats[fmt].load(Path(model_dir), device, precision)
    logits = np.concatenate([np.asarray(predictor(x[i : i + 256])) for i in range(0, len(x), 256)])
    return ServingData(x=x, y=y, offline_pred=logits.argmax(axis=1))
