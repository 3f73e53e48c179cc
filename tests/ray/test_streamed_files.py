"""Image folders streamed through Ray Data: a real run in both frameworks (the files lane) learns the generated folder
far above its baseline and stores the ingest figures; the pipeline delivers exactly the rows a local decode gives; a
truncated JPEG fails its trial with the file named, or is skipped by name. The slow test trains from a folder several times larger, decoded,
than the object store, and than any worker's memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.ray.helpers import one_small_cnn, rows, submit
from tests.ray.runs import FILES_CLASSES, STRAY_FILE, corrupt_copy

pytestmark = pytest.mark.ray
INGEST = ("time_to_first_batch_s", "ingest_samples_per_s", "data_wait_pct", "object_store_peak_bytes",
          "object_store_spilled_bytes")


def test_an_image_folder_streams_through_ray_data_and_trains_well_above_its_baseline(files_lane):
    run, folder = files_lane.run, files_lane.folder
    result, db = run.result, run.db
    assert result.returncode == 0, result.stdout + result.stderr
    trials = rows(db, "SELECT name, framework, status, error FROM trials")
    assert sorted(t["framework"] for t in trials if t["status"] == "ok") == ["tensorflow", "torch"], trials
    # on_bad_file = "skip": the truncated JPEG was left out by name, the stray text file listed and never decoded
    for metric, names in (("files_skipped", [str(files_lane.bad_file)]),
                          ("files_ignored", [str(folder / "corrupt" / STRAY_FILE)])):
        stored = rows(db, "SELECT value, labels FROM measurements WHERE stage = 'train' AND metric = ?", [metric])
        assert len(stored) == 2 and all(s["value"] == 1 and json.loads(s["labels"])["files"] == names
                                        for s in stored), stored
    reasons = rows(db, "SELECT labels->>'$.reasons[0]' AS r FROM measurements WHERE metric = 'files_skipped'")
    assert all(r["r"].startswith("OSError: ") for r in reasons), reasons
    for t in rows(db, "SELECT trial, accuracy, baseline_accuracy, p50_ms_small, served_accuracy FROM lifecycle "
                      "WHERE accuracy IS NOT NULL"):
        assert t["baseline_accuracy"] == pytest.approx(1 / FILES_CLASSES, abs=0.05)
        assert t["accuracy"] >= 0.8 > t["baseline_accuracy"] + 0.4, t  # learned from streamed files, held-out files
        assert t["p50_ms_small"] > 0 and t["served_accuracy"] >= 0.7, t  # served the folder's held-out images
    # each trained model served in two configurations, one after the other, each measured
    configs = rows(db, "SELECT trial, config, max_batch_size, ok, p50_ms_small FROM serving_configs ORDER BY trial, config")
    assert [(c["config"], c["max_batch_size"], c["ok"]) for c in configs] == [("mb1", 1, True), ("mb4", 4, True)] * 2
    assert all(c["p50_ms_small"] > 0 for c in configs), configs
    # the search's best (both, here) measured again in fresh windows, and the best of those named
    confirmed = rows(db, "SELECT trial, metric, value, labels FROM metrics WHERE metric IN ('serving_config_confirmed', "
                         "'serving_config_best') ORDER BY trial, metric")
    for trial in {c["trial"] for c in confirmed}:
        again = [c for c in confirmed if c["trial"] == trial and c["metric"] == "serving_config_confirmed"]
        [best] = [c for c in confirmed if c["trial"] == trial and c["metric"] == "serving_config_best"]
        assert sorted(json.loads(c["labels"])["config"] for c in again) == ["mb1", "mb4"] and all(c["value"] > 0 for c in again)
        winner = max(again, key=lambda c: c["value"])
        assert json.loads(best["labels"])["config"] == json.loads(winner["labels"])["config"], (best, again)
    assert len({c["trial"] for c in confirmed}) == 2
    figures = rows(db, "SELECT t.framework, m.metric, m.value, m.labels FROM measurements m JOIN trials t "
                       "USING (trial_id) WHERE m.stage = 'train' AND t.status = 'ok' AND m.metric IN "
                       f"({', '.join(repr(n) for n in INGEST)})")
    by = {(f["framework"], f["metric"]): f["value"] for f in figures}
    assert set(by) == {(fw, m) for fw in ("torch", "tensorflow") for m in INGEST}, figures
    for fw in ("torch", "tensorflow"):
        assert by[(fw, "time_to_first_batch_s")] > 0
        assert by[(fw, "ingest_samples_per_s")] > 1
        assert 0 <= by[(fw, "data_wait_pct")] <= 100 + 1  # a share of the training steps' time
        assert by[(fw, "object_store_peak_bytes")] > 0  # decoded rows passed through the store
        assert by[(fw, "object_store_spilled_bytes")] >= 0


def test_the_search_and_the_serving_configs_view_compute_the_same_figures(files_lane):
    """One source of truth in two places: the serving search ranks configurations by ``config_figures`` (Python, from
    the trial's measurements as it runs); ``serving_configs`` (SQL) is what show, choose and the report read."""
    from raylife.plan import plan_trials
    from raylife.records import TrialRecord
    from raylife.runner.serving_search import config_figures
    from raylife.store import Store
    from raylife.suite import parse_suite

    suite = files_lane.folder / "files.toml"
    planned = {t.name: t for t in plan_trials(parse_suite(suite.read_text()), str(suite))}
    view = rows(files_lane.run.db, "SELECT * FROM serving_configs")
    assert len(view) == 4
    with Store(files_lane.run.db, read_only=True) as store:
        for row in view:
            trial = planned[row["trial"].split(" @ ")[0]]
            [config] = [c for c in trial.serve_configs if c.key == row["config"]]
            record = TrialRecord(run_id="check", trial=trial)
            record.measurements.extend(store.stored_configs(row["trial_id"])[config.key].measurements)
            figures = config_figures(record, config, trial.prices, gpu=False)
            for name, value in figures.items():
                same = value is None if row[name] is None else value == pytest.approx(row[name], rel=1e-9)
                assert same, (row["trial"], name, value, row[name])


def test_a_truncated_image_fails_its_trial_with_one_error_line_naming_it(cluster, tmp_path):
    """on_bad_file = "fail" (the default): the decode step reports the file to the trial's ledger before it fails, so
    the error names it whatever Ray Data and Ray Train wrap around the failure."""
    from raylife.workloads.vision.make_images import write_image_folder

    write_image_folder(tmp_path / "images", 4, 8, size=16, seed=1)
    bad = corrupt_copy(tmp_path / "images", tmp_path / "corrupt")
    suite = tmp_path / "bad.toml"
    suite.write_text(one_small_cnn("bad-file") + '[data]\nformat = "imagefolder"\npath = "corrupt"\n'
                     "options = { size = 16 }\n")
    result = submit(suite, tmp_path / "r.duckdb", tmp_path / "art", "--address", cluster.address)
    assert result.returncode == 1, result.stdout + result.stderr
    named = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error: ")]
    assert len(named) == 1 and named[0].startswith(f"Error: trial cnn_small[width=8]/torch/w1: cannot decode image "
                                                   f"{bad} (OSError: "), named
    [trial] = rows(tmp_path / "r.duckdb", "SELECT status, error FROM trials")
    assert trial["status"] == "failed" and trial["error"].startswith(f"DataError: cannot decode image {bad}")


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


def test_a_streamed_table_pipeline_gives_the_rows_a_local_read_gives(ray_session, tmp_path):
    """CSV and Parquet through Ray Data (read, hash to a split, standardise or tokenise) give every split exactly the
    rows the process-local read gives (request bodies, the labels the baseline counts)."""
    from raylife.workloads.tabular.data import stream_csv, stream_parquet
    from tests.unit.test_streamed_tables import write_table

    from raylife.workloads.text.data import stream_parquet as stream_texts
    from tests.unit.test_streamed_tables import write_texts

    # folders of their own: a folder's table is every .csv / .parquet under it, nested ones too
    write_table(tmp_path / "numbers", rows=400, parts=2)
    write_texts(tmp_path / "texts", rows=300, parts=2)
    cases = ((stream_parquet(str(tmp_path / "numbers"), seed=2), ("test",)),
             (stream_csv(str(tmp_path / "numbers"), seed=2), ("test",)),
             (stream_texts(str(tmp_path / "texts"), seed=2, text_column="review", seq_len=10, vocab_size=16), ("test",)))
    for splits, names in cases:  # the other splits are cut by the same hash and read the same way (tests/unit)
        order = lambda a: np.lexsort(a.T)  # noqa: E731 - Ray Data's blocks arrive in any order
        for name in names:
            size = splits.sizes()[name]
            x, y = zip(*splits.batches(name, 64))
            x, y = np.concatenate(x), np.concatenate(y)
            local_x, local_y = splits.head(name, 10_000)
            assert x.shape == local_x.shape == (size, *splits.input_shape) and x.dtype == local_x.dtype
            np.testing.assert_array_equal(x[order(x)], local_x[order(local_x)])
            assert sorted(y.tolist()) == sorted(local_y.tolist()) == sorted(splits.labels(name).tolist())


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


TABLE = """
name = "streamed-table"
workload = "tabular"
[data]
format = "parquet"
path = "table"
options = { stream = true }
[[models]]
name = "mlp"
frameworks = ["torch", "tensorflow"]
options = { width = 32, depth = 2 }
[train]
epochs = 3
batch_size = 32
retrain_epochs = 1
[serve]
batch_sizes = [1]
concurrency = [1]
requests = 10
warmup_requests = 1
stable_windows = 1
port = 8137
graceful_shutdown_wait_loop_s = 0.1
"""


@pytest.mark.slow  # ~3 min: two streamed trials through every stage; the pipeline itself is checked by default above
def test_a_parquet_folder_streams_through_every_stage_in_both_frameworks(tmp_path):
    from tests.unit.test_streamed_tables import write_table

    write_table(tmp_path / "table", rows=3000, parts=3)
    for csv in (tmp_path / "table").glob("*.csv"):
        csv.unlink()
    (tmp_path / "s.toml").write_text(TABLE)
    db = tmp_path / "r.duckdb"
    result = submit(tmp_path / "s.toml", db, tmp_path / "art", "--num-cpus", "2", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trials = rows(db, "SELECT trial, accuracy, baseline_accuracy, served_accuracy FROM lifecycle")
    assert len(trials) == 2
    for t in trials:
        assert t["accuracy"] >= 0.85 > t["baseline_accuracy"] + 0.2, t  # the sign of c0 + c1, learned from shards
        assert t["served_accuracy"] >= 0.8, t
    figures = rows(db, "SELECT metric, count(*) AS n FROM measurements WHERE stage IN ('train', 'retrain') AND metric IN "
                       "('time_to_first_batch_s', 'ingest_samples_per_s', 'data_wait_pct', 'restore_s') GROUP BY metric")
    assert {f["metric"]: f["n"] for f in figures} == {"time_to_first_batch_s": 4, "ingest_samples_per_s": 4,
                                                      "data_wait_pct": 4, "restore_s": 2}


def test_the_report_draws_the_serving_configurations_in_headless_chromium(files_lane, tmp_path):
    from tests.browser import open_page
    from tests.ray.helpers import raylife

    out = tmp_path / "report.html"
    result = raylife("report", "last", "--db", files_lane.run.db, "-o", out)
    assert result.exit_code == 0, result.output
    facts = open_page(out, """(() => {
        const plots = [...document.querySelectorAll('section.plot')];
        const configs = plots.find(p => ((p.querySelector('.gtitle') || {}).textContent || '').startsWith('Serving configurations'));
        return {found: !!configs, points: configs ? configs.querySelectorAll('.scatterlayer .point').length : 0,
                labels: configs ? [...configs.querySelectorAll('.textpoint text')].map(t => t.textContent) : []};
    })()""")
    assert facts.console_errors == []
    f = facts.facts
    assert f["found"] and f["points"] >= 4, f  # two configurations of each of the two trained models (and fronts)
    assert sorted(set(f["labels"])) == ["mb1", "mb4"], f
