"""DuckDB sources: a database file, read in place by the worker's own DuckDB.

Also the worker's connection settings: memory is bounded, spills go to a per-process temp
folder, and the session is in UTC (DuckDB's default is the machine's zone, which would
shift naive UTC bounds compared with TIMESTAMPTZ columns, and the zone Parquet carries).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ferry.column_types import UnknownColumnType, canonical_type
from ferry.exceptions import Terminal
from ferry.sources.base import BATCH_ROWS, SourceError, TableShape, sql_table_name
from ferry.sql import DUCKDB, Dialect, Sql, quote_table

MEMORY_LIMIT = "256MB"
THREADS = 2


class WarehouseMissing(FileNotFoundError, Terminal):
    """The warehouse file is not there: a setup problem another try cannot fix."""


def open_duckdb(path: Path | None = None, memory_limit: str = MEMORY_LIMIT):
    """A DuckDB connection with bounded memory: read-only on a file, or in memory."""
    config = {"memory_limit": memory_limit, "threads": THREADS, "temp_directory": _spill_dir()}
    if path is None:
        con = duckdb.connect(":memory:", config=config)
    else:
        con = duckdb.connect(str(path), read_only=True, config=config)
    con.execute("SET TimeZone = 'UTC'")  # not in config: ICU, which it needs, loads later
    return con


def _spill_dir() -> str:
    """Where a sort larger than the memory limit spills: beside a read-only warehouse is
    often not writable, and processes must not share DuckDB's temp file names."""
    return str(Path(tempfile.gettempdir()) / f"ferry-duckdb-{os.getpid()}")


class DuckDbSnapshot:
    """A read-only connection to the file: DuckDB gives each connection a consistent view."""

    dialect: Dialect = DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection, connection_id: str) -> None:
        self.worker = con
        self.connection_id = connection_id

    def relation(self, name: str, types: Mapping[str, str] | None = None) -> str:
        return quote_table(sql_table_name(name, self.connection_id))

    def query(self, sql: Sql, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        return self.worker.sql(sql.text, params=list(sql.params)).to_arrow_reader(batch_rows)

    def describe(self, name: str) -> TableShape:
        schema, table = _split(sql_table_name(name, self.connection_id))
        rows = self.worker.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = coalesce(?, current_schema()) "
            "ORDER BY ordinal_position",
            [table, schema],
        ).fetchall()
        if not rows:
            raise SourceError(f"connection {self.connection_id}: no table {name}")
        return shape_of(rows, self._primary_key(schema, table))

    def _primary_key(self, schema: str | None, table: str) -> str | None:
        found = self.worker.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = ? "
            "AND schema_name = coalesce(?, current_schema()) AND constraint_type = 'PRIMARY KEY'",
            [table, schema],
        ).fetchall()
        columns = found[0][0] if found else []
        return columns[0] if len(columns) == 1 else None

    def tables(self, schema: str | None = None) -> list[str]:
        rows = self.worker.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = coalesce(?, current_schema()) ORDER BY table_name",
            [schema],
        ).fetchall()
        return [f"{found}.{table}" if schema else table for found, table in rows]


def _split(name: str) -> tuple[str | None, str]:
    schema, _, table = name.rpartition(".")
    return schema or None, table


def shape_of(rows: Iterable[tuple[str, str]], key: str | None) -> TableShape:
    """A table's shape from (column, DuckDB type name) pairs: each column's Ferry type, None
    where the type has none (the import leaves it out; drift names its source type)."""
    columns, source_types = {}, {}
    for column, data_type in rows:
        source_types[column] = data_type
        try:
            columns[column] = canonical_type(data_type)
        except UnknownColumnType:
            columns[column] = None
    return TableShape(columns, key, source_types)


@dataclass(frozen=True)
class DuckDbSource:
    """A DuckDB database file, opened read-only."""

    path: Path
    connection_id: str
    dialect: Dialect = DUCKDB

    @contextmanager
    def snapshot(self) -> Iterator[DuckDbSnapshot]:
        if not Path(self.path).exists():
            raise WarehouseMissing(
                f"warehouse {self.path} (connection {self.connection_id}) does not exist: set "
                "FERRY_WAREHOUSE or the connection's host to your DuckDB file (or build the "
                "demo's: `python -m ferry_demo`)"
            )
        with open_duckdb(self.path) as con:
            yield DuckDbSnapshot(con, self.connection_id)
