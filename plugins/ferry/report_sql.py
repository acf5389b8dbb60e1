"""A report's SQL: its groups and metrics over the export's chosen rows, in the source's
dialect, so the aggregation runs where the data is (Postgres groups its own rows; only the
groups travel) and the worker only orders and formats them.

Nothing from a definition reaches the text but quoted column names (checked against
tables.yaml when definitions load) and words of fixed vocabularies (bucket, function,
canonical type names); filter values stay bound parameters of the row filter.

Every value gets the same type from every source (ferry.spec.report.report_columns):
- buckets are UTC: a TIMESTAMPTZ is read at UTC first; week starts on Monday (ISO) in
  DuckDB and Postgres alike; hour is a TIMESTAMP, day, week and month a DATE;
- Postgres compares text by its collation, DuckDB by bytes: min/max of text use the "C"
  collation in Postgres, so both pick the same value; Postgres has no min/max of a
  boolean: bool_and / bool_or are the same thing;
- sums of floats are summed as DOUBLE (Postgres sums a REAL as REAL). Float sums and
  averages may differ in the last digit between runs (parallel addition order); integer
  and decimal ones are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.column_types import base_type, canonical_type
from ferry.spec.catalogues import ColumnSpec
from ferry.spec.report import (
    ALL_ROWS,
    FUNCTIONS,
    Bucket,
    GroupBucket,
    Metric,
    ReportSource,
    result_type,
)
from ferry.sql import Dialect, Sql, quote

BUCKETS: tuple[Bucket, ...] = ("hour", "day", "week", "month")
REPORT_ALIAS = "__ferry_report"
_POSTGRES_BOOLEAN = {"min": "bool_and", "max": "bool_or"}


@dataclass(frozen=True)
class ReportQuery:
    """A report compiled for one dialect; the FROM and the row filter come at read time."""

    items: tuple[str, ...]  # SELECT items, each aliased by its output name
    groups: tuple[str, ...]  # GROUP BY expressions
    order: tuple[str, ...]  # output names of the group columns: the rows' order

    def grouped(self, relation: str, where: Sql) -> Sql:
        """The report's rows as a FROM item over relation's rows that where chooses."""
        group_by = f" GROUP BY {', '.join(self.groups)}" if self.groups else ""
        text = (
            f"(SELECT {', '.join(self.items)} FROM {relation} WHERE ({where.text}){group_by})"
            f" AS {quote(REPORT_ALIAS)}"
        )
        return Sql(text, where.params)

    @property
    def order_key(self) -> str:
        """Each row's position: group columns ascending, NULLs last. Groups are unique, so
        the order is total and the bytes are the same at every run and from every source."""
        by = ", ".join(f"{quote(name)} ASC NULLS LAST" for name in self.order)
        return f"row_number() OVER (ORDER BY {by})" if by else "row_number() OVER ()"


def report_query(
    report: ReportSource, columns: dict[str, ColumnSpec], dialect: Dialect
) -> ReportQuery:
    """The report's SELECT items and groups; its columns were checked when it loaded."""
    items, groups, order = [], [], []
    for item in report.group_by:
        if isinstance(item, str):
            expression, name = group_column_sql(item, columns[item].type, dialect), item
        else:
            expression = bucket_sql(item, columns[item.column].type, dialect)
            name = item.output_name
        items.append(f"{expression} AS {quote(name)}")
        groups.append(expression)
        order.append(name)
    for metric in report.metrics:
        items.append(f"{metric_sql(metric, columns, dialect)} AS {quote(metric.name)}")
    return ReportQuery(tuple(items), tuple(groups), tuple(order))


def group_column_sql(column: str, column_type: str, dialect: Dialect) -> str:
    """A group column with its declared type. A DuckDB table is read as stored, and text
    stored under a declared INTEGER would reach a CSV unquoted; a Postgres read is cast to
    the declared types on the worker (ferry.engine.read), its groups stay the source's."""
    if dialect.name == "postgres":
        return quote(column)
    return f"CAST({quote(column)} AS {canonical_type(column_type)})"


def bucket_sql(item: GroupBucket, column_type: str, dialect: Dialect) -> str:
    """The bucket's start: date_trunc at UTC, as a TIMESTAMP (hour) or DATE."""
    if item.bucket not in BUCKETS:
        raise ValueError(f"no bucket {item.bucket!r}")
    column, kind = quote(item.column), base_type(canonical_type(column_type))
    moment = {
        "DATE": f"CAST({column} AS TIMESTAMP)",
        "TIMESTAMPTZ": f"({column} AT TIME ZONE 'UTC')",
    }.get(kind, column)
    result = dialect.type_name("TIMESTAMP" if item.bucket == "hour" else "DATE")
    return f"CAST(date_trunc('{item.bucket}', {moment}) AS {result})"


def metric_sql(metric: Metric, columns: dict[str, ColumnSpec], dialect: Dialect) -> str:
    """One aggregate, cast to the type it has from every source."""
    function = metric.function
    column_type = None if metric.column == ALL_ROWS else canonical_type(columns[metric.column].type)
    argument = "*" if column_type is None else quote(metric.column)
    kind = base_type(column_type or "")
    if function not in FUNCTIONS:
        raise ValueError(f"no metric function {function!r}")
    aggregate = "count" if function == "count_distinct" else function
    postgres = dialect.name == "postgres"
    if function == "count_distinct":
        argument = f"DISTINCT {argument}"
    elif function == "sum" and result_type(function, column_type) == "DOUBLE":
        argument = f"CAST({argument} AS {dialect.type_name('DOUBLE')})"
    elif postgres and function in _POSTGRES_BOOLEAN and kind == "BOOLEAN":
        aggregate = _POSTGRES_BOOLEAN[function]
    elif postgres and function in ("min", "max") and kind == "VARCHAR":
        argument = f'{argument} COLLATE "C"'
    result = dialect.type_name(result_type(function, column_type))
    return f"CAST({aggregate}({argument}) AS {result})"
