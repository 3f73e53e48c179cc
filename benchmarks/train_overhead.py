"""raylife's train stage vs a bare Ray Train fit of the same model, data and epochs, alternating in one process tree.

    python benchmarks/train_overhead.py [--runs 3] [--frameworks torch tensorflow] [--epochs 5] [--loop-only]
                                        [--model cnn_small | resnet50]

Both sides train the same model on the same data with a per-epoch ``ray.train.report`` and a checkpoint at the end,
1 worker, 1 CPU, on one embedded Ray with the same Train environment variables: ``cnn_small`` is the smoke suite's
(digits, batch 32, Adam 0.003); ``resnet50`` is the reference model at 224x224x3 and 1,000 classes on random inputs
generated on demand (64 rows, batch 4, Adam 1e-4). They run alternately (bare, raylife, bare, raylife, ...) so drift
on a shared machine hits both. Printed: the median of each and their ratio for

- ``fit``: the ``fit()`` call itself — raylife's ``train_wall_s`` against the bare fit's; target <= 1.1;
- ``samples/s``: steady-state training throughput (the median epoch but the first, training steps only) — raylife's loop
  against the bare loop; target >= 0.95 (no per-step host sync in raylife's loop);
- ``loop alone`` (PyTorch): the bare epoch and raylife's ``train_epoch`` alternating epoch by epoch in this process
  (no Ray, so no worker or machine drift between the two); target >= 0.95;
- ``stage``: raylife's whole train stage on the driver (its trial actor's start, the fit, collecting the workers'
  reports) against the bare script's ``fit()`` plus its trainer construction.

The bare side is deliberately plain: no raylife code runs in its workers except the data set loader and the model
builder (the same arrays and the same layers, so the comparison is of everything around them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras = tf_keras in this process too, as raylife sets it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from dataclasses import dataclass, field  # noqa: E402

from raylife.remote.trial_actor import TRAIN_ENV_VARS  # noqa: E402 - after the environment above

os.environ.update(TRAIN_ENV_VARS)  # Train v2 reads them in the process that calls fit(): the same for both sides


@dataclass(frozen=True)
class Case:
    """What both sides train: the model, its data, batch and learning rate, and the suite raylife plans it from."""

    model: str
    dataset: str
    batch: int
    lr: float
    suite: str  # TOML text
    options: dict[str, Any] = field(default_factory=dict)

    def splits(self) -> Any:
        from raylife.workloads import WORKLOADS

        return WORKLOADS.get("vision").load_splits(self.dataset, 0, self.options)


RESNET50_OPTIONS = {"shape": [224, 224, 3], "classes": 1000, "samples": 64}
CASES = {
    "cnn_small": Case("cnn_small", "digits", 32, 0.003, (REPO / "suites" / "smoke.toml").read_text()),
    "resnet50": Case("resnet50", "random", 4, 1e-4, """
name = "overhead-resnet50"
workload = "vision"
[data]
dataset = "random"
options = { shape = [224, 224, 3], classes = 1000, samples = 64 }
[[models]]
name = "resnet50"
[train]
batch_size = 4
learning_rate = 0.0001
retrain_epochs = 0
""", RESNET50_OPTIONS),
}


def bare_torch_epoch(model: Any, optimizer: Any, x: Any, y: Any, order: Any, batch: int) -> float:
    """One epoch of the plainest PyTorch loop; returns its seconds."""
    import torch
    from torch import nn

    model.train()
    started = time.perf_counter()
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def torch_loops_in_one_process(case: Case, epochs: int) -> tuple[float, float]:
    """(bare, raylife) steady-state samples/s of the training steps alone, their epochs alternating in this process:
    the bare epoch against raylife's own ``train_epoch`` (the function its Ray Train workers run), on the same model,
    data and batch, one thread each. Alternating epoch by epoch puts both under the same drift of a shared machine."""
    import numpy as np
    import torch

    from raylife.frameworks.torch.train_loop import train_epoch
    from raylife.registry import import_object

    torch.set_num_threads(1)
    splits = case.splits()
    x, y = splits["train"]
    input_shape = x.shape[1:]

    def build() -> tuple[Any, Any]:
        torch.manual_seed(0)
        model = import_object(f"raylife.workloads.vision.torch_models:{case.model}")(input_shape, splits.num_classes)
        return model, torch.optim.Adam(model.parameters(), lr=case.lr)

    (bare_model, bare_opt), (our_model, our_opt) = build(), build()
    device = torch.device("cpu")
    bare_s, our_s = [], []
    for epoch in range(epochs):
        order = np.random.default_rng([0, epoch]).permutation(len(y))
        bare_s.append(bare_torch_epoch(bare_model, bare_opt, x, y, order, case.batch))
        our_s.append(train_epoch(our_model, our_opt, None, x, y, order, case.batch, device, "fp32", lambda step: None)[2])
    return steady_samples_per_s(bare_s, len(y)), steady_samples_per_s(our_s, len(y))


def bare_torch_loop(config: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import ray.train
    import ray.train.torch
    import torch

    from raylife.registry import import_object

    torch.set_num_threads(1)
    torch.manual_seed(0)
    case: Case = config["case"]
    splits = case.splits()
    (x, y), (x_val, y_val) = splits["train"], splits["val"]
    x_val = np.asarray(x_val)
    model = import_object(f"raylife.workloads.vision.torch_models:{case.model}")(splits.input_shape, splits.num_classes)
    model = ray.train.torch.prepare_model(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=case.lr)
    epoch_times = []
    for epoch in range(config["epochs"]):
        epoch_times.append(bare_torch_epoch(model, optimizer, x, y, np.random.default_rng([0, epoch]).permutation(len(y)),
                                            case.batch))
        model.eval()
        with torch.inference_mode():
            accuracy = np.mean([(model(torch.from_numpy(x_val[i:i + 64])).argmax(1).numpy() == y_val[i:i + 64]).mean()
                                for i in range(0, len(y_val), 64)])
        metrics = {"epoch": epoch, "accuracy": float(accuracy)}
        if epoch == config["epochs"] - 1:
            with tempfile.TemporaryDirectory() as tmp:
                torch.save(model.state_dict(), Path(tmp) / "model.pt")
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
        else:
            ray.train.report(metrics)
    return {"epoch_s": epoch_times, "samples": len(y)}


def bare_tensorflow_loop(config: dict[str, Any]) -> dict[str, Any]:
    import ray.train
    import tensorflow as tf

    import numpy as np

    from raylife.registry import import_object

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(0)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    case: Case = config["case"]
    splits = case.splits()
    (x, y), (x_val, y_val) = splits["train"], splits["val"]
    x, x_val = np.asarray(x), np.asarray(x_val)  # random inputs: a few dozen rows, whole
    with strategy.scope():
        model = import_object(f"raylife.workloads.vision.tf_models:{case.model}")(splits.input_shape, splits.num_classes)
        model.compile(optimizer=tf.keras.optimizers.Adam(case.lr),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    epochs = config["epochs"]

    epoch_times: list[float] = []

    class Report(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.started = time.perf_counter()

        def on_test_begin(self, logs: Any = None) -> None:
            epoch_times.append(time.perf_counter() - self.started)  # training steps only, as raylife times them

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            metrics = {"epoch": epoch, "accuracy": float(logs["val_accuracy"])}
            if epoch < epochs - 1:
                ray.train.report(metrics)
                return
            with tempfile.TemporaryDirectory() as tmp:
                self.model.save(Path(tmp) / "model.keras")
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))

    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=0).batch(case.batch)
    model.fit(ds, epochs=epochs, validation_data=(x_val, y_val), validation_batch_size=64, callbacks=[Report()],
              verbose=0)
    return {"epoch_s": epoch_times, "samples": len(y)}


def steady_samples_per_s(epoch_s: list[float], samples: int) -> float:
    """Training throughput once warm: samples over the median epoch but the first (which pays for graph building and
    first-touch). The median, not the mean: an epoch here is ~0.2 s, and on 2 shared cores one burst of another
    process (Ray's own, the host's) swings a single epoch by half — the median epoch is the loop's own speed."""
    steady = epoch_s[1:] or epoch_s
    return samples / statistics.median(steady)


def bare_fit(case: Case, framework: str, epochs: int, storage: str) -> tuple[float, float, float]:
    """(fit() seconds, trainer construction + fit() seconds, steady-state samples/s) of the plain script."""
    from ray.train import RunConfig, ScalingConfig

    started = time.perf_counter()
    config = {"epochs": epochs, "case": case}
    scaling = ScalingConfig(num_workers=1, resources_per_worker={"CPU": 1})
    env = {"env_vars": {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}} if framework == "tensorflow" else None
    run = RunConfig(name=f"bare-{time.time_ns()}", storage_path=storage, worker_runtime_env=env)
    if framework == "torch":
        from ray.train.torch import TorchTrainer

        trainer = TorchTrainer(bare_torch_loop, train_loop_config=config, scaling_config=scaling, run_config=run)
    else:
        from ray.train.tensorflow import TensorflowTrainer

        trainer = TensorflowTrainer(bare_tensorflow_loop, train_loop_config=config, scaling_config=scaling, run_config=run)
    fit_start = time.perf_counter()
    result = trainer.fit()
    done = time.perf_counter()
    assert result.checkpoint is not None, result.error
    steady = steady_samples_per_s(result.return_value["epoch_s"], result.return_value["samples"])
    return done - fit_start, done - started, steady


def raylife_train_stage(case: Case, framework: str, epochs: int, storage: str) -> tuple[float, float, float]:
    """(train_wall_s as raylife stores it, the train stage's wall time on the driver, steady-state samples/s)."""
    from dataclasses import replace

    from raylife.plan import plan_trials
    from raylife.records import TrialRecord
    from raylife.stages import STAGES, TrialContext
    from raylife.artifacts import Location
    from raylife.suite import parse_suite

    source = str(REPO / "suites" / f"{case.model}.toml")  # where relative paths would start; nothing is read there
    suite = parse_suite(case.suite, source)
    [trial] = [t for t in plan_trials(suite, source) if t.framework == framework]
    trial = replace(trial, epochs=epochs, target_accuracy=None)
    record = TrialRecord(run_id=f"bench{time.time_ns()}", trial=trial)
    ctx = TrialContext(trial=trial, record=record, storage=Location.parse(storage).child(record.trial_id))
    started = time.perf_counter()
    try:
        STAGES.get("train")().run(ctx)
        stage_s = time.perf_counter() - started
    finally:
        ctx.close()
    epochs_run = [e for _, e in record.epochs]
    samples = round(epochs_run[0].samples_per_s * epochs_run[0].epoch_s)
    steady = steady_samples_per_s([e.epoch_s for e in epochs_run], samples)
    return record.value("train", "train_wall_s"), stage_s, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--frameworks", nargs="+", default=["torch", "tensorflow"])
    parser.add_argument("--loop-only", action="store_true", help="only the PyTorch loops in one process (no Ray)")
    parser.add_argument("--model", choices=sorted(CASES), default="cnn_small")
    parser.add_argument("--no-loop", action="store_true", help="skip the PyTorch loops in one process")
    args = parser.parse_args()
    case = CASES[args.model]

    if "torch" in args.frameworks and not args.no_loop:
        ratios = []
        for run in range(args.runs):
            bare_sps, our_sps = torch_loops_in_one_process(case, max(args.epochs, 20) * 2 if case.model == "cnn_small"
                                                           else args.epochs + 1)
            ratios.append(our_sps / bare_sps)
            print(f"  torch loop alone run {run + 1}: steady-state samples/s bare {bare_sps:.3g}, raylife's train_epoch "
                  f"{our_sps:.3g} → {ratios[-1]:.3f}", flush=True)
        print(f"torch loop alone, in one process, epochs alternating: median ratio {statistics.median(ratios):.3f} "
              f"(target >= 0.95)", flush=True)
    if args.loop_only:
        return

    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    storage = tempfile.mkdtemp(prefix="raylife-bench-")
    print(f"{args.runs} runs each, alternating, {args.epochs} epochs, {case.model} on {case.dataset}, batch {case.batch}, "
          f"1 worker x 1 CPU; "
          f"ray {ray.__version__}, {os.cpu_count()} cores")
    for framework in args.frameworks:
        bare, ours = [], []
        for run in range(args.runs):
            bare.append(bare_fit(case, framework, args.epochs, storage))
            ours.append(raylife_train_stage(case, framework, args.epochs, storage))
            print(f"  {framework} run {run + 1}: bare fit {bare[-1][0]:.2f} s (with construction {bare[-1][1]:.2f} s) · "
                  f"raylife fit {ours[-1][0]:.2f} s, train stage {ours[-1][1]:.2f} s · steady samples/s bare "
                  f"{bare[-1][2]:.3g}, raylife {ours[-1][2]:.3g}", flush=True)
        bare_fit_s = statistics.median(b[0] for b in bare)
        bare_all_s = statistics.median(b[1] for b in bare)
        our_fit_s = statistics.median(o[0] for o in ours)
        our_stage_s = statistics.median(o[1] for o in ours)
        print(f"{framework}: median fit() bare {bare_fit_s:.2f} s vs raylife {our_fit_s:.2f} s → ratio "
              f"{our_fit_s / bare_fit_s:.3f} (target <= 1.1); train stage {our_stage_s:.2f} s vs bare construction + fit "
              f"{bare_all_s:.2f} s → ratio {our_stage_s / bare_all_s:.3f}")
        bare_sps, our_sps = statistics.median(b[2] for b in bare), statistics.median(o[2] for o in ours)
        paired = statistics.median(o[2] / b[2] for b, o in zip(bare, ours))
        print(f"{framework}: median steady-state training samples/s bare {bare_sps:.3g} vs raylife {our_sps:.3g} → "
              f"ratio {our_sps / bare_sps:.3f}; median of the runs' paired ratios {paired:.3f} (target >= 0.95)")
    ray.shutdown()


if __name__ == "__main__":
    main()
