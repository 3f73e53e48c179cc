"""Running the real CLI in a subprocess, as a user would, and reading the database it wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import duckdb

from tests.conftest import RAYLIFE, REPO


def submit(suite: Path, db: Path, storage: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*RAYLIFE, "submit", str(suite), "--db", str(db), "--storage-path", str(storage), *extra],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, r)) for r in cursor.fetchall()]
    finally:
        con.close()


def metric(db: Path, trial_name: str, stage: str, name: str) -> list[dict[str, Any]]:
    return rows(db, "SELECT value, unit, labels FROM metrics WHERE trial = ? AND stage = ? AND metric = ?",
                [trial_name, stage, name])
