"""The only module that talks to DuckDB. One writer: the driver, one transaction per finished trial."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from raylife.errors import StoreError
from raylife.records import TrialRecord, utcnow
from raylife.store.schema import MIGRATIONS, SCHEMA_VERSION, TABLES, VIEWS

DEFAULT_DB = "raylife.duckdb"
READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN"}


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and short: ``20261126-144501-3f2a``."""
    return f"{(now or utcnow()):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _translate(exc: Exception, path: Path) -> StoreError:
    text = str(exc)
    if "lock" in text.lower():
        return StoreError(
            "the database is locked by another process",
            where=str(path),
            hint="close the other raylife command or DuckDB client using it, or pass --db with another path",
        )
    if "permission" in text.lower() or "read-only file system" in text.lower():
        return StoreError("cannot write the database", where=str(path), hint="choose a writable path with --db")
    if "not a valid" in text.lower() or "unable to open" in text.lower() or "corrupt" in text.lower():
        return StoreError(
            f"not a DuckDB database: {text.splitlines()[0]}",
            where=str(path),
            hint="point --db at a raylife DuckDB file or a new path",
        )
    return StoreError(f"cannot open the database: {text.splitlines()[0]}", where=str(path))


def check_writable(path: str | Path) -> None:
    """Fail early, and without creating anything, when the database cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise StoreError("the database path is a directory", where=str(path), hint="give a file path, e.g. results.duckdb")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StoreError(
            f"the directory {parent} does not exist", where=str(path), hint=f"create it (mkdir -p {parent}) or choose another --db"
        )
    if path.exists():
        if not os.access(path, os.W_OK):
            raise StoreError("the database file is not writable", where=str(path), hint="fix its permissions or choose another --db")
        try:
            duckdb.connect(str(path)).close()
        except duckdb.Error as exc:
            raise _translate(exc, path) from None
    elif not os.access(parent, os.W_OK):
        raise StoreError(
            f"cannot create the database: directory {parent} is not writable",
            where=str(path),
            hint="choose a writable path with --db",
        )


class Store:
    """A raylife results database (created and migrated on first write)."""

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(
                "no results database here yet", where=str(self.path), hint="run `raylife submit SUITE` first, or pass --db"
            )
        if not read_only:
            check_writable(self.path)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None
        if read_only:
            self._check_version()
        else:
            self._migrate()

    # -- schema ---------------------------------------------------------------------------------
    def _version(self) -> int | None:
        # Look the table up rather than catching the error: a failed statement aborts the transaction.
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta' AND table_schema = 'main'"
        ).fetchone()[0]
        if not exists:
            return None
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else None

    def _check_version(self) -> None:
        version = self._version()
        if version is None:
            raise StoreError("not a raylife results database (no schema_version)", where=str(self.path))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database has schema version {version}, newer than this raylife's {SCHEMA_VERSION}",
                where=str(self.path),
                hint="upgrade raylife",
            )

    def _migrate(self) -> None:
        with self.transaction():
            version = self._version()
            if version is not None and version > SCHEMA_VERSION:
                self._check_version()
            self.con.execute(TABLES)
            for target, sql in MIGRATIONS:
                if version is not None and version < target:
                    self.con.execute(sql)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
            self.con.execute(VIEWS)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def begin_run(
        self,
        run_id: str,
        suite: str,
        description: str,
        suite_path: str,
        spec_toml: str,
        trials: int,
        ray_address: str,
        cluster: dict[str, Any],
        ray_start_s: float,
        raylife_version: str,
        git_commit: str | None,
        submitted_at: datetime,
        serve_start_s: float | None = None,
    ) -> None:
        with self.transaction():
            self.con.execute(
                "INSERT INTO runs (run_id, suite, description, suite_path, spec_toml, submitted_at, status, trials, "
                "failed_trials, ray_address, cluster, ray_start_s, raylife_version, git_commit, serve_start_s) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, 0, ?, ?, ?, ?, ?, ?)",
                [run_id, suite, description, suite_path, spec_toml, submitted_at, trials, ray_address,
                 json.dumps(cluster), ray_start_s, raylife_version, git_commit, serve_start_s],
            )

    def finish_run(self, run_id: str, status: str, wall_s: float, failed_trials: int) -> None:
        with self.transaction():
            self.con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, wall_s = ?, failed_trials = ? WHERE run_id = ?",
                [status, utcnow(), wall_s, failed_trials, run_id],
            )

    def write_trial(self, record: TrialRecord, cluster: dict[str, Any]) -> None:
        """Everything one trial measured, in one transaction: all of it lands or none of it."""
        t = record.trial
        wall_s = (record.finished_at - record.started_at).total_seconds() if record.finished_at else None
        with self.transaction():
            self.con.execute(
                "INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [record.trial_id, record.run_id, t.index, t.name, t.workload, t.model, t.framework, t.dataset_label,
                 t.device, t.num_workers, json.dumps(t.params()), record.status, record.error, record.traceback,
                 record.started_at, record.finished_at, wall_s],
            )
            env = record.environment
            if env:
                versions = env.get("versions", {})
                self.con.execute(
                    "INSERT INTO environments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [record.trial_id, env.get("hostname"), env.get("cpu"), env.get("cpu_count"), env.get("gpu"),
                     env.get("gpu_count"), env.get("memory_gb"), env.get("os"), env.get("python"),
                     versions.get("ray"), versions.get("torch"), versions.get("tensorflow"),
                     versions.get("tf_keras") or versions.get("keras"), json.dumps(versions),
                     cluster.get("nodes"), cluster.get("cpus"), cluster.get("gpus"), cluster.get("memory_gb")],
                )
            if record.measurements:
                self.con.executemany(
                    "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?)",
                    [[record.trial_id, m.stage, m.metric, m.value, m.unit, json.dumps(m.labels)]
                     for m in record.measurements],
                )
            for batch in record.latencies:
                self._insert_latencies(record.trial_id, batch)
            if record.epochs:
                self.con.executemany(
                    "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[record.trial_id, e["phase"], e["epoch"], e.get("train_loss"), e.get("eval_loss"),
                      e.get("accuracy"), e.get("epoch_s"), e.get("elapsed_s"), e.get("samples_per_s")]
                     for e in record.epochs],
                )

    LATENCY_COLUMNS = ("trial_id", "phase", "path", "batch_size", "concurrency", "offered_rps", "seq", "sent_s",
                       "latency_ms", "ok", "error", "version", "replica")

    def _insert_latencies(self, trial_id: str, batch: dict[str, Any]) -> None:
        """Raw request samples through Arrow: ~0.1 s per million rows, where executemany takes minutes."""
        import pyarrow as pa

        n = len(batch["seq"])
        table = pa.table({
            "trial_id": pa.array([trial_id] * n, pa.string()),
            "phase": pa.array([batch["phase"]] * n, pa.string()),
            "path": pa.array([batch["path"]] * n, pa.string()),
            "batch_size": pa.array([batch["batch_size"]] * n, pa.int32()),
            "concurrency": pa.array([batch["concurrency"]] * n, pa.int32()),
            "offered_rps": pa.array([batch["offered_rps"]] * n, pa.float64()),
            "seq": pa.array(batch["seq"], pa.int32()),
            "sent_s": pa.array(batch["sent_s"], pa.float64()),
            "latency_ms": pa.array(batch["latency_ms"], pa.float64()),
            "ok": pa.array(batch["ok"], pa.bool_()),
            "error": pa.array(batch["error"], pa.string()),
            "version": pa.array(batch["version"], pa.string()),
            "replica": pa.array(batch["replica"], pa.string()),
        })
        self.con.register("raylife_latency_batch", table)
        try:
            columns = ", ".join(self.LATENCY_COLUMNS)
            self.con.execute(f"INSERT INTO latencies ({columns}) SELECT {columns} FROM raylife_latency_batch")
        finally:
            self.con.unregister("raylife_latency_batch")

    # -- reading ------------------------------------------------------------------------------
    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT run_id, suite, status, trials, failed_trials, submitted_at, wall_s, ray_address "
            "FROM runs ORDER BY submitted_at DESC LIMIT ?",
            [limit],
        )

    def resolve_run(self, ref: str) -> str:
        """A run id from ``last``, a full id, or a unique prefix."""
        if ref == "last":
            found = self.rows("SELECT run_id FROM runs ORDER BY submitted_at DESC LIMIT 1")
        else:
            found = self.rows("SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id", [ref])
        if not found:
            raise StoreError(f"no run '{ref}'", where=str(self.path), hint="list runs with `raylife runs`")
        if len(found) > 1:
            ids = ", ".join(r["run_id"] for r in found[:5])
            raise StoreError(f"run '{ref}' is ambiguous ({ids}, …)", where=str(self.path), hint="give more of the id")
        return found[0]["run_id"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.rows("SELECT * FROM runs WHERE run_id = ?", [run_id])[0]

    def lifecycle(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM lifecycle WHERE run_id = ? ORDER BY trial_id", [run_id])

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run read-only SQL; any statement that could write is refused before it runs."""
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise StoreError(f"invalid SQL: {str(exc).splitlines()[0]}", hint="check the query") from None
        for statement in statements:
            kind = statement.type.name
            if kind not in READ_ONLY_STATEMENTS:
                raise StoreError(
                    f"refused: raylife query is read-only and this is a {kind} statement",
                    hint="use SELECT (or EXPLAIN); to change the data, open the file with a DuckDB client",
                )
        try:
            cursor = self.con.execute(sql)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, cursor.fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {str(exc).splitlines()[0]}", hint="check the SQL against `raylife query --schema`") from None
