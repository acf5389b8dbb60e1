"""The download audit trail: who fetched which file of which run, when, and how much of it.

One row per download served (a Range request is a row of its own, with its range), in the
run history's SQLite file beside the runs table, so the audit and the runs are one place:

    sqlite3 $FERRY_HOME/history.sqlite "SELECT at, username, job_run_id, file FROM downloads"
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields

from ferry.history import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS downloads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    job_run_id TEXT NOT NULL,
    export_id TEXT NOT NULL,
    file TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    range TEXT NOT NULL,
    status INTEGER NOT NULL
)
"""
INDEX = "CREATE INDEX IF NOT EXISTS downloads_by_run ON downloads (job_run_id)"


@dataclass(frozen=True)
class DownloadRecord:
    """One download served: a row of the downloads table."""

    at: str  # ISO time, UTC
    username: str
    job_run_id: str
    export_id: str
    file: str
    bytes: int  # bytes sent: the whole file, or the range's length
    range: str  # "" for the whole file, else "bytes=START-END/SIZE"
    status: int  # 200 or 206

    @classmethod
    def now(cls, **values) -> DownloadRecord:
        return cls(at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **values)


def _connection() -> AbstractContextManager[sqlite3.Connection]:
    return open_database(SCHEMA, INDEX)


def record_download(record: DownloadRecord) -> None:
    names = [f.name for f in fields(DownloadRecord)]
    with _connection() as connection:
        connection.execute(
            f"INSERT INTO downloads ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [getattr(record, name) for name in names],
        )


def list_downloads(owner: str | None = None, limit: int = 50) -> list[DownloadRecord]:
    """The newest downloads first: of one export, of one run (JobID.RunID), or of all."""
    query, params = "SELECT * FROM downloads", []
    if owner:
        query, params = query + " WHERE export_id = ? OR job_run_id = ?", [owner, owner]
    with _connection() as connection:
        rows = connection.execute(query + " ORDER BY at DESC, id DESC LIMIT ?", (*params, limit))
        return [DownloadRecord(**{k: v for k, v in dict(row).items() if k != "id"}) for row in rows]
