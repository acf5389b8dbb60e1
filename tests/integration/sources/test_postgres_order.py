"""Rows from Postgres come ORDER BY the key: each slice is streamed once, however big,
never held to check its order nor read again to sort it, and the bytes are DuckDB's."""

from __future__ import annotations

import duckdb
import pytest
from tests.unit.engine.helpers import ROOT

from ferry.engine import extract
from ferry.sources.postgres import PostgresSource
from ferry.spec.loader import load_project
from ferry.sql import DUCKDB, POSTGRES

from .conftest import on_postgres, plan_for, project_with

pytestmark = pytest.mark.integration

CODES = """\
tables:
  code:
    connection: pg_warehouse
    name: keys.code
    key: code
    columns:
      code: {type: VARCHAR}
      label: {type: VARCHAR}
"""


def row_reads(log: str, table: str) -> list[str]:
    """The reads of the table's rows (not the count, not the schema's LIMIT 0)."""
    lines = [line for line in log.splitlines() if "COPY (SELECT" in line and table in line]
    return [line for line in lines if "ORDER BY" in line and "LIMIT 0" not in line]


@pytest.fixture(scope="module")
def codes(postgres, tmp_path_factory):
    """keys.code: a text key in ICU's collation (a < B, DuckDB: B < a), in Postgres and
    in DuckDB."""
    rows = (
        "SELECT chr(CAST(65 + g % 58 AS INTEGER)) || md5(CAST(g AS TEXT)) AS code, "
        "repeat('x', g % 50) AS label FROM generate_series(1, 5000) g"
    )
    postgres.execute(
        "DROP SCHEMA IF EXISTS keys CASCADE; CREATE SCHEMA keys; CREATE TABLE keys.code "
        f'(code text COLLATE "en-x-icu" PRIMARY KEY, label text); INSERT INTO keys.code {rows}'
    )
    path = tmp_path_factory.mktemp("keys") / "store.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA keys; CREATE TABLE keys.code (code VARCHAR, label VARCHAR)")
        con.execute(f"INSERT INTO keys.code {rows}")
    return path, PostgresSource(postgres.uri, "pg_warehouse")


def test_a_slice_over_the_hold_limit_is_read_once_with_duckdbs_bytes(
    demo_in_postgres, postgres, tmp_path, monkeypatch
):
    monkeypatch.setattr("ferry.engine.query.STORED_ORDER_MAX_BYTES", 4096)
    digests = []
    sources = [(load_project(ROOT / "include"), demo_in_postgres, DUCKDB),
               (on_postgres(load_project(ROOT / "include")),
                PostgresSource(postgres.uri, "pg_warehouse"), POSTGRES)]  # fmt: skip
    for project, source, dialect in sources:
        definition = {"id": "whole", "source": {"table": "customer_profile"}, "fields": "all",
                      "format": {"type": "csv"}}  # fmt: skip
        logged = len(postgres.log())
        plan = plan_for(project, tmp_path / dialect.name, definition, dialect)
        manifest = extract(plan, source=source, pii_key=None)
        digests.append(([f.sha256 for f in manifest.data_files], manifest.rows))
        reads = row_reads(postgres.log()[logged:], '"crm"."customer_profile"')
        assert len(reads) == (1 if dialect is POSTGRES else 0)
    assert digests[0] == digests[1] and digests[0][1] == 20_000


def test_a_text_key_over_the_hold_limit_is_read_once_with_duckdbs_bytes(
    codes, postgres, tmp_path, monkeypatch
):
    monkeypatch.setattr("ferry.engine.query.STORED_ORDER_MAX_BYTES", 4096)
    digests = []
    for dialect, source in zip((DUCKDB, POSTGRES), codes, strict=True):
        tables = (
            CODES if dialect is POSTGRES else CODES.replace("    connection: pg_warehouse\n", "")
        )
        project = project_with(tmp_path / dialect.name, tables)
        definition = {"id": "codes", "source": {"table": "code"}, "fields": "all",
                      "format": {"type": "jsonl"}}  # fmt: skip
        logged = len(postgres.log())
        plan = plan_for(project, tmp_path / "s" / dialect.name, definition, dialect)
        manifest = extract(plan, source=source, pii_key=None)
        digests.append(([f.sha256 for f in manifest.data_files], manifest.rows))
        reads = row_reads(postgres.log()[logged:], '"keys"."code"')
        assert len(reads) == (1 if dialect is POSTGRES else 0)
    assert digests[0] == digests[1] and digests[0][1] == 5000
