"""Dates and timestamps as written: ISO 8601 UTC, a fraction only when there is one, any
year (expanded, with a sign, outside 0000-9999), null for infinity."""

from __future__ import annotations

import duckdb
import pytest

from ferry.engine.formats import iso_text


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("2026-01-15 10:30:45", "2026-01-15T10:30:45Z"),
        ("2026-01-15 10:30:45.25", "2026-01-15T10:30:45.25Z"),
        ("2026-01-15 10:30:45.000001", "2026-01-15T10:30:45.000001Z"),
        ("1969-12-31 23:59:59", "1969-12-31T23:59:59Z"),
        ("1969-12-31 23:59:59.5", "1969-12-31T23:59:59.5Z"),
        ("0005-01-01 00:00:00", "0005-01-01T00:00:00Z"),
        ("9999-12-31 23:59:59", "9999-12-31T23:59:59Z"),
        ("12026-01-01 00:00:00", "+12026-01-01T00:00:00Z"),
        ("0044-03-15 (BC) 10:11:12.5", "-0043-03-15T10:11:12.5Z"),
        ("0001-12-31 (BC) 23:59:59", "0000-12-31T23:59:59Z"),
        ("infinity", None),
        ("-infinity", None),
    ],
)
@pytest.mark.parametrize("column_type", ["TIMESTAMP", "TIMESTAMPTZ"])
def test_timestamps_are_iso_8601_utc(stored, written, column_type):
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        sql = f"SELECT {iso_text('ts', column_type)} FROM (SELECT CAST(? AS {column_type}) AS ts)"
        assert con.execute(sql, [stored]).fetchone()[0] == written


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("2026-01-15", "2026-01-15"), ("0005-01-01", "0005-01-01"), ("9999-12-31", "9999-12-31"),
        ("12026-01-01", "+12026-01-01"), ("0044-03-15 (BC)", "-0043-03-15"),
        ("0001-01-01 (BC)", "0000-01-01"), ("infinity", None), ("-infinity", None),
    ],
)  # fmt: skip
def test_dates_are_iso_8601_with_expanded_years(stored, written):
    with duckdb.connect() as con:
        sql = f"SELECT {iso_text('d', 'DATE')} FROM (SELECT CAST(? AS DATE) AS d)"
        assert con.execute(sql, [stored]).fetchone()[0] == written
