"""Time chunks (format.chunk_by): one file set per period of a column's time.

A period is an hour, day, week or month of the column's value at UTC, weeks starting on
Monday, as report buckets (ferry.report_sql.bucket_sql). Its files are named
<stem>_<period>_<part>.<ext>, the period spelled so names sort in time order and hold
only letters, digits and '-':

    hour   2026-01-26T05      day    2026-01-26
    week   2026-W05 (ISO)     month  2026-01
    undated: rows whose column is NULL, infinite or outside the years 0001-9999
             (after every period)

The periods are listed first, with each one's row count and key bounds, in one grouped
query the source runs (pushed down to Postgres); each period is then read with the
export's usual key-sliced read plus a range condition on the column, so rows keep key
order inside a period and memory stays flat. The range's ends are bound values; the
column is a quoted tables.yaml name, checked at load. An empty result has no period:
it keeps the one empty file of an unchunked export, <stem>_00001.<ext>.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ferry.column_types import base_type, canonical_type
from ferry.engine.query import Stats, rows_in
from ferry.engine.read import Reader
from ferry.plan import ExportPlan
from ferry.report_sql import bucket_sql
from ferry.spec.models import ChunkBy
from ferry.spec.report import GroupBucket
from ferry.sql import Sql, quote

UNDATED = "undated"  # the label of the rows with no period (NULL, infinite, beyond 0001-9999)
_PERIOD_ALIAS = "__ferry_period"


@dataclass(frozen=True)
class FileSet:
    """The rows of one file set: their file name stem, their read and their count."""

    name: str
    reader: Reader
    found: Stats


def file_sets(plan: ExportPlan, reader: Reader, found: Stats) -> list[FileSet]:
    """The export's file sets: one without chunk_by (or with no rows), else one a period."""
    chunk_by = plan.format.chunk_by
    if chunk_by is None or not found.rows:
        return [FileSet(plan.file_name, reader, found)]
    column_type = plan.table_types[chunk_by.column]
    sets = []
    for start, period in _periods(plan, reader, chunk_by, column_type):
        narrowed = reader.narrowed(period_condition(chunk_by, column_type, start, plan))
        sets.append(FileSet(f"{plan.file_name}_{label(chunk_by.every, start)}", narrowed, period))
    return sets


def _periods(
    plan: ExportPlan, reader: Reader, chunk_by: ChunkBy, column_type: str
) -> list[tuple[dt.date | dt.datetime | None, Stats]]:
    """Each period's start (None: undated), rows and key bounds, in time order, undated last."""
    bucket = GroupBucket(column=chunk_by.column, bucket=chunk_by.every)
    dated = _dated(chunk_by, column_type, plan)
    expression = f"CASE WHEN {dated.text} THEN {bucket_sql(bucket, column_type, plan.dialect)} END"
    rows = rows_in(plan, reader.snapshot.relation(plan.source_table))
    key, alias = quote(plan.key), quote(_PERIOD_ALIAS)
    text = (
        f"SELECT {expression} AS {alias}, count(*), min({key}), max({key}) "
        f"FROM {rows.text} WHERE {rows.where.text} GROUP BY 1 ORDER BY 1 NULLS LAST"
    )
    params = dated.params + rows.params + rows.where.params
    table = reader.snapshot.query(Sql(text, params)).read_all()
    starts, *stats = (column.to_pylist() for column in table.columns)
    return [(start, Stats(*row)) for start, *row in zip(starts, *stats, strict=True)]


def period_condition(
    chunk_by: ChunkBy, column_type: str, start: dt.date | dt.datetime | None, plan: ExportPlan
) -> Sql:
    """The rows of the period that starts at start (None: the undated rows).

    A range on the column itself, bounds of its own type (a TIMESTAMPTZ's at UTC), not its
    bucket: DuckDB skips row groups by their min/max and Postgres can use an index.
    """
    if start is None:
        dated = _dated(chunk_by, column_type, plan)
        return Sql(f"NOT coalesce({dated.text}, FALSE)", dated.params)
    column, bound_type, kind = _compared(chunk_by, column_type, plan)
    end = period_end(chunk_by.every, start)
    low = f"{column} >= CAST(? AS {bound_type})"
    if end is None:  # the last period file names can carry: up to the last moment of 9999
        high, end = f"{column} <= CAST(? AS {bound_type})", dt.datetime.max
    else:
        high = f"{column} < CAST(? AS {bound_type})"
    return Sql(f"{low} AND {high}", (_as_bound(start, kind), _as_bound(end, kind)))


def _dated(chunk_by: ChunkBy, column_type: str, plan: ExportPlan) -> Sql:
    """Whether a row's time has a period: not NULL, not infinite, within the years 0001 to
    9999 (those file names carry, and Python holds)."""
    column, bound_type, kind = _compared(chunk_by, column_type, plan)
    text = f"{column} BETWEEN CAST(? AS {bound_type}) AND CAST(? AS {bound_type})"
    return Sql(text, (_as_bound(dt.datetime.min, kind), _as_bound(dt.datetime.max, kind)))


def _compared(chunk_by: ChunkBy, column_type: str, plan: ExportPlan) -> tuple[str, str, str]:
    """The column, the type its bounds are cast to (its own), its kind."""
    kind = base_type(canonical_type(column_type))  # DATE, TIMESTAMP or TIMESTAMPTZ (load)
    return quote(chunk_by.column), plan.dialect.type_name(kind), kind


def _as_bound(moment: dt.date | dt.datetime, kind: str) -> dt.date | dt.datetime:
    """A period's end as the column holds it: a date, a timestamp, or one at UTC."""
    if kind == "DATE":
        return moment.date() if isinstance(moment, dt.datetime) else moment
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time())
    return moment.replace(tzinfo=dt.UTC if kind == "TIMESTAMPTZ" else None)


def period_end(every: str, start: dt.date | dt.datetime) -> dt.date | dt.datetime | None:
    """Where the period that starts at start ends (exclusive); None: after the year 9999."""
    try:
        return _end(every, start)
    except (OverflowError, ValueError):
        return None


def _end(every: str, start: dt.date | dt.datetime) -> dt.date | dt.datetime:
    if every == "hour":
        return start + dt.timedelta(hours=1)
    if every == "day":
        return start + dt.timedelta(days=1)
    if every == "week":
        return start + dt.timedelta(weeks=1)
    if every == "month":
        year, month = divmod(start.month, 12)
        return start.replace(year=start.year + year, month=month + 1, day=1)
    raise KeyError(f"no period {every!r}")


def label(every: str, start: dt.date | dt.datetime | None) -> str:
    """The period as file names carry it (see the module's docstring)."""
    if start is None:
        return UNDATED
    date = f"{start.year:04d}-{start.month:02d}"
    if every == "month":
        return date
    if every == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    date += f"-{start.day:02d}"
    if every == "hour":
        hour = start.hour if isinstance(start, dt.datetime) else 0
        return f"{date}T{hour:02d}"
    return date
