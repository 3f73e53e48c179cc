"""A lifecycle with storage_path on an object store: Ray Train checkpoints into S3, the trial's actor evaluates and
persists from copies, a retraining worker starts from the stored checkpoint, replicas load from the store — against
a real S3 API (moto's server on 127.0.0.1), the real CLI, real Ray. (An update reloads through the same replica code
as the deployment's first load.)"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pyarrow.fs
import pytest

from raylife.storage import Location
from tests.ray.helpers import metric, rows, submit

pytestmark = [pytest.mark.ray, pytest.mark.timeout(400)]

SUITE = """name = "s3"
workload = "vision"
[[models]]
name = "cnn_small"
frameworks = ["torch"]
[train]
epochs = 2
retrain_epochs = 1
[persist]
formats = ["native", "onnx"]
[serve]
replicas = 1
cpus_per_replica = 0.5
batch_sizes = [1]
concurrency = [1]
requests = 20
warmup_requests = 5
stable_windows = 1
graceful_shutdown_wait_loop_s = 0.1   # teardown without Serve's 2 s wait loop
"""


def scratch_dirs() -> set[Path]:
    tmp = Path(tempfile.gettempdir())
    return {*tmp.glob("raylife-fetch-*"), *tmp.glob("raylife-saved-*")}


def test_a_whole_lifecycle_on_an_object_store(write_suite, db_path, s3_uri):
    uri = s3_uri(f"runs-{time.time_ns()}")
    before = scratch_dirs()
    result = submit(write_suite(SUITE), db_path, uri, timeout=380)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "test:test" not in result.stdout + result.stderr  # the URI's secret is never printed
    [trial] = rows(db_path, "SELECT trial_id, name, status, error FROM trials")
    assert trial["status"] == "ok", trial["error"]
    name = trial["name"]

    # every copy is timed on its own, next to the disk-to-memory figure it precedes
    [fetched] = metric(db_path, name, "evaluate", "checkpoint_fetch_s")
    assert fetched["unit"] == "s" and fetched["value"] > 0
    uploads = {json.loads(m["labels"])["format"]: m["value"] for m in metric(db_path, name, "persist", "upload_s")}
    assert set(uploads) == {"state_dict", "onnx"} and all(v > 0 for v in uploads.values())
    assert all(m["value"] > 0 for m in metric(db_path, name, "persist", "load_s"))
    [replica_fetch] = [m for m in metric(db_path, name, "deploy", "replica_fetch_s")]
    assert replica_fetch["value"] > 0 and json.loads(replica_fetch["labels"])["replica"]

    # the models really went through the store: served answers match the offline predictions
    [lc] = rows(db_path, "SELECT accuracy, retrain_accuracy FROM lifecycle")
    assert lc["accuracy"] > 0.5 and lc["retrain_accuracy"] > 0.5
    served = metric(db_path, name, "serve", "served_accuracy")[0]["value"]
    offline = metric(db_path, name, "serve", "offline_accuracy")[0]["value"]
    assert served == pytest.approx(offline)

    # what the store holds: Ray Train's checkpoints (the retraining workers started from the first) and both formats
    root = Location.parse(uri)
    fs, path = root.filesystem()
    run_id = rows(db_path, "SELECT run_id FROM runs")[0]["run_id"]
    base = f"{path}/{run_id}/{trial['trial_id']}"
    stored = [f.path[len(base) + 1:] for f in fs.get_file_info(pyarrow.fs.FileSelector(base, recursive=True))
              if f.type == pyarrow.fs.FileType.File]
    assert any(p.startswith("train/checkpoint_") for p in stored), stored
    assert any(p.startswith("retrain/checkpoint_") for p in stored), stored
    assert any(p.startswith("models/state_dict/") for p in stored) and any(p.startswith("models/onnx/") for p in stored)
    # and nothing was left on this machine's disk: copies go when the trial ends
    assert scratch_dirs() - before == set()
