"""Report exports: rows of a table grouped by columns and time buckets, with named metrics.

    source:
      report: lead                   # the table
      group_by: [{column: created_at, bucket: day, as: day}, source, state]
      metrics:
        - {name: leads, count: "*"}
        - {name: revenue, sum: revenue}

A report sends aggregates, never a row's values, so PII is refused where a value would
leave: a pii column cannot be grouped by, summed, averaged or be a min/max (a group of one
row would show it). Counting a pii column (count, count_distinct) is allowed: it says how
many, not what. Bucket and metric names come from fixed vocabularies; columns are checked
against tables.yaml when definitions load (report_problems), and the result type of each
output column is decided here (report_columns), so the files' schema is known offline.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from ferry.column_types import (
    DECIMAL_TYPES,
    FLOAT_TYPES,
    TEMPORAL_TYPES,
    base_type,
    canonical_type,
    decimal_shape,
    integer_range,
)
from ferry.spec.base import Identifier, Spec
from ferry.spec.errors import FieldError, did_you_mean
from ferry.spec.names import check_output_name, refuse_duplicates

Bucket = Literal["hour", "day", "week", "month"]
FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max")
ALL_ROWS = "*"  # count: "*" counts rows; count: <column> counts its non-null values
ORDERED_TYPES = ("BOOLEAN", "VARCHAR", "TIME", *TEMPORAL_TYPES)  # min/max besides numbers
NO_EQUALITY = ("JSON",)  # Postgres' json has no = : it cannot be grouped or counted distinct
WIDE_INTEGERS = ("HUGEINT", "UBIGINT")  # their sums pass BIGINT: summed as DECIMAL(38,0)
ReportName = Annotated[str, AfterValidator(check_output_name)]


class GroupBucket(Spec):
    """A time bucket of a DATE or TIMESTAMP column: {column: created_at, bucket: day}."""

    column: str
    bucket: Bucket
    as_: ReportName | None = Field(default=None, alias="as")

    @property
    def output_name(self) -> str:
        return self.as_ or f"{self.column}_{self.bucket}"


GroupItem = Annotated[
    Annotated[str, Tag("column name")] | Annotated[GroupBucket, Tag("time bucket")],
    Discriminator(lambda value: "column name" if isinstance(value, str) else "time bucket"),
]


class Metric(Spec):
    """One named aggregate: {name: leads, count: "*"}, {name: revenue, sum: price}."""

    name: ReportName
    count: str | None = None
    count_distinct: str | None = None
    sum: str | None = None
    avg: str | None = None
    min: str | None = None
    max: str | None = None

    @model_validator(mode="after")
    def _one_function(self) -> Metric:
        given = [name for name in FUNCTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            choices = ", ".join(FUNCTIONS)
            problem = "two functions" if given else "no function"
            raise FieldError(
                given[-1] if given else "name",
                f"a metric has {problem}; give exactly one of {choices}: <column>",
            )
        if self.column == ALL_ROWS and self.function != "count":
            raise FieldError(self.function, f'"*" is for count; {self.function} needs a column')
        return self

    @property
    def function(self) -> str:
        return next(name for name in FUNCTIONS if getattr(self, name) is not None)

    @property
    def column(self) -> str:
        """The column aggregated, or "*" (every row) for count."""
        return getattr(self, self.function)


class ReportSource(Spec):
    """A report's source: the table it reads (report:), how it groups, what per group."""

    report: Identifier
    group_by: list[GroupItem] = []
    metrics: list[Metric] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_unique(self) -> ReportSource:
        names = [(output_name(item), ("group_by", i)) for i, item in enumerate(self.group_by)]
        names += [(metric.name, ("metrics", i, "name")) for i, metric in enumerate(self.metrics)]
        refuse_duplicates(names, "report column")
        return self

    @property
    def table(self) -> str:
        return self.report


def output_name(item: str | GroupBucket) -> str:
    return item if isinstance(item, str) else item.output_name


def check_report_export(export: Any) -> None:
    """A report sends its groups and metrics: none of the row export's settings apply.

    Raises:
        FieldError: naming the setting to remove.
    """
    if export.kind == "report" and not isinstance(export.source, ReportSource):
        raise FieldError(
            "source", "a report export needs source: {report: <table>, group_by, metrics}"
        )
    if isinstance(export.source, ReportSource) and export.kind != "report":
        raise FieldError("kind", "a source: {report: ...} is a report export: set kind: report")
    if export.kind != "report":
        return
    settings = {
        "target": (export.target is not None, "a report goes to no segment target"),
        "contacts_of_accounts": (export.contacts_of_accounts, "reports read no segment"),
        "fields": (export.fields != "all", "a report's columns are its group_by and metrics"),
        "pii": (bool(export.pii), "a report sends no pii column (it refuses grouping by one)"),
    }
    for field, (given, why) in settings.items():
        if given:
            raise FieldError(field, f"{why}; remove {field}")


# --- Checks against tables.yaml and result types -----------------------------------------

Problem = tuple[tuple, str, str]  # (loc in the document, problem, hint)
LOC = ("source",)


def report_problems(report: ReportSource, columns: dict, table: str) -> list[Problem]:
    """Each group and metric column: known, of a type its use fits, and not PII leaked."""
    problems: list[Problem] = []
    for index, item in enumerate(report.group_by):
        loc = LOC + ("group_by", index) + (() if isinstance(item, str) else ("column",))
        name = item if isinstance(item, str) else item.column
        problem = _unknown(name, columns, table) or _group_problem(item, columns[name])
        if problem:
            problems.append((loc, *problem))
    for index, metric in enumerate(report.metrics):
        if metric.column == ALL_ROWS:
            continue
        loc = LOC + ("metrics", index, metric.function)
        problem = _unknown(metric.column, columns, table)
        problem = problem or _metric_problem(metric, columns[metric.column])
        if problem:
            problems.append((loc, *problem))
    return problems


def _unknown(name: str, columns: dict, table: str) -> tuple[str, str] | None:
    if name in columns:
        return None
    return f"table '{table}' has no column '{name}'", did_you_mean(name, columns)


def _group_problem(item: str | GroupBucket, column) -> tuple[str, str] | None:
    name = item if isinstance(item, str) else item.column
    kind = base_type(canonical_type(column.type))
    if column.pii:
        hint = f"count it instead: {{name: ..., count_distinct: {name}}}"
        return f"'{name}' is PII: a report does not group by it (each group shows it)", hint
    if kind in NO_EQUALITY:
        return f"'{name}' is {kind}, which cannot be grouped by", ""
    if isinstance(item, str):
        return None
    if kind not in TEMPORAL_TYPES:
        return f"a {item.bucket} bucket needs a DATE or TIMESTAMP column; '{name}' is {kind}", ""
    if kind == "DATE" and item.bucket == "hour":
        return f"'{name}' is a DATE, which has no hours", "use bucket: day, week or month"
    return None


def _metric_problem(metric: Metric, column) -> tuple[str, str] | None:
    name, function = metric.column, metric.function
    kind = base_type(canonical_type(column.type))
    if column.pii and function not in ("count", "count_distinct"):
        hint = f"count it instead: {{name: {metric.name}, count_distinct: {name}}}"
        return f"'{name}' is PII: {function} would show its values", hint
    if function == "count_distinct" and kind in NO_EQUALITY:
        return f"'{name}' is {kind}, which cannot be counted distinct", ""
    if function in ("sum", "avg") and not _numeric(kind):
        return f"{function} needs a number column; '{name}' is {kind}", ""
    if function in ("min", "max") and not (_numeric(kind) or kind in ORDERED_TYPES):
        return f"{function} of a {kind} column is not supported on every source", ""
    return None


def _numeric(kind: str) -> bool:
    return bool(integer_range(kind)) or kind in FLOAT_TYPES or kind in DECIMAL_TYPES


def report_columns(report: ReportSource, columns: dict) -> list[tuple[str, str]]:
    """(output name, canonical DuckDB type) of each column of the report, in order:
    group columns as in tables.yaml, hour buckets TIMESTAMP and other buckets DATE,
    counts BIGINT, averages DOUBLE, min and max the column's type, sums by result_type."""
    found = [
        (item, canonical_type(columns[item].type)) if isinstance(item, str)
        else (item.output_name, "TIMESTAMP" if item.bucket == "hour" else "DATE")
        for item in report.group_by
    ]  # fmt: skip
    for metric in report.metrics:
        column_type = None if metric.column == ALL_ROWS else columns[metric.column].type
        found.append((metric.name, result_type(metric.function, column_type)))
    return found


def result_type(function: str, column_type: str | None) -> str:
    """The type one metric's values have in every source."""
    if function in ("count", "count_distinct"):
        return "BIGINT"
    canonical = canonical_type(column_type or "")
    if function == "avg" or (function == "sum" and base_type(canonical) in FLOAT_TYPES):
        return "DOUBLE"
    if function == "sum":
        shape = decimal_shape(canonical)
        if shape:
            return f"DECIMAL(38,{shape[1]})"
        return "DECIMAL(38,0)" if canonical in WIDE_INTEGERS else "BIGINT"
    return canonical
