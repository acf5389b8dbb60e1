"""DuckDB file sources: read-only, in UTC, described from DuckDB's own catalogue."""

from __future__ import annotations

import duckdb
import pytest

from ferry.sources import DuckDbSource, SourceError
from ferry.sql import Sql


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA crm")
        con.execute(
            "CREATE TABLE crm.lead (lead_id BIGINT PRIMARY KEY, email VARCHAR, "
            "score DECIMAL(5,2), seen TIMESTAMPTZ, tags VARCHAR[])"
        )
        con.execute("INSERT INTO crm.lead VALUES (1, 'a@x', 1.5, '2026-01-01 00:00:00+00', ['a'])")
        con.execute("CREATE TABLE plain (id INTEGER)")
    return path


def test_a_snapshot_streams_a_query_with_bound_values_in_utc(database):
    with DuckDbSource(database, "w").snapshot() as snapshot:
        sql = Sql("SELECT email, hour(seen) AS h FROM crm.lead WHERE lead_id = ?", (1,))
        rows = snapshot.query(sql).read_all().to_pylist()
        zone = snapshot.worker.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    assert rows == [{"email": "a@x", "h": 0}] and zone == "UTC"


def test_describe_gives_ferry_types_and_the_primary_key(database):
    with DuckDbSource(database, "w").snapshot() as snapshot:
        shape = snapshot.describe("crm.lead")
        assert snapshot.tables("crm") == ["crm.lead"] and snapshot.tables() == ["plain"]
    assert shape.key == "lead_id"
    assert shape.columns == {"lead_id": "BIGINT", "email": "VARCHAR", "score": "DECIMAL(5,2)",
                             "seen": "TIMESTAMPTZ", "tags": None}  # fmt: skip
    assert shape.source_types["tags"] == "VARCHAR[]"


def test_a_missing_table_names_the_connection(database):
    with DuckDbSource(database, "lake").snapshot() as snapshot:
        with pytest.raises(SourceError, match=r"connection lake: no table crm\.nothing"):
            snapshot.describe("crm.nothing")
        with pytest.raises(SourceError, match="not a table name"):
            snapshot.relation("crm/*.parquet")
