"""Dates and timestamps as written: ISO 8601 UTC, a fraction only when there is one, any
year (expanded, with a sign, outside 0000-9999), null for infinity."""

from __future__ import annotations

import duckdb
import pytest

from ferry.engine import extract
from ferry.engine.formats import Field, csv_text, iso_text
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec.models import ColumnSpec, ExportSpec, Format, TableSpec
from ferry.staging import run_location

from .helpers import data_paths, read_text_table


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


# --- The CSV/TSV formula guard (OWASP: a leading ' before = + - @ tab CR) -----------------

CELLS = ['=HYPERLINK("http://evil.example","x")', "+1 555 0100", "-2+3", "@SUM(A1)",
         "\tindented", "\rreturn", "safe", "'quoted", "a=b", ""]  # fmt: skip


@pytest.fixture
def guard_run(project, tmp_path):
    path = tmp_path / "cells.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE cells (id BIGINT, cell VARCHAR, amount DECIMAL(12,2))")
        rows = [(i, cell, -5 - i) for i, cell in enumerate(CELLS)] + [(99, None, None)]
        con.executemany("INSERT INTO cells VALUES (?, ?, ?)", rows)
    columns = {n: ColumnSpec(type=t) for n, t in
               (("id", "BIGINT"), ("cell", "VARCHAR"), ("amount", "DECIMAL(12,2)"))}  # fmt: skip
    project.tables["cells"] = TableSpec(key="id", columns=columns)

    def run(destination: str, **fmt) -> tuple[list[str], list[list[str]]]:
        spec = ExportSpec.model_validate({
            "id": "cells", "name": "Cells", "source": {"table": "cells"}, "format": fmt,
            "fields": ["id", {"field": "cell", "as": "=cmd|' /C calc'!A0"}, "amount"],
            "destinations": [_destination(destination)],
        })  # fmt: skip
        project.exports["cells"] = spec
        location = run_location(str(tmp_path / "s"), "cells", "manual__1")
        plan = build_plan(project, "cells", RunInfo("cells", "manual__1"), location)
        manifest = extract(plan, source=path, pii_key=None)
        [staged] = data_paths(plan.staging_dir, manifest)
        return read_text_table(staged, "\t" if fmt.get("type") == "tsv" else ",")

    yield run
    project.tables.pop("cells")
    project.exports.pop("cells", None)


def _destination(kind: str) -> dict:
    if kind == "s3":
        return {"type": "s3", "connection": "aws_default", "bucket": "bucket", "path": "x/"}
    if kind == "email":
        return {"type": "email", "to": ["ops@example.com"]}
    return {"type": kind}


GUARDED = [("'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell) for cell in CELLS]


@pytest.mark.parametrize(
    ("destination", "fmt", "guarded"),
    [
        ("download", {"type": "csv"}, True),
        ("email", {"type": "tsv", "compression": "gzip"}, True),
        ("s3", {"type": "csv"}, False),
        ("s3", {"type": "csv", "formula_guard": True}, True),
        ("download", {"type": "csv", "formula_guard": False}, False),
    ],
)
def test_cells_and_headers_that_start_a_formula_get_a_quote(guard_run, destination, fmt, guarded):
    header, rows = guard_run(destination, **fmt)
    name = "=cmd|' /C calc'!A0"
    assert header == ["id", "'" + name if guarded else name, "amount"]
    assert [row[1] for row in rows] == (GUARDED if guarded else CELLS) + [""]
    assert [row[2] for row in rows][:2] == ["-5.00", "-6.00"]  # numbers are not text


def test_the_guard_is_for_csv_and_tsv_only():
    with pytest.raises(ValueError, match="formula_guard applies to csv and tsv"):
        Format(type="json", formula_guard=True)


def test_the_guard_is_a_comparison_per_value_not_a_join():
    """`unicode(cell) IN (...)` was planned by DuckDB as a hash join per text column: about
    1 CPU-s of a 5M-row CSV export (issue 16)."""
    guard = csv_text(Field("c0", "cell", "VARCHAR"), formula_guard=True)
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t AS SELECT * FROM unnest(?) WITH ORDINALITY AS u(c0, n)",
                    [CELLS])  # fmt: skip
        plan = con.execute(f"EXPLAIN SELECT {guard} FROM t").fetchall()[0][1]
        written = con.execute(f"SELECT {guard} FROM t ORDER BY n").fetchall()
    assert "JOIN" not in plan.upper()
    assert [value for (value,) in written] == GUARDED
