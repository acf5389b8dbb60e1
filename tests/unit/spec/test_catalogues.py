"""tables.yaml and targets.yaml: each table's columns, key and timestamp; each target."""

from __future__ import annotations

import pytest

from ferry.spec.catalogues import ColumnSpec
from ferry.spec.loader import load_project


def table_errors(include, lines: str) -> list[str]:
    tables = include / "warehouse" / "tables.yaml"
    tables.write_text(tables.read_text() + lines)
    return [str(error) for error in load_project(include).broken.get("warehouse.tables", [])]


def test_column_types_are_kept_in_canonical_form():
    assert ColumnSpec(type="varchar").type == ColumnSpec(type="VARCHAR").type


@pytest.mark.parametrize(
    "table, problem",
    [
        (
            "    key: nope\n    columns: {id: {type: BIGINT}}\n",
            "key -> key 'nope' is not one of the table's columns",
        ),
        (
            "    key: id\n    timestamp: id\n    columns: {id: {type: BIGINT}}\n",
            "timestamp -> 'id' is not a DATE or TIMESTAMP column of the table",
        ),
        ("    key: id\n    columns: {id: {type: NOTATYPE}}\n", "columns.id.type -> "),
        ("    key: id\n    columns: {}\n", "columns -> "),
    ],
)
def test_a_bad_table_names_its_line_and_field_and_keeps_the_others(include, table, problem):
    errors = table_errors(include, "  extra_table:\n" + table)
    assert len(errors) == 1
    assert errors[0].startswith("include/warehouse/tables.yaml:")
    assert f"tables.extra_table.{problem}" in errors[0]
    project = load_project(include)
    assert "extra_table" not in project.tables and "lead" in project.tables


def test_a_tables_name_in_its_source_is_a_schema_table_or_a_relative_glob(include):
    lines = (
        "  orders:\n    connection: lake\n    name: orders/2026-*.parquet\n    key: id\n"
        "    columns: {id: {type: BIGINT}}\n"
        "  escape:\n    connection: lake\n    name: ../secrets/*.csv\n    key: id\n"
        "    columns: {id: {type: BIGINT}}\n"
    )
    [error] = table_errors(include, lines)
    assert error.startswith("include/warehouse/tables.yaml:") and "tables.escape.name -> " in error
    assert "'../secrets/*.csv' is not a table name" in error
    orders = load_project(include).tables["orders"]
    assert orders.source_name("orders") == "orders/2026-*.parquet"


def test_a_target_needs_segment_types(include):
    targets = include / "targets.yaml"
    targets.write_text(targets.read_text() + "  empty:\n    name: Empty\n    segment_types: []\n")
    project = load_project(include)
    [error] = project.broken["include.targets"]
    assert "targets.empty.segment_types -> " in str(error)
    assert "mailchimp" in project.targets


def test_a_table_name_in_its_source_loads_and_a_hostile_one_is_refused(include):
    ok = "  pg_table:\n    connection: pg_warehouse\n    name: crm.contact\n    key: id\n"
    bad = '  bad_table:\n    name: "x; DROP TABLE y --"\n    key: id\n'
    errors = table_errors(include, f"{ok}    columns: {{id: {{type: BIGINT}}}}\n"
                          f"{bad}    columns: {{id: {{type: BIGINT}}}}\n")  # fmt: skip
    tables = load_project(include).tables
    assert tables["pg_table"].source_name("pg_table") == "crm.contact"
    assert len(errors) == 1, errors
    assert errors[0].startswith("include/warehouse/tables.yaml:")
    assert "tables.bad_table.name -> " in errors[0] and "is not a table name" in errors[0]
