"""ledger: which import runs and which files were loaded, so nothing loads twice.

Two tables in the run history (history.sqlite, ferry.history.open_database):

    import_runs   (import_id, run_key) -> the result, when loaded
    import_files  (import_id, name, size, sha256) -> the run that loaded the file

A run key (JobID.RunID) loaded once is not loaded again: a retried or rerun task finds its
result here. An append skips a file already loaded (same name, size and SHA-256) unless
forced. The ledger is written after the target's commit, in another database: a crash
between the two (seconds) leaves a load the ledger does not know, which a rerun repeats
(harmless for merge and overwrite; an append would load the files again).

    sqlite3 $FERRY_HOME/history.sqlite "SELECT * FROM import_runs"
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from ferry.history import open_database
from ferry.imports.files import LocalFile

RUNS = """
CREATE TABLE IF NOT EXISTS import_runs (
    import_id TEXT NOT NULL,
    run_key TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (import_id, run_key)
)
"""
FILES = """
CREATE TABLE IF NOT EXISTS import_files (
    import_id TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    run_key TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (import_id, name, size, sha256)
)
"""


def loaded_run(import_id: str, run_key: str) -> dict | None:
    """The recorded result of a run already loaded, None if it was not."""
    with open_database(RUNS) as db:
        row = db.execute(
            "SELECT result FROM import_runs WHERE import_id = ? AND run_key = ?",
            (import_id, run_key),
        ).fetchone()
    return json.loads(row["result"]) if row else None


def loaded_files(import_id: str, files: Iterable[LocalFile]) -> set[str]:
    """The names of the files an earlier run of the import loaded (same size and digest)."""
    found = set()
    with open_database(FILES) as db:
        for file in files:
            row = db.execute(
                "SELECT 1 FROM import_files WHERE import_id = ? AND name = ? AND size = ? "
                "AND sha256 = ?",
                (import_id, file.name, file.size, file.sha256),
            ).fetchone()
            if row:
                found.add(file.name)
    return found


def record_load(import_id: str, run_key: str, result: dict, files: Iterable[LocalFile]) -> None:
    """Remember the run's result and the files it loaded, in one transaction."""
    now = dt.datetime.now(dt.UTC).isoformat()
    with open_database(RUNS, FILES) as db:
        db.execute(
            "INSERT OR REPLACE INTO import_runs VALUES (?, ?, ?, ?)",
            (import_id, run_key, now, json.dumps(result)),
        )
        db.executemany(
            "INSERT OR REPLACE INTO import_files VALUES (?, ?, ?, ?, ?, ?)",
            [(import_id, f.name, f.size, f.sha256, run_key, now) for f in files],
        )
