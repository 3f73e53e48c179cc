"""The results file is never damaged and `query` cannot write or reach out (real DuckDB files)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from raylife.cli import app
from raylife.errors import StoreError
from raylife.store import Store, check_results_file
from raylife.store.schema import SCHEMA_VERSION
from tests.unit.test_store import CLUSTER, begin, finished_record, trial  # noqa: F401 - fixture

runner = CliRunner()


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders with a hash of its bytes: a write anywhere changes it."""
    found = {}
    for folder in folders:
        if folder.exists():
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    found[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


@pytest.fixture
def results(tmp_path, trial):  # noqa: F811
    path = tmp_path / "results.duckdb"
    with Store(path) as store:
        begin(store)
        store.write_trial(finished_record(trial), CLUSTER)
    return path


BYPASSES = [
    "explain analyze copy (select 'x') to '{dir}/notes.txt'",
    "copy (select 1) to '{dir}/x.csv'",
    "explain analyze install httpfs",
    "explain install httpfs",
    "explain analyze set threads = 1",
    "explain analyze checkpoint",
    "explain analyze load httpfs",
    "set threads = 1",
    "reset threads",
    "load httpfs",
    "install httpfs",
    "checkpoint",
    "pragma enable_profiling",
    "attach '{dir}/other.duckdb' as o",
    "create table t (a int)",
    "insert into runs (run_id, suite) values ('x', 'y')",
    "export database '{dir}/dump'",
    "select 1; drop table runs",
    "select * from read_csv('/etc/hostname')",
    "select * from 'https://example.com/x.parquet'",
    "select * from glob('{dir}/*')",
    "call pragma_version()",
    "with x as (select 1) insert into runs (run_id, suite) select 'a', 'b'",
]


@pytest.mark.parametrize("sql", BYPASSES)
def test_query_cannot_write_or_reach_out(results, tmp_path, sql):
    home = Path.home() / ".duckdb"
    before = snapshot(tmp_path, home)
    result = runner.invoke(app, ["query", sql.format(dir=tmp_path), "--db", str(results)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert snapshot(tmp_path, home) == before


@pytest.mark.parametrize("sql", [
    "select count(*) from runs",
    "from lifecycle",
    "pivot metrics on metric using max(value) group by trial",
    "explain select * from trials",
    "explain analyze select * from trials",
    "describe runs",
    "with x as (select 1 as a) select a from x",
])
def test_query_reads(results, sql):
    result = runner.invoke(app, ["query", sql, "--db", str(results), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)


def test_query_json_is_strict_for_every_type(results):
    sql = ("select interval 1 day + interval 2 hours + interval 3.5 seconds as i, interval (-90) minutes as neg, "
           "12.50::decimal(6,2) as d, '00000000-0000-0000-0000-00000000002a'::uuid as u, 'ab'::blob as b, "
           "time '12:34:56.5' as t, timestamp '2026-11-27 10:00:00' as ts, date '2026-11-27' as dt, "
           "'nan'::double as nan, 'inf'::double as inf, [1.5, 'nan'::double] as l, {'k': 'infinity'::double} as s, "
           "'a'::varchar as v, 1::hugeint as h")
    result = runner.invoke(app, ["query", sql, "--db", str(results), "-f", "json"])
    assert result.exit_code == 0, result.output

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    row = json.loads(result.stdout, parse_constant=no_constants)[0]
    assert row == {"i": "P1DT2H3.5S", "neg": "-PT1H30M", "d": 12.5, "u": "00000000-0000-0000-0000-00000000002a",
                   "b": "YWI=", "t": "12:34:56.500000", "ts": "2026-11-27T10:00:00", "dt": "2026-11-27",
                   "nan": None, "inf": None, "l": [1.5, None], "s": {"k": None}, "v": "a", "h": 1}


def foreign(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create table customers (id int, name varchar)")
    con.execute("insert into customers values (1, 'a')")
    con.close()


def test_a_foreign_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "theirs.duckdb"
    foreign(path)
    before = snapshot(tmp_path)
    for attempt in (lambda: check_results_file(path), lambda: Store(path), lambda: Store(path, read_only=True)):
        with pytest.raises(StoreError, match=r"^not a raylife results file: it holds tables raylife did not create"):
            attempt()
    assert snapshot(tmp_path) == before


def test_an_empty_database_is_taken(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    check_results_file(path)
    with Store(path) as store:
        assert store.query("select value from meta where key = 'schema_version'")[1] == [(str(SCHEMA_VERSION),)]


def test_a_newer_schema_is_refused_before_anything(results):
    con = duckdb.connect(str(results))
    con.execute("update meta set value = '99' where key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match=f"schema version 99, newer than this raylife's {SCHEMA_VERSION}.*upgrade raylife"):
        check_results_file(results)


def test_a_leftover_wal_is_not_folded_in_by_the_check(tmp_path):
    path = tmp_path / "r.duckdb"
    Store(path).close()
    # A writer killed mid-run leaves committed rows in the write-ahead log, not yet in the file.
    code = (f"import duckdb, os; c = duckdb.connect({str(path)!r}); c.execute('checkpoint'); "
            "c.execute(\"insert into meta values ('note', 'x')\"); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert Path(f"{path}.wal").exists()
    before = snapshot(tmp_path)
    check_results_file(path)
    with Store(path, read_only=True) as store:
        assert store.query("select value from meta where key = 'note'")[1] == [("x",)]
    assert snapshot(tmp_path) == before


def test_resume_replaces_a_failed_trial_in_one_transaction(db_path, trial):  # noqa: F811
    with Store(db_path) as store:
        begin(store)
        failed = finished_record(trial)
        failed.status = "failed"
        store.write_trial(failed, CLUSTER)
        store.resume_run("r1", trials=1)
        store.write_trial(finished_record(trial), CLUSTER, run_wall_s=42.0, replaces=failed.trial_id)
        assert store.stored_trials("r1") == {trial.name: {"name": trial.name, "trial_id": failed.trial_id, "status": "ok"}}
        assert store.query("select count(*) from measurements")[1] == [(5,)]
        assert store.query("select wall_s, resumes, status from runs")[1] == [(42.0, 1, "running")]


def test_unwritable_folder_is_refused():
    """As a real unprivileged user (root writes anywhere, and tests here run as root): the folder check refuses."""
    setpriv = shutil.which("setpriv")
    as_user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 and setpriv else []
    if os.geteuid() == 0 and not as_user:
        pytest.fail("running as root without setpriv (util-linux): cannot test an unwritable folder")
    folder = Path(tempfile.mkdtemp(prefix="raylife-ro-"))
    try:
        folder.chmod(0o755)
        (folder / "ro").mkdir(mode=0o555)
        (folder / "ro").chmod(0o555)
        code = ("from raylife.store import check_results_file\n"
                f"check_results_file({str(folder / 'ro' / 'x.duckdb')!r})")
        result = subprocess.run([*as_user, sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 1 and "cannot create the database: directory" in result.stderr
        assert "is not writable" in result.stderr and list((folder / "ro").iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_read_connection_itself_refuses_writes_and_outside_access(results, tmp_path):
    """The second wall: DuckDB's locked read configuration holds even for SQL the statement check never sees."""
    import duckdb

    before = snapshot(tmp_path)
    with Store(results, read_only=True) as store:
        for sql in (f"copy (select 1) to '{tmp_path}/x.csv'", "set threads = 1", "install httpfs",
                    "select * from read_csv('/etc/hostname')", f"attach '{tmp_path}/o.duckdb' as o", "insert into meta values ('a', 'b')"):
            with pytest.raises(duckdb.Error):
                store.con.execute(sql)
    assert snapshot(tmp_path) == before
