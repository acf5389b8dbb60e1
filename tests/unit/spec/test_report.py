"""Report exports as definitions: what loads, what is refused and where the error points."""

from __future__ import annotations

import pytest

from ferry.spec.columns import output_columns
from ferry.spec.loader import load_project
from ferry.spec.report import result_type

from .helpers import errors_of, write

REPORT = """\
id: {id}
name: Report
kind: report
source:
  report: lead
  group_by:
    - {{column: created_at, bucket: day, as: day}}
    - source
  metrics:
    - {{name: leads, count: "*"}}
    - {metric}
destinations: [{{type: download}}]
"""


def report_errors(include, metric: str = "{name: revenue, sum: revenue}", extra: str = ""):
    write(include, "exports/report.yaml", REPORT.format(id="report", metric=metric) + extra)
    return [error for error in errors_of(include) if "report.yaml" in error]


def test_the_demo_report_loads_with_its_columns_and_result_types(include):
    project = load_project(include)
    export = project.exports["daily_leads_by_source"]
    columns, excluded = output_columns(export, project.tables["lead"])
    assert [(c.name, c.type, c.pii) for c in columns] == [
        ("day", "DATE", None), ("source", "VARCHAR", None), ("state", "VARCHAR", None),
        ("leads", "BIGINT", None), ("people", "BIGINT", None),
        ("revenue", "DECIMAL(38,2)", None), ("avg_revenue", "DOUBLE", None),
        ("first_lead_at", "TIMESTAMP", None),
    ]  # fmt: skip
    assert excluded == ()


def test_a_good_report_has_no_errors(include):
    assert report_errors(include) == []


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (
            "{name: revenue, sum: revnue}",
            ":11 -> source.metrics[1].sum -> table 'lead' has no column 'revnue'; "
            "did you mean 'revenue'?",
        ),
        (
            "{name: total, sum: state}",
            ":11 -> source.metrics[1].sum -> sum needs a number column; 'state' is VARCHAR",
        ),
        (
            "{name: mean, avg: created_at}",
            ":11 -> source.metrics[1].avg -> avg needs a number column; 'created_at' is TIMESTAMP",
        ),
        (
            "{name: leads, count: state}",
            ":11 -> source.metrics[1].name -> report column 'leads' is used twice",
        ),
        (
            "{name: Source, max: state}",
            ":11 -> source.metrics[1].name -> report column 'Source' is used twice",
        ),
        (
            "{name: both, sum: revenue, avg: revenue}",
            ":11 -> source.metrics[1].avg -> a metric has two functions; give exactly one of",
        ),
        (
            "{name: none}",
            ":11 -> source.metrics[1].name -> a metric has no function; give exactly one of",
        ),
        (
            '{name: all, sum: "*"}',
            ':11 -> source.metrics[1].sum -> "*" is for count; sum needs a column',
        ),
        (
            "{name: top_email, max: email}",
            ":11 -> source.metrics[1].max -> 'email' is PII: max would show its values; "
            "count it instead: {name: top_email, count_distinct: email}",
        ),
        ("{name: __ferry_x, count: email}", ":11 -> source.metrics[1].name -> '__ferry_x' is"),
        ("{name: n, median: revenue}", ":11 -> source.metrics[1].median -> unknown field"),
    ],
)
def test_a_bad_metric_is_refused_at_its_line_and_field(include, metric, expected):
    [error] = report_errors(include, metric)
    assert error.startswith("include/exports/report.yaml" + expected), error


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("- stat", ":8 -> source.group_by[1] -> table 'lead' has no column 'stat'"),
        (
            "- email",
            ":8 -> source.group_by[1] -> 'email' is PII: a report does not group by it (each "
            "group shows it); count it instead: {name: ..., count_distinct: email}",
        ),
        (
            "- {column: state, bucket: day}",
            ":8 -> source.group_by[1].column -> a day bucket needs a DATE or TIMESTAMP column; "
            "'state' is VARCHAR",
        ),
        ("- {column: created_at, bucket: year}", ":8 -> source.group_by[1].bucket -> "),
        (
            "- {column: created_at, bucket: hour, as: day}",
            ":8 -> source.group_by[1] -> report column 'day' is used twice",
        ),
    ],
)
def test_a_bad_group_is_refused_at_its_line_and_field(include, group, expected):
    text = REPORT.format(id="report", metric="{name: n, count: state}").replace("- source", group)
    write(include, "exports/report.yaml", text)
    [error] = [error for error in errors_of(include) if "report.yaml" in error]
    assert error.startswith("include/exports/report.yaml" + expected), error


def test_an_hour_of_a_date_column_is_refused(include):
    (include / "warehouse" / "tables.yaml").write_text(
        (include / "warehouse" / "tables.yaml")
        .read_text()
        .replace("      delivered_at: {type: TIMESTAMP}", "      delivered_at: {type: DATE}")
    )
    text = REPORT.format(id="report", metric="{name: n, count: state}")
    write(
        include,
        "exports/report.yaml",
        text.replace("created_at, bucket: day", "delivered_at, bucket: hour"),
    )
    [error] = [error for error in errors_of(include) if "report.yaml" in error]
    assert (
        ":7 -> source.group_by[0].column -> 'delivered_at' is a DATE, which has no hours" in error
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("target: mailchimp\n", ":13 -> target -> a report goes to no segment target; remove"),
        ("fields: [state]\n", ":13 -> fields -> a report's columns are its group_by and metrics"),
        ("pii: {email: hash}\n", ":13 -> pii -> a report sends no pii column"),
        ("contacts_of_accounts: true\n", ":13 -> contacts_of_accounts -> reports read no segment"),
        ("filters: {where: [{field: stat, op: eq, value: x}]}\n", ":13 -> filters.where[0].field"),
    ],
)
def test_row_and_segment_settings_on_a_report_are_refused(include, extra, expected):
    [error] = report_errors(include, extra=extra)
    assert expected in error, error


def test_kind_and_source_must_agree(include):
    write(include, "exports/a.yaml", REPORT.format(id="a", metric="{name: n, count: state}")
          .replace("kind: report", "kind: data_out"))  # fmt: skip
    write(include, "exports/b.yaml", "id: b\nname: B\nkind: report\nsource: {table: lead}\n"
          "destinations: [{type: download}]\n")  # fmt: skip
    errors = errors_of(include)
    assert "include/exports/a.yaml:3 -> kind -> a source: {report: ...} is a report export" in (
        " ".join(errors)
    )
    assert any(
        e.startswith("include/exports/b.yaml:4 -> source -> a report export needs") for e in errors
    )


def test_an_unknown_report_table_is_located(include):
    text = REPORT.format(id="report", metric="{name: n, count: state}").replace(
        "report: lead", "report: leads"
    )
    write(include, "exports/report.yaml", text)
    [error] = [error for error in errors_of(include) if "report.yaml" in error]
    assert error.startswith(
        "include/exports/report.yaml:5 -> source.report -> unknown table 'leads'"
    )


def test_an_expectation_names_a_report_column(include):
    extra = "expectations: [{expect: not_null, field: leeds}]\n"
    [error] = report_errors(include, extra=extra)
    assert (
        "expectations[0].field -> the files have no column 'leeds'; did you mean 'leads'?" in error
    )
    assert report_errors(include, extra=extra.replace("leeds", "leads")) == []


@pytest.mark.parametrize(
    ("function", "column_type", "expected"),
    [
        ("count", None, "BIGINT"),
        ("count_distinct", "VARCHAR", "BIGINT"),
        ("sum", "INTEGER", "BIGINT"),
        ("sum", "HUGEINT", "DECIMAL(38,0)"),
        ("sum", "DECIMAL(10,2)", "DECIMAL(38,2)"),
        ("sum", "REAL", "DOUBLE"),
        ("avg", "DECIMAL(10,2)", "DOUBLE"),
        ("min", "TIMESTAMPTZ", "TIMESTAMPTZ"),
        ("max", "text", "VARCHAR"),
    ],
)
def test_each_metric_has_one_result_type(function, column_type, expected):
    assert result_type(function, column_type) == expected
