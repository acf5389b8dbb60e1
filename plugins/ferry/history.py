"""Run history: one record per export run, in a SQLite table anyone can query.

SQLite (not the DuckDB warehouse) because many tasks write small records at once and
SQLite's locking handles that; a rerun of the same run replaces its record.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ferry import paths
from ferry.manifest import Manifest
from ferry.plan import RunInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    job_run_id TEXT PRIMARY KEY,
    export_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    triggered_by TEXT,
    started_at TEXT,
    finished_at TEXT,
    duration_s REAL,
    outcome TEXT NOT NULL,
    reason TEXT,
    rows INTEGER,
    files INTEGER,
    bytes INTEGER,
    destinations TEXT,
    staged_files TEXT
)
"""


@dataclass(frozen=True)
class RunRecord:
    """What one run did: the row of the runs table."""

    job_run_id: str
    export_id: str
    run_id: str
    triggered_by: str
    started_at: str | None
    finished_at: str
    duration_s: float
    outcome: str  # success | empty | skipped | failed
    reason: str = ""
    rows: int = 0
    files: int = 0
    bytes: int = 0
    destinations: str = "[]"  # JSON: receipts (name, type, files with locations)
    staged_files: str = "[]"  # JSON: name, rows, bytes, sha256

    @classmethod
    def from_manifest(
        cls,
        run: RunInfo,
        manifest: Manifest,
        receipts: list[dict],
        *,
        started_at: dt.datetime | None,
        finished_at: dt.datetime,
    ) -> RunRecord:
        duration = (finished_at - started_at).total_seconds() if started_at else 0.0
        return cls(
            job_run_id=run.job_run_id, export_id=run.export_id, run_id=run.run_id,
            triggered_by=run.triggered_by,
            started_at=started_at.isoformat() if started_at else None,
            finished_at=finished_at.isoformat(), duration_s=round(duration, 3),
            outcome="empty" if manifest.rows == 0 else "success",
            rows=manifest.rows, files=len(manifest.data_files), bytes=manifest.bytes,
            destinations=json.dumps(receipts, default=str),
            staged_files=json.dumps([asdict(f) for f in manifest.files]),
        )  # fmt: skip


def database_path() -> Path:
    return paths.ferry_home() / "history.sqlite"


@contextmanager
def _connection() -> Iterator[sqlite3.Connection]:
    path = database_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30)) as connection, connection:
        connection.execute(SCHEMA)
        yield connection


def record_run(record: RunRecord) -> None:
    """Insert or replace the record of a run (a rerun of the same run replaces it)."""
    names = [f.name for f in fields(RunRecord)]
    marks = ", ".join("?" * len(names))
    with _connection() as connection:
        connection.execute(
            f"INSERT OR REPLACE INTO runs ({', '.join(names)}) VALUES ({marks})",
            [getattr(record, name) for name in names],
        )


def record_skip(run: RunInfo, reason: str) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    record_run(RunRecord(run.job_run_id, run.export_id, run.run_id, run.triggered_by,
                         None, now, 0.0, "skipped", reason))  # fmt: skip


def list_runs(export_id: str | None = None, limit: int = 50) -> list[RunRecord]:
    """The newest runs first, of one export or of all."""
    query = "SELECT * FROM runs"
    params: tuple = ()
    if export_id:
        query, params = query + " WHERE export_id = ?", (export_id,)
    with _connection() as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(query + " ORDER BY finished_at DESC LIMIT ?", (*params, limit))
        return [RunRecord(**dict(row)) for row in rows]
