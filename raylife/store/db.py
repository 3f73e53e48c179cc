"""The only module that talks to DuckDB. One writer: the driver, one transaction per finished trial."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from raylife.errors import StoreError
from raylife.records import TrialRecord, utcnow
from raylife.store.schema import MIGRATIONS, SCHEMA_VERSION, TABLES, param, views_sql

if TYPE_CHECKING:
    from raylife.measure.environment import ClusterInfo, Fingerprint

DEFAULT_DB = "raylife.duckdb"


@dataclass
class StoredConfig:
    """One serving configuration of a stored trial, as its TrialRecord held it (``Store.stored_configs``)."""

    measurements: list[Any] = field(default_factory=list)  # records.Measurement
    latencies: list[Any] = field(default_factory=list)  # records.LatencyBatch
    timeline: list[Any] = field(default_factory=list)  # records.TimelineRow
# Reading results needs nothing outside the file: DuckDB itself refuses file and network access, extension
# installs and loads, and configuration changes (locked), whatever SQL a user passes to `raylife query`.
READ_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
_EXPLAIN = re.compile(r"^\s*explain\s+(analy[sz]e\s+)?", re.IGNORECASE)
_PIVOT = re.compile(r"^\s*(un)?pivot\b", re.IGNORECASE)


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


def _check_location(path: Path) -> None:
    if path.is_dir():
        raise StoreError("the database path is a directory", where=str(path), hint="give a file path, e.g. results.duckdb")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StoreError(
            f"the directory {parent} does not exist", where=str(path), hint=f"create it (mkdir -p {parent}) or choose another --db"
        )


def _open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read connection: replays a leftover WAL in memory only, never into the file; no outside access."""
    try:
        return duckdb.connect(str(path), read_only=True, config=READ_CONFIG)
    except duckdb.Error as exc:
        raise _translate(exc, path) from None


def _schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """raylife's schema version, None for a file raylife did not make; 0 for an empty database."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    if not tables:
        return 0
    if "meta" not in tables:
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def _version_problem(version: int | None, path: Path) -> StoreError | None:
    if version is None:
        return StoreError(
            "not a raylife results file: it holds tables raylife did not create", where=str(path),
            hint="pass --db with a new path (or an existing raylife results file); raylife never adds its tables to another tool's database",
        )
    if version > SCHEMA_VERSION:
        return StoreError(
            f"the results file has schema version {version}, newer than this raylife's {SCHEMA_VERSION}", where=str(path),
            hint="upgrade raylife (pip install -U raylife, or git pull && make install) to write to it, or pass --db with another file",
        )
    return None


def check_results_file(path: str | Path) -> None:
    """Everything about the results file that can fail, checked before Ray starts and without writing:
    its folder exists and is writable, and an existing file is a raylife results file (or empty) of a schema
    this raylife can write. A leftover write-ahead log stays as it is (read-only opens never fold it in)."""
    path = Path(path)
    _check_location(path)
    if not path.exists():
        if not os.access(path.parent if str(path.parent) else Path("."), os.W_OK):
            raise StoreError(f"cannot create the database: directory {path.parent} is not writable", where=str(path),
                             hint="choose a writable path with --db")
        return
    if not os.access(path, os.W_OK):
        raise StoreError("the database file is not writable", where=str(path), hint="fix its permissions or choose another --db")
    con = _open_read_only(path)
    try:
        problem = _version_problem(_schema_version(con), path)
    finally:
        con.close()
    if problem is not None:
        raise problem


def _machine(env: Fingerprint | None) -> dict[str, Any]:
    """A placement's machine columns; NULL where the process could not say."""
    if env is None:
        return dict.fromkeys(("hostname", "cpu", "cpu_count", "memory_gb", "gpu", "gpu_count"))
    return {"hostname": env.hostname, "cpu": env.cpu, "cpu_count": env.cpu_count, "memory_gb": env.memory_gb,
            "gpu": env.gpu, "gpu_count": env.gpu_count}


class Store:
    """A raylife results database (created and migrated on first write)."""

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        _check_location(self.path)
        if read_only and not self.path.exists():
            raise StoreError(
                "no results database here yet", where=str(self.path), hint="run `raylife submit SUITE` first, or pass --db"
            )
        if read_only:
            self.con = _open_read_only(self.path)
            self._check_version()
            return
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise _translate(exc, self.path) from None
        try:
            self._migrate()
        except BaseException:
            self.con.close()
            raise

    # -- schema ---------------------------------------------------------------------------------
    def _check_version(self) -> None:
        version = _schema_version(self.con)
        problem = (StoreError("no raylife results in this database yet (it is empty)", where=str(self.path),
                              hint="run `raylife submit SUITE --db` with it first")
                   if version == 0 else _version_problem(version, self.path))
        if problem is not None:
            self.con.close()
            raise problem

    def _migrate(self) -> None:
        with self.transaction():
            version = _schema_version(self.con)
            problem = _version_problem(version, self.path)
            if problem is not None:
                raise problem  # the transaction rolls back: nothing is added to a file raylife does not own
            version = version or None  # 0: an empty file, created below like a new one
            self.con.execute(TABLES)
            for target, sql in MIGRATIONS:
                if version is not None and version < target:
                    self.con.execute(sql)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
            self.con.execute(views_sql())

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
        cluster: ClusterInfo,
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
                 json.dumps(cluster.as_json()), ray_start_s, raylife_version, git_commit, serve_start_s],
            )

    def finish_run(self, run_id: str, status: str, wall_s: float, failed_trials: int) -> None:
        with self.transaction():
            self.con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, wall_s = ?, failed_trials = ? WHERE run_id = ?",
                [status, utcnow(), wall_s, failed_trials, run_id],
            )

    def resume_run(self, run_id: str, trials: int) -> None:
        """Mark a stored run as running again (``submit --resume``)."""
        with self.transaction():
            self.con.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, trials = ?, resumes = coalesce(resumes, 0) + 1 "
                "WHERE run_id = ?", [trials, run_id],
            )

    def stored_trials(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The run's stored trials by run key (the name, and the repeat when the suite repeats): trial_id and status."""
        rows = self.rows(
            f"SELECT CASE WHEN coalesce(CAST({param('repeats', 'trials')} AS INTEGER), 1) > 1 "
            "THEN name || '#' || (coalesce(repeat, 0) + 1) ELSE name END AS name, trial_id, status "
            "FROM trials WHERE run_id = ?", [run_id])
        return {r["name"]: r for r in rows}

    TRIAL_TABLES = ("timeline", "latencies", "token_requests", "epochs", "placements", "measurements", "environments", "trials")

    def write_trial(
        self, record: TrialRecord, cluster: ClusterInfo, *, run_wall_s: float | None = None, replaces: str | None = None
    ) -> None:
        """Everything one trial measured, in one transaction: all of it lands or none of it.

        ``run_wall_s`` updates the run's wall time with it, so a driver killed later leaves a run whose time is
        right up to its last stored trial; ``replaces`` is a stored (failed) trial of the same run that a
        resumed run ran again: it goes in the same transaction, so nothing is lost or doubled.
        """
        t = record.trial
        wall_s = (record.finished_at - record.started_at).total_seconds() if record.finished_at else None
        with self.transaction():
            # the trial's own earlier write goes too: a trial with serving configurations is written after each one
            # (what `submit --resume` continues from), then once more when it ends
            for trial_id in dict.fromkeys(t for t in (replaces, record.trial_id) if t is not None):
                for table in self.TRIAL_TABLES:
                    self.con.execute(f"DELETE FROM {table} WHERE trial_id = ?", [trial_id])
            if run_wall_s is not None:
                self.con.execute("UPDATE runs SET wall_s = ? WHERE run_id = ?", [run_wall_s, record.run_id])
            self._insert("trials", [{
                "trial_id": record.trial_id, "run_id": record.run_id, "idx": t.index, "name": t.name,
                "workload": t.workload, "model": t.model, "framework": t.framework, "dataset": t.dataset_label,
                "device": t.device, "num_workers": t.num_workers, "params": json.dumps(t.params()),
                "status": record.status, "error": record.error, "traceback": record.traceback,
                "started_at": record.started_at, "finished_at": record.finished_at, "wall_s": wall_s,
                "variant": t.key.variant, "repeat": t.repeat,
            }])
            env = record.environment
            if env is not None:
                versions = dict(env.versions)
                self._insert("environments", [{
                    "trial_id": record.trial_id, "hostname": env.hostname, "cpu": env.cpu, "cpu_count": env.cpu_count,
                    "gpu": env.gpu, "gpu_count": env.gpu_count, "memory_gb": env.memory_gb, "os": env.os,
                    "python": env.python, "ray": versions.get("ray"), "torch": versions.get("torch"),
                    "tensorflow": versions.get("tensorflow"), "keras": env.keras, "versions": json.dumps(versions),
                    "nodes": cluster.node_count, "cluster_cpus": cluster.cpus, "cluster_gpus": cluster.gpus,
                    "cluster_memory_gb": cluster.memory_gb,
                }])
            self._insert("measurements", [
                {"trial_id": record.trial_id, "stage": m.stage, "metric": m.metric, "value": m.value, "unit": m.unit,
                 "labels": json.dumps(m.labels), "repeat": m.repeat}
                for m in record.measurements
            ])
            for batch in record.latencies:
                self._insert_latencies(record.trial_id, batch)
            self._insert("token_requests", [{"trial_id": record.trial_id, **asdict(r)} for r in record.token_requests])
            self._insert("timeline", [{"trial_id": record.trial_id, **row.columns()} for row in record.timeline])
            quality = record.trial.measures_quality  # random inputs: validation figures are of nothing, kept NULL
            self._insert("epochs", [
                {"trial_id": record.trial_id, "phase": phase, "epoch": e.epoch, "train_loss": e.train_loss,
                 "eval_loss": e.eval_loss if quality else None, "accuracy": e.accuracy if quality else None,
                 "epoch_s": e.epoch_s, "elapsed_s": e.elapsed_s, "samples_per_s": e.samples_per_s}
                for phase, e in record.epochs
            ])
            self._insert("placements", [
                {"trial_id": record.trial_id, "stage": p.stage, "role": p.role, "rank": p.rank, "node_id": p.node_id,
                 **_machine(p.environment)}
                for p in record.placements
            ])

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Rows by column name: a column added to the schema, or reordered, can never shift values."""
        if not rows:
            return
        columns = list(rows[0])
        self.con.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [[row[c] for c in columns] for row in rows],
        )

    LATENCY_COLUMNS = ("trial_id", "phase", "path", "batch_size", "concurrency", "offered_rps", "seq", "sent_s",
                       "latency_ms", "ok", "error", "version", "replica", "repeat", "config")

    def _insert_latencies(self, trial_id: str, latencies: Any) -> None:
        """Raw request samples (a ``records.LatencyBatch``) through Arrow: ~0.1 s per million rows, where executemany
        takes minutes."""
        import pyarrow as pa

        batch = asdict(latencies)
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
            "repeat": pa.array([batch.get("repeat", 0)] * n, pa.int32()),
            "config": pa.array([batch.get("config")] * n, pa.string()),
        })
        self.con.register("raylife_latency_batch", table)
        try:
            columns = ", ".join(self.LATENCY_COLUMNS)
            self.con.execute(f"INSERT INTO latencies ({columns}) SELECT {columns} FROM raylife_latency_batch")
        finally:
            self.con.unregister("raylife_latency_batch")

    def stored_configs(self, trial_id: str) -> dict[str, StoredConfig]:
        """The serving configurations a stored (interrupted) trial measured, by key: their measurements, raw requests
        and timeline rows, in the shapes a TrialRecord holds them, for a resumed trial to take over unmeasured."""
        from raylife.records import Measurement

        measured = self.rows("SELECT labels->>'config' AS config FROM measurements WHERE trial_id = ? AND stage = 'deploy' "
                             "AND metric = 'serving_config' ORDER BY value", [trial_id])
        found: dict[str, StoredConfig] = {r["config"]: StoredConfig() for r in measured}
        for r in self.rows('SELECT stage, metric, value, unit, labels, "repeat" FROM measurements WHERE trial_id = ? '
                           "ORDER BY rowid", [trial_id]):
            labels = json.loads(r["labels"] or "{}")
            if labels.get("config") in found:
                found[labels["config"]].measurements.append(
                    Measurement(r["stage"], r["metric"], r["value"], r["unit"], labels, r["repeat"] or 0))
        from raylife.clients.scaling import Second
        from raylife.records import LatencyBatch, TimelineRow

        columns = [c for c in self.LATENCY_COLUMNS if c != "trial_id"]
        quoted = ", ".join(f'"{c}"' for c in columns)  # "repeat" is a keyword
        batch_key = ("phase", "path", "batch_size", "concurrency", "offered_rps", "repeat", "config")
        per_request = ("seq", "sent_s", "latency_ms", "ok", "error", "version", "replica")
        batches: list[tuple[str, dict[str, Any]]] = []
        last: tuple[Any, ...] | None = None
        for r in self.rows(f"SELECT {quoted} "
                           "FROM latencies WHERE trial_id = ? AND config IS NOT NULL ORDER BY rowid", [trial_id]):
            if r["config"] not in found:
                continue
            key = tuple(r[k] for k in batch_key)
            if key != last or not batches:
                batches.append((r["config"], {**{k: r[k] for k in batch_key}, **{k: [] for k in per_request}}))
                last = key
            for k in per_request:
                batches[-1][1][k].append(r[k])
        for config, columns_of in batches:
            found[config].latencies.append(LatencyBatch(**columns_of))
        for r in self.rows("SELECT * EXCLUDE (trial_id) FROM timeline WHERE trial_id = ? ORDER BY rowid", [trial_id]):
            if r["config"] in found:
                stage, config = r.pop("stage"), r.pop("config")
                found[config].timeline.append(TimelineRow(stage, config, Second(**r)))
        return found

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
        if not ref.strip():
            raise StoreError("no run given (an empty run id)", hint="give a run id, a unique prefix of one, or 'last'")
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

    def _check_read_only(self, statement: Any) -> None:
        """SELECT, PIVOT, or EXPLAIN [ANALYZE] of one of them; anything else is refused before it runs.
        (DuckDB's locked read configuration is the second wall: see READ_CONFIG.)"""
        kind, text = statement.type.name, statement.query
        explained = _EXPLAIN.match(text)
        if kind == "EXPLAIN" and explained:
            inner = self.con.extract_statements(text[explained.end():])
            if len(inner) == 1 and self._readable(inner[0].type.name, inner[0].query):
                return
            kind = f"EXPLAIN of a {inner[0].type.name if inner else 'non-query'}"
        elif self._readable(kind, text):
            return
        raise StoreError(
            f"refused: raylife query is read-only and this is a {kind} statement",
            hint="use SELECT, PIVOT or EXPLAIN; to change the data, open the file with a DuckDB client",
        )

    @staticmethod
    def _readable(kind: str, text: str) -> bool:
        # DuckDB reports PIVOT as MULTI (it expands to several statements); only a PIVOT is let through.
        return kind == "SELECT" or (kind == "MULTI" and _PIVOT.match(text) is not None)

    def latency_summary(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT * FROM latency_summary WHERE run_id = ? ORDER BY trial_id, path, batch_size, concurrency", [run_id]
        )

    def token_summary(self, run_id: str) -> list[dict[str, Any]]:
        """A decoder's streams per trial and concurrency level, with the stored cell figures (tokens/s, goodput); none
        from a file written before schema 9 (opened read-only, it has no token_requests to read)."""
        known = self.con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'token_summary'").fetchone()[0]
        if not known:
            return []
        return self.rows(
            "SELECT s.*, " + ", ".join(
                f"(SELECT max(value) FROM measurements m WHERE m.trial_id = s.trial_id AND m.stage = 'serve' AND "
                f"m.metric = '{metric}' AND CAST(m.labels->>'concurrency' AS INTEGER) IS NOT DISTINCT FROM "
                f"s.concurrency AND CAST(m.labels->>'offered_rps' AS DOUBLE) IS NOT DISTINCT FROM s.offered_rps) "
                f"AS {metric}" for metric in ("output_tokens_per_s", "token_goodput_rps")) +
            " FROM token_summary s WHERE run_id = ? ORDER BY trial_id, phase DESC, concurrency, offered_rps", [run_id])

    def load_summary(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM load_summary WHERE run_id = ? ORDER BY trial_id, offered_rps", [run_id])

    def max_rps_at_slo(self, run_id: str) -> dict[tuple[str, str | None], dict[str, Any]]:
        """Per (trial_id, serving configuration or None): the max_rps_at_slo measurement (value and labels)."""
        rows = self.rows("SELECT trial_id, value, labels FROM metrics WHERE run_id = ? AND metric = 'max_rps_at_slo'",
                         [run_id])
        out = {}
        for r in rows:
            labels = json.loads(r["labels"] or "{}")
            out[(r["trial_id"], labels.get("config"))] = {"value": r["value"], "labels": labels}
        return out

    def confirmed(self, run_id: str) -> list[dict[str, Any]]:
        """A serving search's best configurations measured again, and the best of them, per trial (in order)."""
        return self.rows("SELECT trial, metric, value, labels FROM metrics WHERE run_id = ? AND metric IN "
                         "('serving_config_confirmed', 'serving_config_best') ORDER BY trial, metric DESC", [run_id])

    def serving_configs(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM serving_configs WHERE run_id = ? ORDER BY trial_id, config_index", [run_id])

    def scaling(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM scaling WHERE run_id = ? ORDER BY trial_id, config", [run_id])

    def timeline(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM load_timeline WHERE run_id = ? ORDER BY trial_id, config, second", [run_id])

    def metric_stats(self, run_ids: list[str]) -> list[dict[str, Any]]:
        marks = ", ".join("?" * len(run_ids))
        return self.rows(f"SELECT * FROM metric_stats WHERE run_id IN ({marks}) ORDER BY run_id, trial, stage, metric",
                         list(run_ids))

    # What a serving configuration replaces in its trial's row when candidates are model x configuration.
    CONFIG_COLUMNS = ("p50_ms_small", "p99_ms_small", "small_batch", "peak_throughput_rps", "peak_samples_per_s",
                      "usd_per_million_predictions", "max_rps_at_slo", "deploy_ready_s", "replica_rss_mb")

    def tail_answers(self, run_ids: list[str]) -> dict[tuple[str, str | None], dict[str, tuple[list[float], int]]]:
        """Per (trial_id, serving configuration or None): the raw answers of the closed-loop HTTP cells that
        ``p*_ms_small`` and ``p*_ms_large`` are taken over — the smallest batch at the fewest clients, the largest
        batch at the fewest — as (latencies of the answered requests, failed requests), every serve repeat pooled."""
        marks = ", ".join("?" * len(run_ids))
        cells: dict[tuple[str, str | None], dict[tuple[int, int], tuple[list[float], int]]] = {}
        for r in self.rows(
            "SELECT l.trial_id, l.config, l.batch_size, l.concurrency, "
            "list(l.latency_ms) FILTER (WHERE l.ok) AS ok_ms, count(*) FILTER (WHERE NOT l.ok) AS failed "
            f"FROM latencies l JOIN trials t USING (trial_id) WHERE t.run_id IN ({marks}) AND l.phase = 'serve' "
            "AND l.path = 'http' GROUP BY ALL", list(run_ids)):
            cells.setdefault((r["trial_id"], r["config"]), {})[(r["batch_size"], r["concurrency"])] = (
                list(r["ok_ms"] or []), int(r["failed"]))
        out = {}
        for key, by_cell in cells.items():
            small = min(by_cell, key=lambda c: c[0] * 100000 + c[1])
            large = max(by_cell, key=lambda c: c[0] * 100000 - c[1])
            out[key] = {"small": by_cell[small], "large": by_cell[large]}
        return out

    def candidates(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """Every finished trial of the runs: the lifecycle view's columns with the costs view's. A trial with serving
        configurations is one candidate per configuration measured (``trial @ config``), with that configuration's
        serving figures; its training figures are the trial's."""
        marks = ", ".join("?" * len(run_ids))
        trials = self.rows(
            "SELECT l.*, c.train_usd, c.retrain_usd, c.evaluate_usd, c.persist_usd, c.deploy_usd, "
            "c.usd_per_million_predictions, c.reconfigure_usd, c.rollout_usd, c.train_kwh, c.retrain_kwh, c.eval_kwh, "
            "c.serve_kwh FROM lifecycle l LEFT JOIN costs c USING (trial_id) "
            f"WHERE l.run_id IN ({marks}) AND l.status = 'ok' ORDER BY l.run_id, l.trial", list(run_ids))
        configs: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows(f"SELECT * FROM serving_configs WHERE run_id IN ({marks}) AND ok "
                             "ORDER BY trial_id, config_index", list(run_ids)):
            configs.setdefault(row["trial_id"], []).append(row)
        out = []
        for row in trials:
            for config in configs.get(row["trial_id"], [None]):
                if config is None:
                    out.append(row)
                    continue
                out.append({**row, "trial": f"{row['trial']} @ {config['config']}", "config": config["config"],
                            **{c: config[c] for c in self.CONFIG_COLUMNS}})
        return out

    def latest_run_of(self, suite: str) -> str | None:
        """The newest run of a suite (``submit --resume`` without a run id); None when it has none."""
        found = self.rows("SELECT run_id FROM runs WHERE suite = ? ORDER BY submitted_at DESC LIMIT 1", [suite])
        return found[0]["run_id"] if found else None

    def run_machines(self, run_id: str) -> list[dict[str, Any]]:
        """The distinct machines a run's trials ran on (the report's platform line)."""
        return self.rows(
            "SELECT DISTINCT e.hostname, e.cpu, e.cpu_count, e.gpu, e.gpu_count, t.device, e.ray, e.torch, e.tensorflow "
            "FROM trials t JOIN environments e USING (trial_id) WHERE t.run_id = ?", [run_id])

    def training_curves(self, run_id: str) -> list[dict[str, Any]]:
        """Validation accuracy over training time, per finished trial and repeat."""
        return self.rows(
            "SELECT t.name AS trial, t.\"repeat\" AS rep, e.epoch, e.elapsed_s, e.accuracy FROM epochs e JOIN trials t "
            "USING (trial_id) WHERE t.run_id = ? AND e.phase = 'train' AND t.status = 'ok' ORDER BY t.name, rep, e.epoch",
            [run_id])

    def update_timelines(self, run_id: str) -> list[dict[str, Any]]:
        """Every request sent around each live update (first repeat), with the update's window."""
        return self.rows(
            "SELECT t.name AS trial, l.phase, l.sent_s, l.latency_ms, l.ok, m.labels->>'window_start_s' AS start_s, "
            "m.labels->>'window_end_s' AS end_s FROM latencies l JOIN trials t USING (trial_id) "
            "JOIN measurements m ON m.trial_id = l.trial_id AND m.stage = 'update' AND m.metric = 'update_s' "
            "AND 'update-' || (m.labels->>'strategy') = l.phase "
            "WHERE t.run_id = ? AND t.\"repeat\" = 0 AND l.phase LIKE 'update-%' ORDER BY t.name, l.phase, l.sent_s",
            [run_id])

    def accuracy_targets(self, run_id: str) -> dict[str, float]:
        """Per trial name: the accuracy its suite aimed for (train.target_accuracy), where it set one."""
        rows = self.rows(
            f"SELECT name AS trial, CAST({param('target_accuracy', 'trials')} AS DOUBLE) AS target FROM trials "
            "WHERE run_id = ?", [run_id])
        return {r["trial"]: r["target"] for r in rows if r["target"] is not None}

    def measurements(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT trial, stage, metric, value, unit, labels FROM metrics WHERE run_id = ? ORDER BY trial_id, stage, metric",
            [run_id],
        )

    def stage_times(self, run_id: str) -> list[dict[str, Any]]:
        """Per trial: each stage's wall time and raylife's overhead (``stage`` = 'overhead'), in seconds."""
        return self.rows(
            "SELECT trial_id, trial, CASE WHEN metric = 'overhead_s' THEN 'overhead' ELSE stage END AS stage, value "
            "FROM metrics WHERE run_id = ? AND metric IN ('stage_wall_s', 'overhead_s') ORDER BY trial_id",
            [run_id],
        )

    def trial_walls(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows("SELECT trial_id, name AS trial, wall_s, started_at, finished_at FROM trials WHERE run_id = ? "
                         "ORDER BY idx", [run_id])

    def schema(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Every table and view of the file with its columns and their types."""
        return self.query(
            "SELECT table_name AS \"table\", string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) "
            "AS columns FROM information_schema.columns WHERE table_schema = 'main' GROUP BY table_name ORDER BY table_name"
        )

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run read-only SQL; any statement that could write is refused before it runs."""
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise StoreError(f"invalid SQL: {str(exc).splitlines()[0]}", hint="check the query") from None
        if not statements:
            raise StoreError("no SQL statement given", hint='pass a query, e.g. "select * from lifecycle"')
        for statement in statements:
            self._check_read_only(statement)
        try:
            cursor = self.con.execute(sql)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, cursor.fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {str(exc).splitlines()[0]}", hint="check the SQL against `raylife query --schema`") from None
