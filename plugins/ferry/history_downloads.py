"""The download audit trail: who fetched which file of which run, when, and how much of it.

One row per download served (a Range request is a row of its own, with its range), in the
history database beside the runs table (ferry.history_db: SQLite on one machine, Postgres
in a deployment), so the audit and the runs are one place:

    sqlite3 $FERRY_HOME/history.sqlite "SELECT at, username, job_run_id, file FROM downloads"
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from ferry import history_db
from ferry.history_db import Column, Table

DOWNLOADS = Table(
    "downloads",
    (
        Column("id", "ID"),
        *(Column(name, "TEXT", required=True)
          for name in ("at", "username", "job_run_id", "export_id", "file")),
        Column("bytes", "INTEGER", required=True),
        Column("range", "TEXT", required=True),
        Column("status", "INTEGER", required=True),
    ),
    indexes={"downloads_by_run": ("job_run_id",)},
)  # fmt: skip


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


def record_download(record: DownloadRecord) -> None:
    with history_db.connect(DOWNLOADS) as db:
        db.insert(DOWNLOADS, {f.name: getattr(record, f.name) for f in fields(DownloadRecord)})


def list_downloads(owner: str | None = None, limit: int = 50) -> list[DownloadRecord]:
    """The newest downloads first: of one export, of one run (JobID.RunID), or of all."""
    query, params = "SELECT * FROM downloads", []
    if owner:
        query, params = query + " WHERE export_id = ? OR job_run_id = ?", [owner, owner]
    with history_db.connect(DOWNLOADS) as db:
        rows = db.rows(query + " ORDER BY at DESC, id DESC LIMIT ?", [*params, limit])
    return [DownloadRecord(**{k: v for k, v in row.items() if k != "id"}) for row in rows]
