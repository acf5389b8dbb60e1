"""A DuckDB database file as an import's target, written in one transaction.

DuckDB lets one process open a file for writing, and none other then (not even to read):
the file is opened read-write for the load only (the files are read and checked before),
waiting up to LOCK_WAIT seconds for an export's read to end, after which the load is
retried (TargetBusy); an export that starts meanwhile cannot open the file, is retried,
and sees the table after. Readers in the same process share the database and see before
or after.

Only that lock conflict (and a transaction conflict, a lost connection, an interrupt) is
transient. Any other I/O error (not a DuckDB file, permission denied, a folder, disk
full) and running out of memory fail the same way on every retry: terminal
(TargetUnusable), with what to fix.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ferry.imports.errors import ImportSetupError, TargetBusy, TargetRefused, TargetUnusable
from ferry.imports.writes import Write, Written
from ferry.sources.duckdb_file import MEMORY_LIMIT, THREADS
from ferry.sql import quote

LOCK_WAIT = 30.0  # seconds the load waits for other processes to release the file
LOCK_POLL = 0.05
_CONFIG = {"memory_limit": MEMORY_LIMIT, "threads": THREADS}


@dataclass(frozen=True)
class DuckDbTarget:
    """A DuckDB database file, opened read-write for the load only."""

    path: Path
    connection_id: str
    lock_wait: float | None = None  # None: LOCK_WAIT

    def write(self, rows: pa.RecordBatchReader, write: Write) -> Written:
        if not self.path.exists():
            raise ImportSetupError(
                f"warehouse {self.path} (connection {self.connection_id}) does not exist: "
                "create the table before importing into it"
            )
        with self._connect() as con:
            try:
                con.execute("SET TimeZone = 'UTC'").fetchall()
                con.register(write.incoming, rows)  # read once, by the one statement that writes
                con.begin()
            except duckdb.Error as error:
                raise _duckdb_error(error, self.connection_id) from None
            try:
                written = _duckdb_write(con, write)
                con.commit()
            except duckdb.Error as error:
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
                raise _duckdb_error(error, self.connection_id) from None
            return written

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """The file opened for writing, waiting up to lock_wait seconds for readers that
        hold it (an export's read lasts seconds to minutes); then TargetBusy."""
        wait = LOCK_WAIT if self.lock_wait is None else self.lock_wait
        deadline = time.monotonic() + wait
        while True:
            try:
                return duckdb.connect(str(self.path), config=_CONFIG)
            except duckdb.Error as error:
                if time.monotonic() >= deadline or not _lock_conflict(error):
                    raise _duckdb_error(error, self.connection_id) from None
            time.sleep(LOCK_POLL)


def _duckdb_write(con: duckdb.DuckDBPyConnection, write: Write) -> Written:
    """One statement reads the rows (a single pass over the Arrow stream, no copy); merge
    counts inserts by the table's row count before and after, a lookup in metadata."""
    names = write.names
    deleted = 0
    if write.mode == "overwrite":
        deleted = con.execute(f"DELETE FROM {write.table}").fetchall()[0][0]
    if write.mode == "merge":
        key = quote(write.key)
        before = _count(con, write.table)
        values = ", ".join(f"i.{quote(c)}" for c in write.columns)
        merged = con.execute(
            f"MERGE INTO {write.table} AS t USING {write.incoming} AS i ON (t.{key} = i.{key}) "
            f"WHEN MATCHED THEN UPDATE SET {write.merge_set('i')} "
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        ).fetchall()[0][0]
        inserted = _count(con, write.table) - before
        return Written(inserted=inserted, updated=merged - inserted)
    inserted = con.execute(
        f"INSERT INTO {write.table} ({names}) SELECT {names} FROM {write.incoming}"
    ).fetchall()[0][0]
    return Written(inserted=inserted, deleted=deleted)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


_LOCK_CONFLICT = ("could not set lock", "conflicting lock")
_IO_HINTS = {
    "not a valid duckdb database": "the file is not a DuckDB database (damaged, or another "
    "program's): check the connection's path, or restore the file from a backup",
    "permission denied": "give the worker's user read and write access to the file and its folder",
    "is a directory": "the connection's path is a folder: point it at the database file",
    "no space left": "the disk is full: free space where the warehouse file lives",
}


def _lock_conflict(error: duckdb.Error) -> bool:
    """Another process holds the file: the one I/O error another try can get past."""
    message = str(error).lower()
    return isinstance(error, duckdb.IOException) and any(m in message for m in _LOCK_CONFLICT)


def _duckdb_error(error: duckdb.Error, connection_id: str) -> Exception:
    """A lock, a conflict or a lost connection may be gone next try; a refused write
    (constraint, type, missing table or column), an unusable file and running out of
    memory are not."""
    message = f"connection {connection_id} (duckdb): {str(error).split(chr(10) + 'LINE ')[0]}"
    busy = (duckdb.TransactionException, duckdb.ConnectionException,
            duckdb.InterruptException)  # fmt: skip
    if _lock_conflict(error) or isinstance(error, busy):
        return TargetBusy(message + "; nothing was loaded, the load is retried")
    if isinstance(error, duckdb.OutOfMemoryException):
        return TargetUnusable(
            f"{message}; nothing was loaded; the write may use at most {MEMORY_LIMIT} of "
            "memory: load smaller files, or fewer per run"
        )
    if isinstance(error, duckdb.IOException):
        lowered = message.lower()
        hint = next((text for key, text in _IO_HINTS.items() if key in lowered), None)
        return TargetUnusable(
            f"{message}; nothing was loaded; "
            + (hint or "check the warehouse file, its folder and the disk")
        )
    return TargetRefused(message + "; the table is unchanged")
