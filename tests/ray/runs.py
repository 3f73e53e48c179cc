"""The whole runs the Ray tests read, each in a lane (tests/lanes.py): README's smoke suite on its embedded Ray, and a
two-node cluster's runs — repeats, trials side by side on an object store, failures on purpose."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import SUITES
from tests.lanes import lane
from tests.ray.helpers import NodeProcesses, Run, submit

# One small CNN served and loaded, twice over (repeats = 2), kept short: 1 epoch, 20 requests per window; the repeats
# run one after the other: a repeat training beside the other's 11-second open-loop window at 50 req/s starved its
# replica (every answer late). The SLO is generous: the lane runs beside other work, and what is tested is the sweep's
# logic, not this machine's latency. (Trials side by side are the side-by-side run's.)
REPEATED = """
name = "repeated"
workload = "vision"
repeats = 2
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = { width = 8 }
[train]
epochs = 1
retrain_epochs = 0
[serve]
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 5
stable_windows = 2
max_windows = 3
port = 8131
request_timeout_s = 5
graceful_shutdown_wait_loop_s = 0.1   # teardown without Serve's 2 s wait loop
[load]
slo_p99_ms = 1000
rates = [50, 400]
duration_s = 0.75   # a window is sized for a p99 verdict's 459+ answers: 11 s at 50 req/s, 1.4 s at 400
max_duration_s = 11.1
confirm = 1        # 400 req/s breaks the SLO: measured again once, the second window decides
"""

# Two trials (the fewest that can overlap, and must not while serving), one per platform so that each node is used;
# Ray Train checkpoints into S3, the trial's actor evaluates and persists from copies, one trial's retraining fit
# starts from the stored checkpoint, replicas load from the store.
SIDE_BY_SIDE = """
name = "side-by-side"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
train = { platform = ["small"], retrain_epochs = 1 }
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = { width = 16 }  # the default width, named: another trial name
train = { platform = ["large"] }
[train]
epochs = 2
retrain_epochs = 0
[persist]
formats = ["native", "onnx"]
[platforms.small]
resources = { cpu_small = 1 }
[platforms.large]
resources = { cpu_large = 1 }
[serve]
cpus_per_replica = 0.5
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 2
stable_windows = 1
port = 8132
graceful_shutdown_wait_loop_s = 0.1   # teardown without Serve's 2 s wait loop
[run]
max_concurrent_trials = 2
"""

# Two epochs; a worker killed halfway through epoch 2; one restart allowed unless a model says otherwise.
KILLED_IN_EPOCH_2 = """
[train]
epochs = 2
retrain_epochs = 0
max_failures = 1
[faults]
kill_worker_at_epoch = 2
"""

# Side by side (two at a time): a PyTorch trial with a worker killed resumes from its checkpoint; one past
# max_failures and one whose model code raises are stored as failed. (TensorFlow on two data-parallel workers over two
# nodes, killed and resumed, is the slow FAULTS_TENSORFLOW: its six TensorFlow processes cost 95 of the run's 167
# CPU-seconds here.)
FAULTS = """
name = "faults"
workload = "vision"
[run]
python_path = ["."]
max_concurrent_trials = 2
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = { width = 8 }
train = { max_failures = 0 }
[[models]]
name = "broken"
builders = { torch = "broken_models:broken" }
train = { max_failures = 0 }  # fails on its first try: no restart to wait for
""" + KILLED_IN_EPOCH_2

# TensorFlow on two data-parallel workers — 2 CPUs each on nodes of 3: one worker on each node — with rank 0 killed in
# epoch 2, resumed from its checkpoint (MultiWorkerMirroredStrategy over two nodes).
FAULTS_TENSORFLOW = """
name = "faults-tensorflow"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["tensorflow"]
train = { num_workers = 2, cpus_per_worker = 2 }
""" + KILLED_IN_EPOCH_2


def random_steps_suite(name: str, model: str, shape: list[int], samples: int, steps: int, batch: int,
                       batch_sizes: list[int], requests: int, port: int, upload: str = "sync",
                       frameworks: tuple[str, ...] = ("torch", "tensorflow")) -> str:
    """A reference model on random inputs (1,000 classes) generated on demand, bounded by steps, in ``frameworks``,
    persisted and served, no retraining: the reference-scale code path at any shape (checkpoints uploaded by
    ``upload``)."""
    return f"""
name = "{name}"
workload = "vision"
[data]
dataset = "random"
options = {{ shape = {shape}, classes = 1000, samples = {samples} }}
[[models]]
name = "{model}"
frameworks = {json.dumps(list(frameworks))}
[train]
steps = {steps}
batch_size = {batch}
retrain_epochs = 0
checkpoint_upload = "{upload}"
[serve]
batch_sizes = {batch_sizes}
concurrency = [1]
requests = {requests}
warmup_requests = 2
stable_windows = 1
port = {port}
graceful_shutdown_wait_loop_s = 0.1   # teardown without Serve's 2 s wait loop
"""


# The reference-scale code path at a small shape: MobileNetV3-Large at 32x32x3 in PyTorch, its 22 MB checkpoints
# uploaded by Ray Train in the background (evaluate then loads what the upload wrote). TensorFlow's side of the path
# (its custom layers) is the slow ResNet-50 run's and tests/frameworks'; here it cost 78 of the run's 119 CPU-seconds.
RANDOM_STEPS_BATCH, RANDOM_STEPS_STEPS = 8, 3
RANDOM_STEPS = random_steps_suite("random-steps", "mobilenet_v3_large", [32, 32, 3], samples=64, steps=RANDOM_STEPS_STEPS,
                                  batch=RANDOM_STEPS_BATCH, batch_sizes=[1], requests=10, port=8133, upload="async",
                                  frameworks=("torch",))

# A builder that passes every plan-time check and fails inside the training workers.
BROKEN_MODELS = "def broken(input_shape, num_classes, width: int = 4):\n    raise ValueError(f'cannot build width {width}')\n"


@dataclass(frozen=True)
class ClusterRuns:
    """The two-node cluster's runs, and what the cluster was."""

    address: str
    repeated: Run | None  # None where no selected test reads it (the readers of both are slow)
    side_by_side: Run
    faults: Run
    random_steps: Run | None
    scratch_left: frozenset[Path]  # fetched or saved copies left on this machine's disk by the object-store run
    stored_objects: tuple[str, ...]  # every file the object-store run left in the bucket, relative to its storage path


def scratch_dirs() -> set[Path]:
    import tempfile

    tmp = Path(tempfile.gettempdir())
    return {*tmp.glob("raylife-fetch-*"), *tmp.glob("raylife-saved-*")}


@lane("smoke")
def smoke(tmp: Path) -> Run:
    """README's main command, as a user runs it: ``raylife submit suites/smoke.toml`` on its own embedded Ray."""
    db = tmp / "smoke.duckdb"
    return Run(submit(SUITES / "smoke.toml", db, tmp / "artifacts"), db, tmp / "artifacts")


# An image folder streamed through Ray Data (written by raylife's own maker: 4 learnable classes of 32x32 JPEGs, one
# of them truncated, and a stray text file) in both frameworks, evaluated, persisted and served from the folder's
# held-out files; the truncated JPEG is left out by name (on_bad_file = "skip"), the text file listed, never decoded.
# (A bad file failing its trial, the default, is tests/ray/test_streamed_files.py's own run.)
FILES = """
name = "files"
workload = "vision"
[data]
format = "imagefolder"
path = "corrupt"
options = { size = 32 }
on_bad_file = "skip"
[[models]]
name = "cnn_small"
frameworks = ["torch", "tensorflow"]
[train]
epochs = 3
batch_size = 16
retrain_epochs = 0
[serve]
max_batch_size = [1, 4]   # two serving configurations of each trained model, measured in turn
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 2
stable_windows = 1
port = 8136
graceful_shutdown_wait_loop_s = 0.1   # teardown without Serve's 2 s wait loop
[serve.search]
objective = "peak_samples_per_s"   # both configurations, then both measured again before the best is named
"""
FILES_CLASSES, FILES_PER_CLASS, STRAY_FILE = 4, 60, "class_1/notes.txt"


def corrupt_copy(images: Path, to: Path) -> Path:
    """The folder again with one JPEG of the training split (seed 0, the suites' own) cut to its first half, and a
    stray text file in a class folder; returns the cut file."""
    import shutil

    from raylife.workloads.vision.data import stream_imagefolder

    shutil.copytree(images, to)
    bad = Path(stream_imagefolder(str(to), seed=0).files["train"][0][0])
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    (to / STRAY_FILE).write_text("not an image")
    return bad


@dataclass(frozen=True)
class FilesRun:
    run: Run
    folder: Path  # holds images/, corrupt/ and the suite
    bad_file: Path  # the truncated JPEG in corrupt/


@lane("files")
def files(tmp: Path) -> FilesRun:
    """A streamed image folder, on its own embedded Ray as README's command would start it, beside the smoke lane's
    (two embedded Rays, each with its Serve on its own port, run side by side on one machine)."""
    from raylife.workloads.vision.make_images import write_image_folder

    write_image_folder(tmp / "images", FILES_CLASSES, FILES_PER_CLASS, size=32, seed=3)
    bad = corrupt_copy(tmp / "images", tmp / "corrupt")
    (tmp / "files.toml").write_text(FILES)
    db = tmp / "files.duckdb"
    return FilesRun(Run(submit(tmp / "files.toml", db, tmp / "artifacts"), db, tmp / "artifacts"), tmp, bad)


@lane("cluster-runs", first=True)
def cluster_runs(tmp: Path) -> ClusterRuns:
    """A two-node cluster of its own (3 CPUs and the resource cpu_small on the head; 3 CPUs, cpu_large and the label
    node-type=large on the other) and an S3 API (moto's server on 127.0.0.1); the runs go to it one after another:
    repeats, side by side on S3, failures on purpose, a reference model on random inputs by steps."""
    from tests.lanes import LANES, WANTED
    from tests.s3_server import local_s3

    readers = {"repeated": "repeated", "random-steps": "random_steps_run"}  # the parts run only when a test reads them

    nodes = NodeProcesses()
    try:
        nodes.head(num_cpus=3, resources={"cpu_small": 2}, wait=False)
        nodes.add(num_cpus=3, resources={"cpu_large": 2}, labels={"node-type": "large"})
        with local_s3("raylife") as s3_uri:
            runs = {}
            for name, text in (("repeated", REPEATED), ("side-by-side", SIDE_BY_SIDE), ("faults", FAULTS),
                               ("random-steps", RANDOM_STEPS)):
                if name in readers and readers[name] not in WANTED:
                    continue
                folder = tmp / name
                folder.mkdir()
                (folder / f"{name}.toml").write_text(text)
                if name == "faults":
                    (folder / "broken_models.py").write_text(BROKEN_MODELS)
                storage = s3_uri(f"runs-{time.time_ns()}") if name == "side-by-side" else folder / "artifacts"
                before = scratch_dirs()
                started = time.monotonic()
                result = submit(folder / f"{name}.toml", folder / "r.duckdb", storage, "--address", nodes.address)
                LANES["cluster-runs"].parts[name] = time.monotonic() - started
                runs[name] = (Run(result, folder / "r.duckdb", storage), scratch_dirs() - before)
            objects = bucket_listing(runs["side-by-side"][0].storage)  # while the S3 server still runs
    finally:
        nodes.stop()
    return ClusterRuns(address=nodes.address, repeated=runs.get("repeated", (None,))[0],
                       side_by_side=runs["side-by-side"][0], faults=runs["faults"][0],
                       random_steps=runs.get("random-steps", (None,))[0], scratch_left=frozenset(runs["side-by-side"][1]),
                       stored_objects=objects)


def bucket_listing(uri: str) -> tuple[str, ...]:
    import pyarrow.fs

    from raylife.artifacts import Location

    fs, path = Location.parse(uri).filesystem()
    files = fs.get_file_info(pyarrow.fs.FileSelector(path, recursive=True, allow_not_found=True))
    return tuple(sorted(f.path[len(path) + 1:] for f in files if f.type == pyarrow.fs.FileType.File))
