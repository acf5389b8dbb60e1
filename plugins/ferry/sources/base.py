"""What every source is: one interface the engine reads through, whatever holds the rows.

A source is one Airflow connection (a DuckDB file, a Postgres database, a folder of
Parquet or CSV files). A run opens one Snapshot of it, a consistent view for the count,
the slices and the sample, and reads Arrow record batches of queries written in the
source's own dialect with `?` placeholders. Sources know nothing of exports, PII or files:
the engine pushes the row choice down and shapes the rows itself (ferry.engine.read).

Adding a warehouse (Snowflake, BigQuery, Redshift) is one module with a Source and a
Snapshot; README.md ("Sources") says which Arrow fetch path each of them has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ferry.exceptions import Terminal, Transient

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from ferry.sql import Dialect, Sql

BATCH_ROWS = 65_536


@dataclass(frozen=True)
class TableShape:
    """A table as its source describes it: columns (name -> canonical type, None where no
    Ferry type fits, with the source's own type in source_types) and its primary key."""

    columns: dict[str, str | None]
    key: str | None = None
    source_types: dict[str, str] = field(default_factory=dict)


class Snapshot(Protocol):
    """One consistent read of a source, open until its context ends.

    A snapshot whose rows are read over Arrow (worker None) may also define
    `pushed_column(column, declared, source_type) -> str`: the SELECT item that brings a
    column as tables.yaml declares it (quoted, named as itself) where the source's Arrow
    form would not be the value (Postgres: uuid, numeric, arrays). It is optional: without
    it a column comes as it is (ferry.engine.read.pushed_item), so it is not a member here.
    """

    dialect: Dialect
    worker: duckdb.DuckDBPyConnection | None  # the DuckDB the rows can be shaped in, in place

    def relation(self, name: str, types: Mapping[str, str] | None = None) -> str:
        """The FROM text for a table of tables.yaml (its `name:` in this source).

        types: the columns tables.yaml declares (name -> canonical type), given by a read
        in place; a source whose data carries no types (CSV files) reads them as these."""
        ...

    def query(self, sql: Sql, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """Stream a query's rows, its `?` bound to sql.params, never spliced into the text."""
        ...

    def describe(self, name: str) -> TableShape:
        """The table's columns and key, from the source's catalogue."""
        ...

    def tables(self, schema: str | None = None) -> list[str]:
        """Names of the tables (and views) in the source, or in one schema of it."""
        ...


class Source(Protocol):
    """One connection Ferry reads tables from."""

    connection_id: str
    dialect: Dialect

    def snapshot(self) -> AbstractContextManager[Snapshot]: ...


class SourceError(Terminal):
    """The source refused the read in a way another try repeats (no such table or column,
    no permission, a bad connection definition). The message names the connection."""


class SourceUnavailable(Transient):
    """The source could not be reached or dropped the read (refused, reset, shut down):
    the task is retried. The message names the connection."""


class SourceNotDefined(Terminal):
    """A table names a connection Airflow does not have."""


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def sql_table_name(name: str, connection_id: str) -> str:
    """A table name a database can take: one to three dotted identifiers, no glob."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        raise SourceError(
            f"connection {connection_id}: {name!r} is not a table name; tables.yaml's name: "
            "for a database is schema.table (a path or glob is for a files connection)"
        )
    return name
