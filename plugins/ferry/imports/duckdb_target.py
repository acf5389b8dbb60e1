"""A DuckDB database file as an import's target, written in one transaction.

DuckDB lets one process write a file at a time: the file is opened read-write for the
load only, so an export reading it meanwhile fails to open it (a transient error, retried)
and then sees the table after; a reader in the same process sees before or after.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ferry.imports.errors import ImportSetupError, TargetBusy, TargetRefused
from ferry.imports.writes import INCOMING, Write, Written
from ferry.sources.duckdb_file import MEMORY_LIMIT, THREADS
from ferry.sql import quote


@dataclass(frozen=True)
class DuckDbTarget:
    """A DuckDB database file, opened read-write for the load only (DuckDB lets one process
    write a file: an export reading it meanwhile waits for its retry, and sees after)."""

    path: Path
    connection_id: str

    def write(self, rows: pa.RecordBatchReader, write: Write) -> Written:
        if not self.path.exists():
            raise ImportSetupError(
                f"warehouse {self.path} (connection {self.connection_id}) does not exist: "
                "create the table before importing into it"
            )
        try:
            con = duckdb.connect(str(self.path), config={"memory_limit": MEMORY_LIMIT,
                                                         "threads": THREADS})  # fmt: skip
        except duckdb.Error as error:
            raise _duckdb_error(error, self.connection_id) from None
        with con:
            try:
                con.execute("SET TimeZone = 'UTC'").fetchall()
                con.register("ferry_rows", rows)
                con.execute(f"CREATE TEMP TABLE {INCOMING} AS SELECT * FROM ferry_rows").fetchall()
                con.unregister("ferry_rows")
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


def _duckdb_write(con: duckdb.DuckDBPyConnection, write: Write) -> Written:
    names = write.names
    deleted = updated = 0
    if write.mode == "overwrite":
        deleted = con.execute(f"DELETE FROM {write.table}").fetchall()[0][0]
    if write.mode == "merge":
        key = quote(write.key)
        updated = con.execute(
            f"SELECT count(*) FROM {INCOMING} AS i WHERE EXISTS "
            f"(SELECT 1 FROM {write.table} AS t WHERE t.{key} = i.{key})"
        ).fetchall()[0][0]
        values = ", ".join(f"i.{quote(c)}" for c in write.columns)
        con.execute(
            f"MERGE INTO {write.table} AS t USING {INCOMING} AS i ON (t.{key} = i.{key}) "
            f"WHEN MATCHED THEN UPDATE SET {write.merge_set('i')} "
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        ).fetchall()
        total = con.execute(f"SELECT count(*) FROM {INCOMING}").fetchall()[0][0]
        return Written(inserted=total - updated, updated=updated)
    inserted = con.execute(
        f"INSERT INTO {write.table} ({names}) SELECT {names} FROM {INCOMING}"
    ).fetchall()[0][0]
    return Written(inserted=inserted, deleted=deleted)


def _duckdb_error(error: duckdb.Error, connection_id: str) -> Exception:
    """A lock or I/O trouble may be gone next try; a refused write (constraint, type,
    missing table or column) is not."""
    message = f"connection {connection_id} (duckdb): {str(error).split(chr(10) + 'LINE ')[0]}"
    busy = (duckdb.IOException, duckdb.TransactionException, duckdb.ConnectionException,
            duckdb.OutOfMemoryException, duckdb.InterruptException)  # fmt: skip
    if isinstance(error, busy):
        return TargetBusy(message + "; nothing was loaded, the load is retried")
    return TargetRefused(message + "; the table is unchanged")
