"""A DuckDB database file as an import's target, written in one transaction.

DuckDB lets one process open a file for writing, and none other then (not even to read):
the file is opened read-write for the load only (the files are read and checked before),
waiting up to LOCK_WAIT seconds for an export's read to end, after which the load is
retried (TargetBusy); an export that starts meanwhile cannot open the file, is retried,
and sees the table after. Readers in the same process share the database and see before
or after.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ferry.imports.errors import ImportSetupError, TargetBusy, TargetRefused
from ferry.imports.writes import INCOMING, Write, Written
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
                con.register(INCOMING, rows)  # read once, by the one statement that writes
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
            except duckdb.IOException as error:
                if time.monotonic() >= deadline or "lock" not in str(error).lower():
                    raise _duckdb_error(error, self.connection_id) from None
            except duckdb.Error as error:
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
            f"MERGE INTO {write.table} AS t USING {INCOMING} AS i ON (t.{key} = i.{key}) "
            f"WHEN MATCHED THEN UPDATE SET {write.merge_set('i')} "
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        ).fetchall()[0][0]
        inserted = _count(con, write.table) - before
        return Written(inserted=inserted, updated=merged - inserted)
    inserted = con.execute(
        f"INSERT INTO {write.table} ({names}) SELECT {names} FROM {INCOMING}"
    ).fetchall()[0][0]
    return Written(inserted=inserted, deleted=deleted)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _duckdb_error(error: duckdb.Error, connection_id: str) -> Exception:
    """A lock or I/O trouble may be gone next try; a refused write (constraint, type,
    missing table or column) is not."""
    message = f"connection {connection_id} (duckdb): {str(error).split(chr(10) + 'LINE ')[0]}"
    busy = (duckdb.IOException, duckdb.TransactionException, duckdb.ConnectionException,
            duckdb.OutOfMemoryException, duckdb.InterruptException)  # fmt: skip
    if isinstance(error, busy):
        return TargetBusy(message + "; nothing was loaded, the load is retried")
    return TargetRefused(message + "; the table is unchanged")
