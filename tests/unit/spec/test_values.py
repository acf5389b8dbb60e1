"""Values in rules and settings that would fail when the export runs fail when it loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ferry.spec.loader import load_project
from ferry.spec.values import value_problem
from include_copy import copy_include

RULE = "{field: updated_at, op: within_last_days, value: 30}"


def _segment_errors(tmp_path: Path, rule: str) -> list[str]:
    include = copy_include(tmp_path)
    path = include / "segments" / "recently_active_customers.yaml"
    path.write_text(path.read_text().replace(RULE, rule))
    project = load_project(include)
    assert "high_value_customers" in project.segments  # the others still load
    return [str(error) for error in project.errors if "recently_active" in error.file]


@pytest.mark.parametrize(
    ("rule", "where", "problem"),
    [
        ("{field: city, op: within_last_days, value: 30}", "rules.all[1].value",
         "within_last_days needs a DATE or TIMESTAMP column; this one is VARCHAR"),
        ("{field: updated_at, op: within_last_days, value: true}", "rules.all[1].value",
         "op within_last_days needs a whole number of days from 1 to 36500"),
        ("{field: updated_at, op: within_last_days, value: 1000000}", "rules.all[1].value",
         "op within_last_days needs a whole number of days from 1 to 36500"),
        ("{field: lifetime_value, op: gt, value: 1.0e+308}", "rules.all[1].value",
         "1e+308 does not fit the column (DECIMAL(12,2)): at most 10 digits before the point"),
        ("{field: order_count, op: in, value: [1, 2147483648]}", "rules.all[1].value",
         "2147483648 does not fit the column (INTEGER): whole numbers from -2147483648 to "
         "2147483647"),
        ("{field: lifetime_value, op: eq, value: .nan}", "rules.all[1].value",
         "nan is not a finite number, which the column (DECIMAL(12,2)) holds"),
        ("{field: updated_at, op: gt, value: '2026-W05-1'}", "rules.all[1].value",
         "'2026-W05-1' is not a date or time"),
    ],
)  # fmt: skip
def test_a_value_the_query_would_refuse_is_a_definition_error(tmp_path, rule, where, problem):
    [error] = _segment_errors(tmp_path, rule)
    assert error.startswith(f"include/segments/recently_active_customers.yaml:8 -> {where} -> ")
    assert problem in error


@pytest.mark.parametrize(
    ("op", "value", "column_type"),
    [
        ("gt", 9999999999.99, "DECIMAL(12,2)"), ("gt", "-9999999999.999", "DECIMAL(12,2)"),
        ("eq", 0.5, "DECIMAL(1,1)"), ("lt", 255, "UTINYINT"), ("eq", "-128", "TINYINT"),
        ("gt", 2**63 - 1, "BIGINT"), ("gt", 1.5e308, "DOUBLE"), ("gt", 3e38, "FLOAT"),
        ("eq", "2026-01-31", "DATE"), ("eq", dt.date(2026, 1, 31), "DATE"),
        ("gt", "2026-01-31T12:00:00Z", "TIMESTAMPTZ"), ("gt", "2026-01-31 12:00", "TIMESTAMP"),
        ("eq", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "UUID"), ("eq", "anything", "VARCHAR"),
        ("within_last_days", 7, "DATE"), ("within_last_days", 7, "TIMESTAMPTZ"),
    ],
)  # fmt: skip
def test_values_that_fit_pass(op, value, column_type):
    assert value_problem(op, value, column_type) is None


@pytest.mark.parametrize(
    ("op", "value", "column_type"),
    [
        ("gt", 10**10, "DECIMAL(12,2)"), ("eq", 1, "DECIMAL(1,1)"), ("lt", 256, "UTINYINT"),
        ("eq", -1, "UBIGINT"), ("gt", 2**63, "BIGINT"), ("gt", float("inf"), "DOUBLE"),
        ("gt", 1e39, "FLOAT"), ("eq", "١٢", "INTEGER"), ("eq", True, "INTEGER"),
        ("eq", "2026-02-30", "DATE"), ("eq", "20260131", "DATE"),
        ("gt", "2026-01-31T12", "TIMESTAMP"),
        ("eq", "not-a-uuid", "UUID"), ("eq", "yes", "BOOLEAN"), ("gt", "25:00", "TIME"),
        ("eq", "{a: 1", "JSON"),
        ("eq", "0." + "1" * 39, "DECIMAL(38,2)"),
        ("within_last_days", 7, "INTEGER"),
    ],
)  # fmt: skip
def test_values_that_do_not_fit_are_refused(op, value, column_type):
    assert value_problem(op, value, column_type)


BOUNDED = """\
id: bounded
name: Bounded
source: {table: lead}
fields: [lead_id, state, email]
pii: {email: keep}
destinations: [{type: download}]
"""


def _export_errors(tmp_path: Path, setting: str) -> list[str]:
    include = copy_include(tmp_path)
    (include / "exports" / "bounded.yaml").write_text(
        BOUNDED.replace("pii: {email: keep}", setting)
    )
    return [str(error) for error in load_project(include).errors]


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("retention_days: 1000000", "retention_days"),
        ("format: {rows_per_file: 10000000000000}", "format.rows_per_file"),
        ("format: {bytes_per_file: 99999999TB}", "format.bytes_per_file"),
        ("limits: {max_rows: 10000000000000}", "limits.max_rows"),
        ("pii: {email: {action: mask, keep_first: 1000000}}", "pii.email.keep_first"),
    ],
)
def test_settings_are_bounded_so_later_arithmetic_cannot_overflow(tmp_path, setting, field):
    # the loader also reports what else the setting's line changed (email without a pii rule)
    [error] = [e for e in _export_errors(tmp_path, setting) if f" -> {field} -> " in e]
    assert error.startswith("include/exports/bounded.yaml:5 -> " + field + " -> ")
    assert "less than or equal to" in error


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ("pii: {email: keep}\nfilters: {window: {column: state}}", "filters.window.column"),
        (
            "pii: {email: keep}\nfilters: {date_column: lead_id, dates: [2026-01-01]}",
            "filters.date_column",
        ),
    ],
)
def test_time_filters_need_a_date_or_timestamp_column(tmp_path, filters, field):
    [error] = _export_errors(tmp_path, filters)
    assert error.startswith("include/exports/bounded.yaml:6 -> " + field + " -> ")
    assert "needs a DATE or TIMESTAMP column; this one is" in error
