"""exact: a value the column's type cannot hold as written is a reject saying why, never
a rounded or cut value in the table."""

from __future__ import annotations

import csv

import pytest
from tests.unit.imports.helpers import local_file, write_file

from ferry.imports.stage import STAGED, Column, stage_files, write_rejects
from ferry.sources.duckdb_file import open_duckdb
from ferry.spec.imports import ImportFormat


def _one(tmp_path, column_type: str, value: str) -> tuple[list, list]:
    """The staged values and the rejects' reasons of a one-value CSV."""
    file = write_file(tmp_path, "a.csv", f"v\n{value}\n")
    with open_duckdb() as con:
        stage_files(con, [file], ImportFormat(), [Column("v", "v", column_type)], None,
                    unique_key=False, work=tmp_path)  # fmt: skip
        staged = con.execute(f"SELECT CAST(v AS VARCHAR) FROM {STAGED}").fetchall()
        path = write_rejects(con, tmp_path)
    if path is None:
        return [row[0] for row in staged], []
    with open(path, newline="") as handle:
        return [row[0] for row in staged], [row["reason"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize(
    "column_type, value, reason",
    [
        ("INTEGER", "1.7", "not exactly a INTEGER (a whole number, in plain digits)"),
        ("BIGINT", "-0.5", "not exactly a BIGINT"),
        ("INTEGER", ".5", "not exactly a INTEGER"),
        ("INTEGER", "1e3", "in plain digits"),
        ("INTEGER", "1_000", "in plain digits"),
        ("DECIMAL(6,2)", "1.239", "not exactly a DECIMAL(6,2) (a number with at most 2 digits"),
        ("DECIMAL(6,2)", "1.5e1", "in plain digits"),
        ("DATE", "2026-01-03 23:59:00", "has a time of day: a DATE would drop it"),
        ("DATE", "2026-01-03 00:00:00+02:00", "has a time zone offset: a DATE would drop it"),
        ("TIMESTAMP", "2024-03-10T02:30:00+02:00", "has a time zone offset: a TIMESTAMP"),
        ("TIMESTAMP", "2024-03-10 02:30:00 Europe/Paris", "has a time zone offset"),
        ("TIMESTAMP", "2024-03-10 13:30:00.1234567", "more than 6 fractional second digits"),
        ("TIMESTAMPTZ", "2024-03-10 13:30:00.1234567+00", "more than 6 fractional second"),
        ("TIME", "2024-03-10 13:30:00", "has a date: a TIME would drop it"),
        ("TIME", "13:30:00+02", "has a time zone offset: a TIME would drop it"),
    ],
)
def test_a_value_the_type_would_change_is_rejected_saying_why(tmp_path, column_type, value,
                                                              reason):  # fmt: skip
    staged, reasons = _one(tmp_path, column_type, value)
    assert staged == [] and len(reasons) == 1 and reason in reasons[0]


@pytest.mark.parametrize(
    "column_type, value, stored",
    [
        ("INTEGER", " 12 ", "12"),
        ("INTEGER", "+5", "5"),
        ("INTEGER", "3.00", "3"),
        (
            "HUGEINT",
            "-170141183460469231731687303715884105728",
            "-170141183460469231731687303715884105728",
        ),
        ("UBIGINT", "18446744073709551615", "18446744073709551615"),
        ("DECIMAL(6,2)", "1.2", "1.20"),
        ("DECIMAL(6,2)", "1.2300", "1.23"),
        ("DECIMAL(6,2)", "-.5", "-0.50"),
        (
            "DECIMAL(38,0)",
            "12345678901234567890123456789012345678",
            "12345678901234567890123456789012345678",
        ),
        ("DATE", "2026-01-03", "2026-01-03"),
        ("DATE", "2026-01-03 00:00:00", "2026-01-03"),
        ("TIMESTAMP", "2024-03-10T02:30:00.123456", "2024-03-10 02:30:00.123456"),
        ("TIMESTAMP", "2024-03-10 02:30:00+00", "2024-03-10 02:30:00"),
        ("TIMESTAMP", "2024-03-10 02:30:00.1234560", "2024-03-10 02:30:00.123456"),
        ("TIMESTAMPTZ", "2024-03-10T02:30:00+02:00", "2024-03-10 00:30:00+00"),
        ("TIME", "13:30:00", "13:30:00"),
        ("DOUBLE", "0.1", "0.1"),
        ("BOOLEAN", "yes", "true"),
        ("VARCHAR", "1.7", "1.7"),
    ],
)
def test_a_value_the_type_holds_as_written_is_kept(tmp_path, column_type, value, stored):
    assert _one(tmp_path, column_type, value) == ([stored], [])


def test_a_typed_parquet_value_is_checked_by_the_same_rules(tmp_path):
    path = tmp_path / "a.parquet"
    with open_duckdb() as con:
        con.execute(
            "COPY (SELECT 1.7::DOUBLE AS n, TIMESTAMP '2026-01-03 23:59:00' AS d UNION ALL "
            "SELECT 2.0, TIMESTAMP '2026-01-04 00:00:00') TO ? (FORMAT parquet)", [str(path)]
        )  # fmt: skip
    with open_duckdb() as con:
        staged = stage_files(con, [local_file(path)], ImportFormat(type="parquet"),
                             [Column("n", "n", "INTEGER"), Column("d", "d", "DATE")], None,
                             unique_key=False, work=tmp_path)  # fmt: skip
        rows = con.execute(f"SELECT n, CAST(d AS VARCHAR) FROM {STAGED}").fetchall()
    assert staged.rejected == 1 and rows == [(2, "2026-01-04")]


@pytest.mark.parametrize("column_type", ["INTEGER", "DECIMAL(6,2)", "DATE", "TIMESTAMP", "TIME"])
def test_an_empty_value_is_a_null_kept_not_a_row_dropped(tmp_path, column_type):
    file = write_file(tmp_path, "a.csv", "id,v\n1,\n2,\n")
    with open_duckdb() as con:
        staged = stage_files(con, [file], ImportFormat(), [Column("id", "id", "INTEGER"),
                             Column("v", "v", column_type)], "id", unique_key=False,
                             work=tmp_path)  # fmt: skip
        rows = con.execute(f"SELECT id, v FROM {STAGED} ORDER BY id").fetchall()
    assert (staged.rejected, rows) == (0, [(1, None), (2, None)])
