"""A real PostgreSQL server for the session, and tables copied into it from DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.postgres_server import PostgresServer, postgres_bin
from tests.unit.engine.helpers import ROOT, nasty_warehouse

from ferry.spec.catalogues import TableSpec
from ferry.spec.loader import Project, load_project
from ferry.sql import POSTGRES, quote, quote_table


@pytest.fixture(scope="session")
def postgres():
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is missing: run scripts/setup --system-packages (packages.txt)")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def warehouse_with_nasty_values(tmp_path_factory) -> Path:
    return nasty_warehouse(tmp_path_factory.mktemp("nasty") / "nasty.duckdb")


@pytest.fixture(scope="session")
def engine_project() -> Project:
    return load_project(ROOT / "include")


def copy_table(server: PostgresServer, source: Path, table: str, spec: TableSpec,
               target: str | None = None) -> None:  # fmt: skip
    """Create target (default: table) in Postgres with the tables.yaml types and the key as
    primary key, and copy the DuckDB table's rows into it (ADBC's bulk ingest)."""
    import adbc_driver_postgresql.dbapi as adbc

    target = target or table
    columns = ", ".join(
        f"{quote(name)} {POSTGRES.type_name(column.type)}" for name, column in spec.columns.items()
    )
    with duckdb.connect(str(source), read_only=True) as con:
        rows = con.sql(
            f"SELECT {', '.join(map(quote, spec.columns))} FROM {quote(table)}"
        ).to_arrow_table()
    with adbc.connect(server.uri) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {quote_table(target)}")
        cursor.execute(
            f"CREATE TABLE {quote_table(target)} ({columns}, PRIMARY KEY ({quote(spec.key)}))"
        )
        schema, _, name = target.rpartition(".")
        cursor.adbc_ingest(name, rows, mode="append", db_schema_name=schema or None)
        conn.commit()
