"""Image folders streamed through Ray Data: a real run in both frameworks (the files lane) learns the generated folder
far above its baseline and stores the ingest figures; the pipeline delivers exactly the rows a local decode gives; a
corrupt JPEG fails its trial with the file named. The slow test trains from a folder several times larger, decoded,
than the object store, and than any worker's memory."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ray.helpers import rows, submit
from tests.ray.runs import CORRUPT_FILE, FILES_CLASSES

pytestmark = pytest.mark.ray
INGEST = ("time_to_first_batch_s", "ingest_samples_per_s", "data_wait_pct", "object_store_peak_bytes",
          "object_store_spilled_bytes")


def test_an_image_folder_streams_through_ray_data_and_trains_well_above_its_baseline(files_lane):
    run, folder = files_lane.run, files_lane.folder
    result, db = run.result, run.db
    assert result.returncode == 1, result.stdout + result.stderr  # the corrupt folder's trial failed, the rest ran
    trials = rows(db, "SELECT name, framework, status, error FROM trials")
    assert sorted(t["framework"] for t in trials if t["status"] == "ok") == ["tensorflow", "torch"], trials
    [bad] = [t for t in trials if t["status"] != "ok"]
    assert bad["error"] == (f"DataError: cannot decode image {folder / CORRUPT_FILE} (data.path); "
                            "remove or replace the file (PIL cannot open it)"), bad["error"]
    for t in rows(db, "SELECT trial, accuracy, baseline_accuracy, p50_ms_small, served_accuracy FROM lifecycle "
                      "WHERE accuracy IS NOT NULL"):
        assert t["baseline_accuracy"] == pytest.approx(1 / FILES_CLASSES, abs=0.05)
        assert t["accuracy"] >= 0.8 > t["baseline_accuracy"] + 0.4, t  # learned from streamed files, held-out files
        assert t["p50_ms_small"] > 0 and t["served_accuracy"] >= 0.7, t  # served the folder's held-out images
    figures = rows(db, "SELECT t.framework, m.metric, m.value, m.labels FROM measurements m JOIN trials t "
                       "USING (trial_id) WHERE m.stage = 'train' AND t.status = 'ok' AND m.metric IN "
                       f"({', '.join(repr(n) for n in INGEST)})")
    by = {(f["framework"], f["metric"]): f["value"] for f in figures}
    assert set(by) == {(fw, m) for fw in ("torch", "tensorflow") for m in INGEST}, figures
    for fw in ("torch", "tensorflow"):
        assert 0 < by[(fw, "time_to_first_batch_s")] < 120
        assert by[(fw, "ingest_samples_per_s")] > 1
        assert 0 <= by[(fw, "data_wait_pct")] <= 100 + 1  # a share of the training steps' time
        assert by[(fw, "object_store_peak_bytes")] > 0  # decoded rows passed through the store
        assert by[(fw, "object_store_spilled_bytes")] >= 0


def test_the_pipeline_gives_the_rows_a_local_decode_gives(ray_session, tmp_path):
    """Ray Data's read_images (decode, resize, scale, label by folder) and the local decode used for a few rows
    (request bodies, round-trip samples) agree exactly, file by file; the splits partition the folder."""
    from raylife.workloads.vision.data import stream_imagefolder
    from raylife.workloads.vision.make_images import write_image_folder

    write_image_folder(tmp_path / "im", classes=3, per_class=10, size=20, seed=1)
    splits = stream_imagefolder(str(tmp_path / "im"), seed=5, size=16)
    assert sum(splits.sizes().values()) == 30
    files = [p for name in splits.files for p in splits.files[name][0]]
    assert sorted(files) == sorted(set(files))  # disjoint
    x, y = zip(*splits.batches("test", 4))
    x, y = np.concatenate(x), np.concatenate(y)
    local_x, local_y = splits.head("test", 100)
    order = lambda a: np.lexsort(a.reshape(len(a), -1).T)  # noqa: E731 - rows may arrive in any order
    assert x.shape == local_x.shape == (len(splits.labels("test")), 16, 16, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[order(x)], local_x[order(local_x)])
    assert sorted(y.tolist()) == sorted(local_y.tolist()) == sorted(splits.labels("test").tolist())


BEYOND = """
name = "beyond-memory"
workload = "vision"
[data]
format = "imagefolder"
path = "images"
options = {{ size = {size} }}
[[models]]
name = "cnn_small"
frameworks = ["torch"]
options = {{ width = 8 }}
[train]
epochs = 1
batch_size = 16
retrain_epochs = 0
[persist]
formats = ["native"]
"""


@pytest.mark.slow
def test_a_folder_larger_than_the_object_store_and_the_workers_memory_trains(tmp_path):
    """8,000 images decode to 1.5 GiB of float32 at 128x128x3, on a Ray node whose object store has 100 MiB: the run
    trains through it without running out of memory, and no training worker ever holds the decoded set."""
    from raylife.workloads.vision.make_images import decoded_size, write_image_folder
    from tests.ray.helpers import NodeProcesses

    size, per_class, classes, store = 128, 1000, 8, 100 * 2**20
    write_image_folder(tmp_path / "images", classes, per_class, size=size, seed=2)
    decoded = decoded_size(classes * per_class, size)
    assert decoded > 10 * store
    (tmp_path / "s.toml").write_text(BEYOND.format(size=size))
    db = tmp_path / "r.duckdb"
    nodes = NodeProcesses()
    try:
        nodes.head(num_cpus=2, extra=f"--object-store-memory={store}")
        result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--address", nodes.address, timeout=1800)
    finally:
        nodes.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    peak = {r["metric"]: r["v"] * 2**20 for r in rows(db, "SELECT metric, max(value) AS v FROM measurements WHERE "
            "metric IN ('worker_peak_rss_mb', 'worker_peak_private_mb') GROUP BY metric")}
    print(f"beyond memory: decoded {decoded / 2**20:.0f} MiB, worker peak RSS {peak['worker_peak_rss_mb'] / 2**20:.0f} MiB,"
          f" own {peak['worker_peak_private_mb'] / 2**20:.0f} MiB")
    # RSS counts the object store's pages mapped into the worker as it reads blocks; its own memory stays far below
    assert peak["worker_peak_rss_mb"] < decoded, (peak, decoded)
    assert peak["worker_peak_private_mb"] < decoded / 2, (peak, decoded)
    figures = {r["metric"]: r["value"] for r in rows(db, "SELECT metric, value FROM measurements WHERE stage = 'train'")}
    assert figures["object_store_spilled_bytes"] > 0 or figures["object_store_peak_bytes"] < decoded / 3  # it streamed
    assert figures["epochs"] == 1 and figures["train_samples_per_s"] > 0
