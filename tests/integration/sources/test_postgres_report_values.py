"""A report over Postgres values ADBC does not decode as the value (infinite dates and
timestamps, uuid): the same bytes as the same report from DuckDB."""

from __future__ import annotations

import duckdb
import pytest

from ferry.engine import extract
from ferry.sources.postgres import PostgresSource
from ferry.sql import DUCKDB, POSTGRES

from .conftest import plan_for, project_with

pytestmark = pytest.mark.integration

TABLES = """\
tables:
  visit:
    connection: pg_warehouse
    name: odd.visit
    key: id
    columns:
      id: {type: BIGINT}
      seen: {type: TIMESTAMP}
      born: {type: DATE}
      ref: {type: UUID}
"""
PG_CONNECTION = "    connection: pg_warehouse\n"
ROWS = """(1, '2024-01-01 10:00', '2000-01-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
(2, 'infinity', 'infinity', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
(3, '2024-01-02 00:00', '1999-05-05', 'b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a12')"""


@pytest.fixture(scope="module")
def visits(postgres, tmp_path_factory):
    ddl = "(id bigint PRIMARY KEY, seen timestamp, born date, ref uuid)"
    table = f"CREATE TABLE odd.visit {ddl}; INSERT INTO odd.visit VALUES {ROWS}"
    postgres.execute(f"DROP SCHEMA IF EXISTS odd CASCADE; CREATE SCHEMA odd; {table}")
    path = tmp_path_factory.mktemp("odd") / "store.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA odd; CREATE TABLE odd.visit {ddl}; "
                    f"INSERT INTO odd.visit VALUES {ROWS}")  # fmt: skip
    return path, PostgresSource(postgres.uri, "pg_warehouse")


REPORTS = {
    "day bucket": ([{"column": "seen", "bucket": "day"}],
                   [{"name": "n", "count": "*"}, {"name": "last", "max": "seen"},
                    {"name": "oldest", "max": "born"}]),
    "month of a date": ([{"column": "born", "bucket": "month"}], [{"name": "n", "count": "*"}]),
    "uuid": (["ref"], [{"name": "n", "count": "*"}, {"name": "first", "min": "seen"}]),
}  # fmt: skip


@pytest.mark.parametrize("name", REPORTS)
def test_a_report_over_infinite_dates_and_uuids_writes_duckdbs_bytes(name, visits, tmp_path):
    group_by, metrics = REPORTS[name]
    texts = []
    for dialect, source in zip((DUCKDB, POSTGRES), visits, strict=True):
        tables = (
            TABLES if dialect is POSTGRES else TABLES.replace("    connection: pg_warehouse\n", "")
        )
        project = project_with(tmp_path / dialect.name, tables)
        source_spec = {"report": "visit", "group_by": group_by, "metrics": metrics}
        definition = {"id": "odd", "kind": "report", "format": {"type": "csv"},
                      "source": source_spec}  # fmt: skip
        plan = plan_for(project, tmp_path / "s" / dialect.name, definition, dialect)
        manifest = extract(plan, source=source, pii_key=None)
        texts.append([(plan.staging_dir / f.name).read_bytes() for f in manifest.data_files])
    assert texts[0] == texts[1]
    assert b"-5877611" not in b"".join(texts[1])
