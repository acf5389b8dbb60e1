"""ledger: which import runs and which files were loaded, so nothing loads twice.

Two tables in the history database (ferry.history_db: history.sqlite on one machine,
Postgres via FERRY_HISTORY_CONN in a deployment):

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

from ferry import history_db
from ferry.history_db import Column, Table
from ferry.imports.files import LocalFile

RUNS = Table(
    "import_runs",
    tuple(Column(name, "TEXT", required=True)
          for name in ("import_id", "run_key", "loaded_at", "result")),
    key=("import_id", "run_key"),
)  # fmt: skip
FILES = Table(
    "import_files",
    (
        Column("import_id", "TEXT", required=True),
        Column("name", "TEXT", required=True),
        Column("size", "INTEGER", required=True),
        Column("sha256", "TEXT", required=True),
        Column("run_key", "TEXT", required=True),
        Column("loaded_at", "TEXT", required=True),
    ),
    key=("import_id", "name", "size", "sha256"),
)


def loaded_run(import_id: str, run_key: str) -> dict | None:
    """The recorded result of a run already loaded, None if it was not."""
    with history_db.connect(RUNS) as db:
        row = db.one(
            "SELECT result FROM import_runs WHERE import_id = ? AND run_key = ?",
            [import_id, run_key],
        )
    return json.loads(row["result"]) if row else None


def loaded_files(import_id: str, files: Iterable[LocalFile]) -> set[str]:
    """The names of the files an earlier run of the import loaded (same size and digest)."""
    found = set()
    with history_db.connect(FILES) as db:
        for file in files:
            row = db.one(
                "SELECT 1 AS found FROM import_files WHERE import_id = ? AND name = ? "
                "AND size = ? AND sha256 = ?",
                [import_id, file.name, file.size, file.sha256],
            )
            if row:
                found.add(file.name)
    return found


def record_load(import_id: str, run_key: str, result: dict, files: Iterable[LocalFile]) -> None:
    """Remember the run's result and the files it loaded, in one transaction."""
    now = dt.datetime.now(dt.UTC).isoformat()
    with history_db.connect(RUNS, FILES) as db:
        db.upsert(RUNS, {"import_id": import_id, "run_key": run_key, "loaded_at": now,
                         "result": json.dumps(result)})  # fmt: skip
        for f in files:
            file = {"name": f.name, "size": f.size, "sha256": f.sha256}
            db.upsert(FILES, {"import_id": import_id, **file, "run_key": run_key, "loaded_at": now})
