"""Run history: one record per export or import run, in a table anyone can query.

The table is in the history database (ferry.history_db): SQLite on one machine, Postgres
(FERRY_HISTORY_CONN) in a deployment. Not the DuckDB warehouse: many tasks write small
records at once, which both handle; a rerun of the same run replaces its record.

    sqlite3 $FERRY_HOME/history.sqlite "SELECT job_run_id, outcome, rows FROM runs"
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ferry import history_db
from ferry.history_db import Column, HistoryDb, Table
from ferry.manifest import Manifest
from ferry.run_info import RunInfo

_TEXT = ("triggered_by", "started_at", "finished_at", "reason", "destinations",
         "staged_files", "group_run_id", "log_url", "kind")  # fmt: skip
_REQUIRED_TEXT = ("job_run_id", "export_id", "run_id", "outcome")
_INTEGERS = ("rows", "files", "bytes", "inserted", "updated", "deleted", "rejected")
# Columns added after the first release (group_run_id, log_url, kind, the counts) are
# added to an older history on first use (ferry.history_db).
RUNS = Table(
    "runs",
    (
        *(Column(name, "TEXT", required=True) for name in _REQUIRED_TEXT),
        *(Column(name, "TEXT") for name in _TEXT),
        Column("duration_s", "REAL"),
        *(Column(name, "INTEGER") for name in _INTEGERS),
    ),
    key=("job_run_id",),
)
_COUNTS = ("inserted", "updated", "deleted", "rejected")
# marked_success: marked successful in Airflow without finalize's record (ferry.run_listener)
ALREADY_LOADED = "loaded before: this rerun loaded nothing (the counts are the earlier load's)"
OUTCOMES = ("success", "empty", "skipped", "failed", "stopped", "marked_success")


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
    outcome: str  # one of OUTCOMES
    reason: str = ""
    rows: int = 0
    files: int = 0
    bytes: int = 0
    destinations: str = "[]"  # JSON: receipts (name, type, files with locations)
    staged_files: str = "[]"  # JSON: name, rows, bytes, sha256
    group_run_id: str = ""  # GroupID.RunID when the run was part of a group run
    log_url: str = ""  # the run (or the failed task's log) in the Airflow UI
    # An import run (export_id is then the import's id, unique among both): rows is rows
    # read, files/bytes/staged_files the files loaded, destinations the table written.
    kind: str = "export"  # export | import
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0

    @classmethod
    def from_manifest(
        cls,
        run: RunInfo,
        manifest: Manifest,
        receipts: list[dict],
        *,
        started_at: dt.datetime | None,
        finished_at: dt.datetime,
        **extra: str,
    ) -> RunRecord:
        """A delivered run: success, or empty when the export matched no rows."""
        return cls(
            **_timing(run, started_at, finished_at),
            outcome="empty" if manifest.rows == 0 else "success",
            rows=manifest.rows, files=len(manifest.data_files), bytes=manifest.bytes,
            destinations=json.dumps(receipts, default=str),
            staged_files=json.dumps([asdict(f) for f in manifest.files]),
            **extra,
        )  # fmt: skip

    @classmethod
    def ended(
        cls,
        run: RunInfo,
        outcome: str,
        reason: str,
        *,
        started_at: dt.datetime | None,
        finished_at: dt.datetime,
        manifest: Manifest | None = None,
        **extra: str,
    ) -> RunRecord:
        """A run that delivered nothing (failed or stopped), with what it had staged."""
        staged = {}
        if manifest is not None:
            staged = {"rows": manifest.rows, "files": len(manifest.data_files),
                      "bytes": manifest.bytes,
                      "staged_files": json.dumps([asdict(f) for f in manifest.files])}  # fmt: skip
        return cls(
            **_timing(run, started_at, finished_at), outcome=outcome, reason=reason,
            **staged, **extra,
        )  # fmt: skip

    @classmethod
    def imported(
        cls,
        run: RunInfo,
        loaded: dict,
        *,
        started_at: dt.datetime | None,
        finished_at: dt.datetime,
        **extra: str,
    ) -> RunRecord:
        """A loaded import run: success, or empty when it read no rows; a run loaded before
        (result already_loaded: nothing loaded now, the counts are the earlier load's) says
        so in its reason.

        Args:
            loaded: What the load step returned: table, mode, files (name, size, sha256,
                location), result (ferry.imports.load.ImportResult as a dict).
        """
        result, files = loaded["result"], loaded["files"]
        where = {"destination": f"table {loaded['table']}", "type": "table",
                 "mode": loaded["mode"], "rejects_file": result.get("rejects_file"),
                 "skipped_files": result.get("skipped_files", [])}  # fmt: skip
        if result.get("already_loaded"):
            extra.setdefault("reason", ALREADY_LOADED)
        return cls(
            **_timing(run, started_at, finished_at),
            outcome="empty" if result["rows_read"] == 0 else "success",
            rows=result["rows_read"], files=len(files), bytes=sum(f["size"] for f in files),
            destinations=json.dumps([where], default=str), staged_files=json.dumps(files),
            kind="import", **{name: result.get(name, 0) for name in _COUNTS}, **extra,
        )  # fmt: skip

    @property
    def destination_names(self) -> list[str]:
        return [receipt.get("destination", "?") for receipt in json.loads(self.destinations)]

    def summary(self) -> str:
        """One line for task logs, notifications and the CLI."""
        where = ", ".join(self.destination_names) or "no destination"
        line = (
            f"Run {self.job_run_id} {self.outcome}: {self.rows} rows in {self.files} files, "
            f"{self.bytes} bytes, to {where} in {self.duration_s:.1f} s"
        )
        if self.kind == "import":
            line = (
                f"Import run {self.job_run_id} {self.outcome}: {self.rows} rows read from "
                f"{self.files} files ({self.bytes} bytes), {self.inserted} inserted, "
                f"{self.updated} updated, {self.deleted} deleted, {self.rejected} rejected, "
                f"into {where} in {self.duration_s:.1f} s"
            )
        if self.group_run_id:
            line += f" in group run {self.group_run_id}"
        return line + (f" ({self.reason})" if self.reason else "")


def _timing(run: RunInfo, started_at: dt.datetime | None, finished_at: dt.datetime) -> dict:
    started_at = real_start(started_at, run.run_after, finished_at)
    duration = (_aware(finished_at) - started_at).total_seconds() if started_at else 0.0
    return {
        "job_run_id": run.job_run_id,
        "export_id": run.export_id,
        "run_id": run.run_id,
        "triggered_by": run.triggered_by,
        "started_at": started_at.isoformat() if started_at else None,
        "finished_at": finished_at.isoformat(),
        "duration_s": round(max(duration, 0.0), 3),
    }


def real_start(
    started_at: dt.datetime | None, run_after: dt.datetime | None, finished_at: dt.datetime
) -> dt.datetime | None:
    """When the run really started: never before it was allowed to run, nor after its end.

    `airflow dags test DAG DATE` (dag.test) gives its run the logical date as start_date,
    days before it ran; no run starts before its run_after, which there is when the test began.
    """
    if started_at is None:
        return None
    if run_after is not None and _aware(started_at) < _aware(run_after):
        started_at = run_after
    return min(_aware(started_at), _aware(finished_at))


def _aware(moment: dt.datetime) -> dt.datetime:
    """UTC-aware (naive times are UTC), so times from Airflow and from the clock compare."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(moment.timestamp(), dt.UTC)


def database_path() -> Path:
    """The SQLite file of the history on one machine (unused when FERRY_HISTORY_CONN is set)."""
    return history_db.sqlite_path()


def _connection() -> AbstractContextManager[HistoryDb]:
    return history_db.connect(RUNS)


def _record(row: dict) -> RunRecord:
    values = {name: row[name] for name in RUNS.column_names}
    values.update({k: values[k] or "" for k in ("reason", "group_run_id", "log_url")})
    values.update({k: values[k] or 0 for k in _COUNTS})
    values["kind"] = values["kind"] or "export"
    return RunRecord(**values)


def record_run(record: RunRecord) -> None:
    """Insert or replace the record of a run (a rerun of the same run replaces it)."""
    with _connection() as db:
        _write(db, record)


def record_run_unless(record: RunRecord, keep: Callable[[RunRecord], bool]) -> bool:
    """Write a run's record unless keep(the record the run has now) says that one stays.

    The look and the write are one transaction, so a record another process writes in
    between (a task's, `ferry stop`'s) is never replaced unseen. True when written.
    """
    with _connection() as db:
        db.lock(RUNS)  # take the write lock before looking
        found = db.one("SELECT * FROM runs WHERE job_run_id = ?", [record.job_run_id])
        if found and keep(_record(found)):
            return False
        _write(db, record)
    return True


def _write(db: HistoryDb, record: RunRecord) -> None:
    db.upsert(RUNS, {f.name: getattr(record, f.name) for f in fields(RunRecord)})


def record_skip(run: RunInfo, reason: str) -> None:
    now = dt.datetime.now(dt.UTC)
    record_run(RunRecord.ended(run, "skipped", reason, started_at=None, finished_at=now))


def get_run(job_run_id: str) -> RunRecord | None:
    with _connection() as db:
        found = db.one("SELECT * FROM runs WHERE job_run_id = ?", [job_run_id])
    return _record(found) if found else None


def list_runs(
    export_id: str | None = None, limit: int = 50, *, group_id: str | None = None
) -> list[RunRecord]:
    """The newest runs first: of one export, of one group's runs, or of all."""
    query, params = "SELECT * FROM runs", []
    if export_id:
        query, params = query + " WHERE export_id = ?", [export_id]
    elif group_id:
        # not LIKE: '_' in a group id is a LIKE wildcard, so 'a_b' would match 'axb'
        prefix = f"{group_id}."
        where = " WHERE substr(group_run_id, 1, length(?)) = ?"
        query, params = query + where, [prefix, prefix]
    with _connection() as db:
        rows = db.rows(query + " ORDER BY finished_at DESC LIMIT ?", [*params, limit])
    return [_record(row) for row in rows]


def latest_runs() -> dict[str, RunRecord]:
    """The newest record of every export that has one, by export id."""
    query = (
        "SELECT * FROM runs AS r WHERE finished_at = "
        "(SELECT MAX(finished_at) FROM runs WHERE export_id = r.export_id)"
    )
    with _connection() as db:
        return {row["export_id"]: _record(row) for row in db.rows(query)}


def stamp_group_run(job_run_ids: list[str], group_run_id: str) -> None:
    """Mark member records as part of a group run (checks record skips without it)."""
    marks = ", ".join("?" * len(job_run_ids))
    with _connection() as db:
        db.execute(
            f"UPDATE runs SET group_run_id = ? WHERE job_run_id IN ({marks})",
            [group_run_id, *job_run_ids],
        )
