"""targets: where an import writes, one transaction per load, all or nothing.

The rows arrive as Arrow batches from the worker's staging table and are first copied
into a temporary table on the target's own connection; then one transaction writes the
table (merge, append or overwrite) and commits, or rolls back on any error, so the table
is as it was. Readers see the table before or after: DuckDB and Postgres give every
statement a snapshot, and overwrite DELETEs (TRUNCATE in Postgres is not MVCC-safe: a
reader whose snapshot predates it would find the table empty).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa

from ferry.imports.duckdb_target import DuckDbTarget
from ferry.imports.errors import ImportSetupError
from ferry.imports.postgres_target import PostgresTarget
from ferry.imports.writes import Write, Written
from ferry.sources import DuckDbSource, source_for
from ferry.sources.base import sql_table_name
from ferry.spec.catalogues import TableSpec
from ferry.sql import quote_table


class Target(Protocol):
    connection_id: str

    def write(self, rows: pa.RecordBatchReader, write: Write) -> Written: ...


def target_for(table_id: str, table: TableSpec) -> tuple[Target, str]:
    """The table's target and its quoted name there.

    Raises:
        ImportSetupError: the connection is not a database Ferry writes.
        SourceError, SourceNotDefined: the connection is not defined or not usable.
    """
    source = source_for(table.connection)
    if isinstance(source, DuckDbSource):
        target = DuckDbTarget(Path(source.path), table.connection)
    elif getattr(source, "uri", None) and source.dialect.name == "postgres":
        target = PostgresTarget(source.uri, table.connection)
    else:
        raise ImportSetupError(
            f"table {table_id} is on connection {table.connection}, which imports cannot write: "
            "import into a table on a DuckDB or Postgres connection"
        )
    return target, quote_table(sql_table_name(table.source_name(table_id), table.connection))
