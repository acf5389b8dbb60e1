"""Column types from tables.yaml: an allow-list, one canonical spelling, nothing else in SQL."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ferry.column_types import UnknownColumnType, canonical_type
from ferry.spec.loader import load_project
from include_copy import copy_include

INJECTIONS = (
    "VARCHAR) OR (1=1",
    "BOOLEAN) OR ((SELECT count(*) FROM read_text('/etc/hostname')) > 0",
)


def _tables_with(tmp_path: Path, old: str, new: str) -> list[str]:
    include = copy_include(tmp_path)
    tables = include / "warehouse" / "tables.yaml"
    text = tables.read_text()
    assert old in text
    tables.write_text(text.replace(old, new, 1))
    return [str(error) for error in load_project(include).errors]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_a_type_that_is_sql_is_a_definition_error_at_its_line(tmp_path, payload):
    errors = _tables_with(
        tmp_path, "order_count: {type: INTEGER}", f'order_count: {{type: "{payload}"}}'
    )
    prefix = "include/warehouse/tables.yaml:23 -> tables.customer_profile.columns.order_count.type"
    [error] = [e for e in errors if e.startswith("include/warehouse/tables.yaml")]
    assert error.startswith(f"{prefix} -> {payload!r} is not a column type Ferry knows")
    assert "DECIMAL(p,s)" in error and "TIMESTAMPTZ" in error  # the allowed list


@pytest.mark.parametrize(
    ("spelled", "canonical"),
    [
        ("integer", "INTEGER"), ("int", "INTEGER"), ("INT8", "BIGINT"), ("bool", "BOOLEAN"),
        ("real", "FLOAT"), ("double precision", "DOUBLE"), ("text", "VARCHAR"),
        ("varchar(255)", "VARCHAR"), ("String", "VARCHAR"), ("decimal", "DECIMAL(18,3)"),
        ("numeric( 12 , 2 )", "DECIMAL(12,2)"), ("DECIMAL(38)", "DECIMAL(38,0)"),
        ("timestamp  with  time zone", "TIMESTAMPTZ"), ("datetime", "TIMESTAMP"),
        ("uuid", "UUID"), ("bytea", "BLOB"), ("json", "JSON"),
        ("time", "TIME"), ("date", "DATE"), ("hugeint", "HUGEINT"), ("ubigint", "UBIGINT"),
    ],
)  # fmt: skip
def test_allowed_types_have_one_spelling_that_duckdb_takes(spelled, canonical):
    assert canonical_type(spelled) == canonical
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE t (c {canonical})")
        assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)


@pytest.mark.parametrize(
    "bad",
    ["DECIMAL(0,0)", "DECIMAL(39,2)", "DECIMAL(5,6)", "VARCHAR(10,2)", "INTEGER[]",
     "STRUCT(a INT)", "MAP(VARCHAR, INT)", "INTERVAL", "VARCHAR --", "INT; DROP TABLE x", "",
     "GEOMETRY"],
)  # fmt: skip
def test_anything_else_is_refused(bad):
    with pytest.raises(UnknownColumnType):
        canonical_type(bad)


def test_the_type_is_checked_as_written_and_stored_canonical(tmp_path):
    errors = _tables_with(
        tmp_path,
        'lifetime_value: {type: "DECIMAL(12,2)"}',
        "lifetime_value: {type: 'numeric( 12, 2 )'}",
    )
    assert errors == []
    include = tmp_path / "include"
    columns = load_project(include).tables["customer_profile"].columns
    assert columns["lifetime_value"].type == "DECIMAL(12,2)"


@pytest.mark.parametrize(
    ("old", "new", "where", "problem"),
    [
        ("notes: {type: VARCHAR}", 'notes": {type: VARCHAR}', "columns.notes\"",
         "is not a valid column name"),
        ("notes: {type: VARCHAR}", "__ferry_key: {type: VARCHAR}", "columns.__ferry_key",
         "'__ferry_key' is reserved"),
        ("notes: {type: VARCHAR}", "Country: {type: VARCHAR}", "columns.Country",
         "column 'Country' is used twice (also 'country'; case does not count)"),
        ("key: profile_id", "key: profile", "key", "'profile' is not one of the table's columns"),
        ("timestamp: updated_at\n    columns:\n      profile_id",
         "timestamp: city\n    columns:\n      profile_id", "timestamp",
         "'city' is not a DATE or TIMESTAMP column"),
    ],
)  # fmt: skip
def test_column_names_keys_and_timestamps_are_checked(tmp_path, old, new, where, problem):
    errors = _tables_with(tmp_path, old, new)
    [error] = [e for e in errors if e.startswith("include/warehouse/tables.yaml")]
    assert f" -> tables.customer_profile.{where} -> " in error
    assert problem in error
