"""Copy one machine's history.sqlite into the configured history database.

A team that moves from one machine to a deployment (FERRY_HISTORY_CONN: Postgres) keeps
its past: `ferry history --copy-from OLD/history.sqlite` copies the run history, the
download audit and the import ledger into the history database in use. The file is opened
read-only; every table of the target is locked for the copy, which is one transaction
(all of it or nothing).

Idempotent, and the rows already there win: a run (job_run_id), an import run (import id,
run key) or a loaded file (import id, name, size, sha256) the target has keeps the
target's row. The download audit has no key: a row is copied as many times as the file
has it more than the target (a second copy adds nothing; two downloads of the same file
in the same second both stay). A file written by an older release, without the columns
later ones added, copies what it has (the rest are empty, as for any older record).
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ferry import history, history_db, history_downloads
from ferry.exceptions import Terminal
from ferry.history_db import HistoryDb, Table
from ferry.imports import ledger

TABLES = (history.RUNS, history_downloads.DOWNLOADS, ledger.RUNS, ledger.FILES)
_AUTO_NUMBERED = "id"  # the download audit's row number: the target gives its own


class HistoryCopyError(Terminal):
    """The file cannot be copied (missing, not SQLite, not a Ferry history, a row the
    target refuses); nothing was copied."""


@dataclass(frozen=True)
class Copied:
    """What the copy did to one table."""

    table: str
    found: int  # rows in the file
    added: int  # rows copied into the target

    @property
    def already_there(self) -> int:
        return self.found - self.added


def copy_history(source: Path) -> list[Copied]:
    """Copy every row of source's history tables the target lacks; one Copied per table.

    Raises:
        HistoryCopyError: source is missing, not a SQLite file, holds no Ferry history,
            is the target itself, or a row does not fit the target.
    """
    _check_source(source)
    with closing(_open_read_only(source)) as file:
        present = _tables_of(file, source)
        if not present:
            names = ", ".join(table.name for table in TABLES)
            raise HistoryCopyError(
                f"{source} holds no Ferry history (none of the tables {names}): give the "
                "history.sqlite of a Ferry home ($FERRY_HOME/history.sqlite)"
            )
        with history_db.connect(*TABLES) as db:
            _lock(db)
            return [_copy_table(db, file, table, source) if table.name in present
                    else Copied(table.name, 0, 0) for table in TABLES]  # fmt: skip


def _check_source(source: Path) -> None:
    if not source.is_file():
        raise HistoryCopyError(f"{source}: no such file; give the path of a history.sqlite")
    if (
        not os.environ.get(history_db.ENV)
        and source.resolve() == history_db.sqlite_path().resolve()
    ):
        raise HistoryCopyError(
            f"{source} is the history in use ({history_db.ENV} is unset): set "
            f"{history_db.ENV} to the Postgres connection to copy it into"
        )


def _open_read_only(source: Path) -> sqlite3.Connection:
    file = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    file.row_factory = sqlite3.Row
    return file


def _tables_of(file: sqlite3.Connection, source: Path) -> set[str]:
    try:
        rows = file.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as error:
        raise HistoryCopyError(f"{source} is not a SQLite history file ({error})") from error
    return {row["name"] for row in rows} & {table.name for table in TABLES}


def _lock(db: HistoryDb) -> None:
    """Hold off other writers (a second copy, a task) until the copy is committed."""
    if db.dialect == "sqlite":
        db.lock(TABLES[0])  # one lock: the whole file
        return
    for table in TABLES:
        db.lock(table)


def _copy_table(db: HistoryDb, file: sqlite3.Connection, table: Table, source: Path) -> Copied:
    names = _shared_columns(file, table, source)
    rows = [tuple(row) for row in file.execute(f"SELECT {', '.join(names)} FROM {table.name}")]
    before = _count(db, table)
    wanted = rows if table.key else _not_yet_there(db, table, names, rows)
    try:
        db.insert_new(table, names, wanted)
    except Exception as error:
        if not _refused_row(error):
            raise
        raise HistoryCopyError(
            f"{source}: a row of table {table.name} does not fit {history_db.where()} "
            f"({type(error).__name__}: {error}); nothing was copied"
        ) from error
    return Copied(table.name, len(rows), _count(db, table) - before)


def _shared_columns(file: sqlite3.Connection, table: Table, source: Path) -> list[str]:
    """The table's columns the file has (an older release's file lacks later ones)."""
    have = {row["name"] for row in file.execute(f"PRAGMA table_info({table.name})")}
    missing = [c.name for c in table.columns if c.required and c.name not in have]
    if missing:
        raise HistoryCopyError(
            f"{source}: table {table.name} has no column {', '.join(missing)}: "
            "it is not a Ferry history table"
        )
    return [name for name in table.column_names if name in have and name != _AUTO_NUMBERED]


def _not_yet_there(
    db: HistoryDb, table: Table, names: Sequence[str], rows: list[tuple]
) -> list[tuple]:
    """Rows of a table without a key, as many times as the file has them more."""
    there = Counter(
        tuple(row[name] for name in names)
        for row in db.rows(f"SELECT {', '.join(names)} FROM {table.name}")
    )
    wanted = []
    for row, times in Counter(rows).items():
        wanted.extend([row] * max(times - there[row], 0))
    return wanted


def _count(db: HistoryDb, table: Table) -> int:
    found = db.one(f"SELECT count(*) AS n FROM {table.name}")
    return int(found["n"]) if found else 0


def _refused_row(error: Exception) -> bool:
    """A value the target's column or constraint refuses (not a lost connection)."""
    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(error, (psycopg.DataError, psycopg.IntegrityError))
