"""Timestamps as written: ISO 8601 UTC, a fraction only when there is one, any year."""

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
        ("12026-01-01 00:00:00", "12026-01-01T00:00:00Z"),
    ],
)
@pytest.mark.parametrize("column_type", ["TIMESTAMP", "TIMESTAMPTZ"])
def test_timestamps_are_iso_8601_utc(stored, written, column_type):
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        sql = f"SELECT {iso_text('ts', column_type)} FROM (SELECT CAST(? AS {column_type}) AS ts)"
        assert con.execute(sql, [stored]).fetchone()[0] == written
