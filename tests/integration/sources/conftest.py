"""A real PostgreSQL server for the session, and tables copied into it from DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.postgres_server import PostgresServer, postgres_bin
from tests.unit.engine.helpers import ROOT, nasty_warehouse

from ferry.plan import ExportPlan, build_plan
from ferry.run_info import RunInfo
from ferry.spec import models
from ferry.spec.catalogues import TableSpec
from ferry.spec.loader import Project, load_project
from ferry.sql import POSTGRES, Dialect, quote, quote_table
from ferry.staging import run_location


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


def project_with(folder: Path, tables_yaml: str) -> Project:
    """A project of its own: folder/include with this tables.yaml and nothing else."""
    include = folder / "include"
    (include / "warehouse").mkdir(parents=True, exist_ok=True)
    (include / "exports").mkdir(exist_ok=True)
    (include / "warehouse" / "tables.yaml").write_text(tables_yaml)
    project = load_project(include)
    assert not project.errors, project.errors
    return project


def plan_for(
    project: Project, staging: Path, definition: dict, dialect: Dialect = POSTGRES, **run
) -> ExportPlan:
    """The plan of an export defined by a dict (its YAML keys), staged under staging."""
    spec = models.ExportSpec.model_validate(
        {"name": definition["id"], "destinations": [{"type": "download"}], **definition}
    )
    project.exports[spec.id] = spec
    info = RunInfo(export_id=spec.id, run_id=run.pop("run_id", "manual__2026-11-24"), **run)
    location = run_location(str(staging), spec.id, info.safe_run_id)
    return build_plan(project, spec.id, info, location, dialect)


DEMO_TABLES = ("customer_profile", "contact", "account")


@pytest.fixture(scope="session")
def demo_in_postgres(postgres, warehouse) -> Path:
    """The demo warehouse's profile, contact and account tables copied into Postgres'
    schema crm; the DuckDB file they came from."""
    postgres.execute("DROP SCHEMA IF EXISTS crm CASCADE; CREATE SCHEMA crm")
    project = load_project(ROOT / "include")
    for table in DEMO_TABLES:
        copy_table(postgres, warehouse, table, project.tables[table], f"crm.{table}")
    return warehouse


def on_postgres(project: Project, connection: str = "pg_warehouse") -> Project:
    """The project with the demo tables read from crm.<table> on a Postgres connection."""
    moved = {"connection": connection}
    for table in DEMO_TABLES:
        spec = project.tables[table]
        project.tables[table] = spec.model_copy(update={**moved, "name": f"crm.{table}"})
    return project
