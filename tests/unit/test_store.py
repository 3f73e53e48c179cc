"""The DuckDB store on real database files: schema, one transaction per trial, read-only queries."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import numpy as np
import pytest

from raylife.errors import StoreError
from raylife.plan import plan_trials
from raylife.frameworks.contract import EpochRecord
from raylife.measure.environment import ClusterInfo, Fingerprint, NodeInfo
from raylife.records import TrialRecord, utcnow
from raylife.store import Store, check_results_file, new_run_id
from raylife.store.schema import SCHEMA_VERSION
from raylife.suite import parse_suite
from tests.conftest import MINIMAL_SUITE

CLUSTER = ClusterInfo(cpus=2.0, gpus=0.0, memory_gb=16.0,
                      nodes=(NodeInfo(node_id="n1", address="10.0.0.1", hostname="h", resources={"CPU": 2.0}),))
MACHINE = Fingerprint(hostname="h", cpu="c", cpu_count=2, gpu=None, gpu_count=0, memory_gb=24.0, os="Linux",
                      python="3.11", versions={"ray": "2.60.0", "torch": "2.13.0"})


@pytest.fixture
def trial():
    return plan_trials(parse_suite(MINIMAL_SUITE + 'frameworks = "torch"\n'))[0]


def begin(store: Store, run_id: str = "r1", submitted_at=None) -> None:
    store.begin_run(
        run_id=run_id, suite="t", description="", suite_path="s.toml", spec_toml=MINIMAL_SUITE, trials=1,
        ray_address="local", cluster=CLUSTER, ray_start_s=3.0, raylife_version="0.1.0", git_commit=None,
        submitted_at=submitted_at or utcnow(),
    )


def finished_record(trial, run_id="r1") -> TrialRecord:
    record = TrialRecord(run_id=run_id, trial=trial, status="ok", finished_at=utcnow())
    record.environment = MACHINE
    record.add("evaluate", "accuracy", 0.97, "ratio", split="test")
    record.add("train", "train_wall_s", 12.5, "s")
    record.add("train", "time_to_target_s", float("nan"), "s")
    record.add("persist", "bytes", 1000, "bytes", format="state_dict", native=True)
    record.add("persist", "bytes", 2000, "bytes", format="onnx", native=False)
    record.add_epochs("train", [EpochRecord(epoch=0, train_loss=1.0, eval_loss=0.9, accuracy=0.5, epoch_s=0.1,
                                            elapsed_s=0.2, samples_per_s=1000.0, end_unix=0.0)])
    return record


def test_schema_version_and_views(db_path):
    with Store(db_path) as store:
        assert store.query("select value from meta where key = 'schema_version'")[1] == [(str(SCHEMA_VERSION),)]
        tables = {r[0] for r in store.query("select table_name from information_schema.tables")[1]}
    assert {"runs", "trials", "environments", "measurements", "epochs", "lifecycle", "metrics"} <= tables


def test_trial_round_trip_into_wide_view(db_path, trial):
    with Store(db_path) as store:
        begin(store)
        store.write_trial(finished_record(trial), CLUSTER)
        store.finish_run("r1", "ok", 20.0, 0)
        [row] = store.lifecycle("r1")
    assert row["accuracy"] == 0.97
    assert row["train_wall_s"] == 12.5
    assert row["time_to_target_s"] is None  # NaN is stored as NULL, never as a fake number
    assert row["native_bytes"] == 1000  # the native format, not the ONNX copy
    assert row["torch"] == "2.13.0" and row["nodes"] == 1


def test_a_trial_is_written_whole_or_not_at_all(db_path, trial):
    record = finished_record(trial)
    record.add("persist", "bytes", 1.0, "bytes", label=object())  # not JSON-serialisable: fails mid-transaction
    with Store(db_path) as store:
        begin(store)
        with pytest.raises(TypeError):
            store.write_trial(record, CLUSTER)
        for table in ("trials", "environments", "measurements", "epochs"):
            assert store.query(f"select count(*) from {table}")[1] == [(0,)], table


def test_query_refuses_writes_before_running_them(db_path, trial):
    with Store(db_path) as store:
        begin(store)
    with Store(db_path, read_only=True) as store:
        for sql in ("delete from runs", "drop table runs", "insert into runs (run_id, suite) values ('x','y')",
                    "copy runs to '/tmp/raylife-should-not-exist.csv'", "attach 'other.duckdb'", "select 1; delete from runs"):
            with pytest.raises(StoreError, match="refused: raylife query is read-only"):
                store.query(sql)
        assert store.query("select count(*) from runs")[1] == [(1,)]


def test_query_reports_sql_errors_in_one_line(db_path):
    Store(db_path).close()
    with Store(db_path, read_only=True) as store:
        with pytest.raises(StoreError, match="^query failed: Catalog Error: Table with name nope does not exist"):
            store.query("select * from nope")


def test_resolve_run(db_path):
    with Store(db_path) as store:
        begin(store, "20261126-100000-aaaa", datetime(2026, 11, 26, 10))
        begin(store, "20261126-110000-bbbb", datetime(2026, 11, 26, 11))
        assert store.resolve_run("last") == "20261126-110000-bbbb"
        assert store.resolve_run("20261126-10") == "20261126-100000-aaaa"
        with pytest.raises(StoreError, match="ambiguous"):
            store.resolve_run("20261126")
        with pytest.raises(StoreError, match="no run 'zzz'"):
            store.resolve_run("zzz")


def test_newer_schema_is_refused(db_path):
    Store(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("update meta set value = '999' where key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match="schema version 999, newer than this raylife's"):
        Store(db_path, read_only=True)


def test_check_results_file_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        check_results_file(tmp_path / "missing" / "x.duckdb")
    with pytest.raises(StoreError, match="is a directory"):
        check_results_file(tmp_path)
    check_results_file(tmp_path / "new.duckdb")
    assert not (tmp_path / "new.duckdb").exists()


def test_not_a_database(tmp_path):
    path = tmp_path / "text.duckdb"
    path.write_text("hello, not a database")
    for read_only in (False, True):
        with pytest.raises(StoreError, match=r"^not a DuckDB database: .*not a valid DuckDB database file"):
            Store(path, read_only=read_only)
    assert path.read_text() == "hello, not a database"


def test_run_ids_sort_by_time():
    a = new_run_id(datetime(2026, 1, 1, 10, 0, 0))
    b = new_run_id(datetime(2026, 1, 1, 10, 0, 1))
    assert a < b and a.startswith("20260101-100000-")


def test_labels_are_queryable_json(db_path, trial):
    with Store(db_path) as store:
        begin(store)
        store.write_trial(finished_record(trial), CLUSTER)
        rows = store.rows("select format, value from metrics where metric = 'bytes' order by value")
    assert [(r["format"], r["value"]) for r in rows] == [("state_dict", 1000), ("onnx", 2000)]
    assert json.loads(store_params(db_path))["framework"] == "torch"


def store_params(db_path) -> str:
    with Store(db_path, read_only=True) as store:
        return store.rows("select params from trials")[0]["params"]


def test_latencies_go_in_through_arrow_and_summaries_match_sql(db_path, trial):
    from raylife.clients.loadgen import Outcome, Samples
    from raylife.measure.stats import latency_summary

    record = finished_record(trial)
    samples = Samples(t0=0.0)
    rng = np.random.default_rng(0)
    latencies = rng.gamma(2.0, 5.0, size=5000)
    for seq, latency in enumerate(latencies):
        ok = seq % 100 != 0
        samples.record(seq, seq * 0.001, seq * 0.001 + latency / 1000, Outcome(ok=ok, error=None if ok else "HTTP 500", version="v1"))
    for metric, value in latency_summary(samples.latencies[samples.ok]).items():
        record.add("serve", metric, value, "ms", path="http", batch_size=8, concurrency=4)
    record.add_latencies("serve", "http", samples, batch_size=8, concurrency=4)
    with Store(db_path) as store:
        begin(store)
        store.write_trial(record, CLUSTER)
        [raw] = store.rows(
            "SELECT count(*) AS n, count(*) FILTER (WHERE NOT ok) AS failed, quantile_cont(latency_ms, 0.99) FILTER (WHERE ok) AS p99 "
            "FROM latencies"
        )
        [summary] = store.rows("SELECT * FROM latency_summary")
    assert raw["n"] == 5000 and raw["failed"] == 50
    assert summary["batch_size"] == 8 and summary["concurrency"] == 4 and summary["path"] == "http"
    assert summary["p99_ms"] == pytest.approx(raw["p99"], rel=1e-12)


def test_a_version_1_database_is_migrated(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, suite VARCHAR NOT NULL, description VARCHAR, suite_path VARCHAR, "
        "spec_toml VARCHAR, submitted_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, trials INTEGER, "
        "failed_trials INTEGER, ray_address VARCHAR, cluster JSON, ray_start_s DOUBLE, wall_s DOUBLE, "
        "raylife_version VARCHAR, git_commit VARCHAR)"
    )
    con.execute("INSERT INTO runs (run_id, suite, status) VALUES ('old-run', 'vision', 'ok')")
    con.close()
    with Store(db_path) as store:
        begin(store, "new-run")
        assert store.query("select value from meta where key = 'schema_version'")[1] == [(str(SCHEMA_VERSION),)]
        rows = store.rows("SELECT run_id, serve_start_s FROM runs ORDER BY run_id")
    assert [r["run_id"] for r in rows] == ["new-run", "old-run"]  # old results kept, new column added


def test_a_version_3_database_gets_trial_variants_and_keeps_its_trials(db_path):
    trials = plan_trials(parse_suite(MINIMAL_SUITE + "[train]\nbatch_size = [16, 32]\n"))
    with Store(db_path) as store:
        begin(store)
        store.write_trial(finished_record(trials[0]), CLUSTER)
    con = duckdb.connect(str(db_path))  # as raylife 0.x with schema 3 left it: no variant column
    con.execute("DROP VIEW IF EXISTS lifecycle CASCADE")
    con.execute("ALTER TABLE trials DROP COLUMN variant")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    with Store(db_path) as store:
        store.write_trial(finished_record(trials[1]), CLUSTER)
        rows = store.rows("SELECT trial, variant FROM lifecycle ORDER BY trial_id")
    # the old row shows its full name; the new one its structured variant (model + the axis that varies)
    assert [(r["trial"], r["variant"]) for r in rows] == [
        ("cnn_small/torch/w1/bs16", "cnn_small/torch/w1/bs16"), ("cnn_small/torch/w1/bs32", "cnn_small/bs32")]


def test_costs_multiply_measured_times_by_held_resources(db_path):
    suite = parse_suite(MINIMAL_SUITE + 'frameworks = "torch"\n[train]\nnum_workers = 2\n[serve]\nreplicas = 2\n'
                        "cpus_per_replica = 0.5\n[cost]\ncpu_hour_usd = 3.6\n")
    trial = plan_trials(suite)[0]
    record = TrialRecord(run_id="r1", trial=trial, status="ok", finished_at=utcnow())
    record.add("train", "train_wall_s", 100.0, "s")
    record.add("deploy", "deploy_ready_s", 10.0, "s")
    record.add("serve", "samples_per_s", 500.0, "samples/s", path="http", batch_size=8, concurrency=1)
    record.add("serve", "samples_per_s", 1000.0, "samples/s", path="http", batch_size=32, concurrency=4)
    record.add("update", "update_s", 4.0, "s", strategy="rollout")
    with Store(db_path) as store:
        begin(store)
        store.write_trial(record, CLUSTER)
        [cost] = store.rows("SELECT * FROM costs")
    # $3.60 per CPU hour = $0.001 per CPU second; training holds 2 workers x 1 CPU, serving 2 replicas x 0.5 CPU
    assert cost["train_usd"] == pytest.approx(100 * 2 * 0.001)
    assert cost["deploy_usd"] == pytest.approx(10 * 1 * 0.001)
    assert cost["usd_per_million_predictions"] == pytest.approx(0.001 / 1000 * 1e6)  # at the peak throughput
    assert cost["rollout_usd"] == pytest.approx(4 * 0.001)
    assert cost["retrain_usd"] is None  # not measured, not invented


def test_costs_charge_gpus_for_training_evaluation_persisting_and_replicas(db_path):
    suite = parse_suite(MINIMAL_SUITE + 'frameworks = "torch"\n[train]\ndevice = "gpu"\ncpus_per_worker = 2\n'
                        "[serve]\nreplicas = 2\ncpus_per_replica = 1\ngpus_per_replica = 0.5\n"
                        "[cost]\ncpu_hour_usd = 3.6\ngpu_hour_usd = 36\n")
    trial = plan_trials(suite)[0]
    record = TrialRecord(run_id="r1", trial=trial, status="ok", finished_at=utcnow())
    record.add("train", "train_wall_s", 100.0, "s")
    record.add("evaluate", "stage_wall_s", 5.0, "s", started_unix=1.0)
    record.add("persist", "stage_wall_s", 3.0, "s", started_unix=2.0)
    record.add("deploy", "deploy_ready_s", 10.0, "s")
    with Store(db_path) as store:
        begin(store)
        store.write_trial(record, CLUSTER)
        [cost] = store.rows("SELECT * FROM costs")
    # $0.001 per CPU second, $0.01 per GPU second
    assert (cost["train_gpus"], cost["evaluate_gpus"], cost["serve_gpus"]) == (1, 1, 1.0)
    assert cost["train_usd"] == pytest.approx(100 * (2 * 0.001 + 0.01))
    assert cost["evaluate_usd"] == pytest.approx(5 * (2 * 0.001 + 0.01))  # the actor: one worker's CPUs and a GPU
    assert cost["persist_usd"] == pytest.approx(3 * (2 * 0.001 + 0.01))
    assert cost["deploy_usd"] == pytest.approx(10 * (2 * 0.001 + 2 * 0.5 * 0.01))  # two half-GPU replicas
    assert cost["retrain_usd"] is None and cost["train_kwh"] is None  # not measured, not invented


def test_only_catalogued_metrics_with_their_units_are_recorded(trial):
    from raylife.measure.metrics import UnknownMetric

    record = finished_record(trial)
    with pytest.raises(UnknownMetric, match="metric persist.broken is not in"):
        record.add("persist", "broken", 1.0, "x")
    with pytest.raises(UnknownMetric, match="metric train.train_peak_rss_mb is catalogued in MiB, recorded in MB"):
        record.add("train", "train_peak_rss_mb", 1.0, "MB")


def test_lifecycle_columns_come_from_the_catalogue(db_path):
    from raylife.measure.metrics import BY_KEY, LIFECYCLE_COLUMNS

    with Store(db_path) as store:
        columns = [c for c in store.query("select * from lifecycle limit 0")[0]]
    for column in LIFECYCLE_COLUMNS:
        assert (column.stage, column.metric) in BY_KEY
        assert column.alias in columns


def test_every_named_part_of_a_stage_is_catalogued_for_it_and_the_rest_is_unaccounted():
    from raylife.measure.metrics import BY_KEY, STAGE_PARTS, unaccounted_s

    for stage, parts in STAGE_PARTS.items():
        for part in parts:
            assert (stage, part) in BY_KEY or ("*", part) in BY_KEY, (stage, part)
    measured = [("persist", "save_s", 1.0, {"format": "onnx"}), ("persist", "save_s", 2.0, {"format": "native"}),
                ("persist", "checkpoint_load_s", 3.0, {}), ("evaluate", "checkpoint_load_s", 50.0, {}),
                ("deploy", "first_request_ms", 500.0, {}), ("deploy", "deploy_ready_s", 4.0, {}),
                ("deploy", "replica_load_s", 9.0, {"replica": "r1"})]
    assert unaccounted_s("persist", 10.0, measured) == pytest.approx(4.0)  # every format's save counts
    assert unaccounted_s("deploy", 5.0, measured) == pytest.approx(0.5)  # ms converted; replicas' figures are inside
    assert unaccounted_s("serve", 5.0, measured) is None  # a stage of request windows declares no parts
