"""The plan: plain Python saying what one run of an export reads, shapes and writes.

Built from the spec and the run (its interval, its on-demand params) without Airflow, so
the engine, the CLI and the benchmarks run the same plan the DAG runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.column_types import canonical_type
from ferry.report_sql import ReportQuery, report_query
from ferry.run_info import RunInfo, naive_utc
from ferry.spec import models
from ferry.spec.columns import OutputColumn, output_columns
from ferry.spec.loader import Project
from ferry.sql import DUCKDB, Dialect, Sql, bound, compile_condition, compile_rule, quote

if TYPE_CHECKING:
    from ferry.staging.location import RunLocation

PEOPLE_OPEN = ("email", "download")  # destinations whose files people open in spreadsheets
CHANGE_KINDS = ("added", "changed", "removed")
CHANGE_COLUMN = "_change"


@dataclass(frozen=True)
class ChangesPlan:
    """A changes-only export: rows are diffed by key against the last delivered state.

    Attributes:
        key: The source column that identifies a row (changes.key, else the table's key).
        output: column (one file set, a last column _change) or files (a set per kind).
    """

    key: str
    output: str = "column"


@dataclass(frozen=True)
class ExportPlan:
    """What one run of one export does, with no Airflow in it."""

    export: models.ExportSpec
    target: models.TargetSpec | None  # the export's target, for the checks; None without one
    segment: models.SegmentSpec | None  # the segment a segment export reads; else None
    run: RunInfo
    table: str
    key: str
    columns: tuple[OutputColumn, ...]
    where: Sql
    excluded_pii: tuple[str, ...] = ()
    connection: str = "ferry_warehouse"  # the Airflow connection the table lives on
    source_table: str = ""  # the table's name in its source (tables.yaml name:)
    # column -> canonical type of what the source sends: the table's, or the report's columns
    table_types: dict[str, str] = field(default_factory=dict)
    tables_read: tuple[str, ...] = ()  # source names where reads, the table's first
    read_types: dict[str, dict[str, str]] = field(default_factory=dict)  # source name -> types
    dialect: Dialect = DUCKDB  # of where
    staging_dir: Path = field(default=Path("."))  # local: staging itself; remote: a cache
    staging_url: str = ""  # the run's remote prefix (ferry.staging); "" when staged locally
    report: ReportQuery | None = None  # a report's groups over the rows where chooses
    changes: ChangesPlan | None = None  # a changes-only export's key and output

    @property
    def format(self) -> models.Format:
        """The export's format, formula_guard decided (see models.Format)."""
        fmt = self.export.format
        if fmt.formula_guard is not None:
            return fmt
        opened = any(d.type in PEOPLE_OPEN for d in self.export.destinations)
        return fmt.model_copy(update={"formula_guard": opened and fmt.type in ("csv", "tsv")})

    @property
    def file_name(self) -> str:
        return self.export.file_name


def build_plan(
    project: Project, export_id: str, run: RunInfo, location: RunLocation,
    dialect: Dialect = DUCKDB,
) -> ExportPlan:  # fmt: skip
    """Resolve an export's table, columns and row filter for one run staged at location.

    location is where the run is staged (ferry.staging.run_location, from FERRY_STAGING);
    dialect is the SQL of the table's source (ferry.sources: source_for(...).dialect).
    """
    export = project.exports[export_id]
    table_name = project.table_of(export)
    table = project.tables[table_name]
    columns, excluded = output_columns(export, table)
    read = [table_name] + _segment_tables(project, export)
    report = _report_of(export, table, dialect)
    changes = _changes_of(export, table)
    return ExportPlan(
        export=export,
        target=project.targets.get(export.target or ""),
        segment=_segment_of(project, export),
        run=run,
        table=table_name,
        key=changes.key if changes else table.key,  # rows leave in the order of the diff's key
        columns=columns,
        where=row_filter(project, export, run, dialect),
        excluded_pii=excluded,
        connection=table.connection,
        source_table=table.source_name(table_name),
        table_types={c.name: c.type for c in columns} if report else _types(table),
        tables_read=tuple(dict.fromkeys(project.tables[t].source_name(t) for t in read)),
        read_types={project.tables[t].source_name(t): _types(project.tables[t]) for t in read},
        dialect=dialect,
        staging_dir=location.folder,
        staging_url=location.url,
        report=report,
        changes=changes,
    )


def _changes_of(export: models.ExportSpec, table: models.TableSpec) -> ChangesPlan | None:
    """The changes-only part of the plan; the loader checked the key (spec.changes_rules)."""
    if export.changes is None:
        return None
    return ChangesPlan(key=export.changes.key or table.key, output=export.changes.output)


def _types(table: models.TableSpec) -> dict[str, str]:
    """A table's columns and their canonical types, as tables.yaml declares them."""
    return {name: column.type for name, column in table.columns.items()}


def _report_of(
    export: models.ExportSpec, table: models.TableSpec, dialect: Dialect
) -> ReportQuery | None:
    if not isinstance(export.source, models.ReportSource):
        return None
    return report_query(export.source, table.columns, dialect)


def row_filter(
    project: Project, export: models.ExportSpec, run: RunInfo, dialect: Dialect = DUCKDB
) -> Sql:
    """Everything that chooses rows: segment, window or on-demand dates, fields, ids."""
    table = project.tables[project.table_of(export)]
    parts = [_segment_filter(project, export, run, dialect)]
    parts.append(_time_filter(export.filters, run, dialect))
    parts += [compile_condition(c, table.columns, run.now, dialect) for c in export.filters.where]
    if run.ids:
        ids = bound(canonical_type(table.columns[table.key].type), run.ids, dialect)
        parts.append(Sql(f"{quote(table.key)} IN ({ids.text})", ids.params))
    return Sql.join(parts)


def _segment_tables(project: Project, export: models.ExportSpec) -> list[str]:
    """The tables a segment's filter reads besides the export's own (contacts_of_accounts)."""
    segment = _segment_of(project, export)
    if segment is None or not export.contacts_of_accounts:
        return []
    return [project.table_for_segment_type(segment.type)]


def _segment_of(project: Project, export: models.ExportSpec) -> models.SegmentSpec | None:
    if not isinstance(export.source, models.SegmentSource):
        return None
    return project.segments[export.source.segment]


def _segment_filter(
    project: Project, export: models.ExportSpec, run: RunInfo, dialect: Dialect
) -> Sql:
    segment = _segment_of(project, export)
    if segment is None:
        return Sql("TRUE")
    segment_table = project.table_for_segment_type(segment.type)
    table = project.tables[segment_table]
    rule = compile_rule(segment.rules, table.columns, run.now, dialect)
    if not export.contacts_of_accounts:
        return rule
    key = quote(table.key)
    source = dialect.table(table.source_name(segment_table))
    subquery = f"SELECT {key} FROM {source} WHERE {rule.text}"
    return Sql(f"{key} IN ({subquery})", rule.params)


def _time_filter(filters: models.Filters, run: RunInfo, dialect: Dialect) -> Sql:
    """On-demand dates override the window; the run's interval applies otherwise."""
    column = filters.window.column if filters.window else filters.date_column
    if column and (run.date_from or run.date_to):
        low, high = run.date_from or dt.date.min, run.date_to or dt.date.max
        return Sql(f"CAST({quote(column)} AS DATE) BETWEEN ? AND ?", (low, high))
    parts = []
    start, end = naive_utc(run.data_interval_start), naive_utc(run.data_interval_end)
    if filters.window and start and end and start < end:
        parts.append(Sql(f"{quote(column)} >= ? AND {quote(column)} < ?", (start, end)))
    parts += _calendar_filters(filters, dialect)
    return Sql.join(parts)


def _calendar_filters(filters: models.Filters, dialect: Dialect) -> list[Sql]:
    column = quote(filters.date_column or "")
    parts = []
    if filters.dates:
        marks = ", ".join("?" * len(filters.dates))
        parts.append(Sql(f"CAST({column} AS DATE) IN ({marks})", tuple(filters.dates)))
    if filters.date_range:
        range_ = filters.date_range
        parts.append(Sql(f"CAST({column} AS DATE) BETWEEN ? AND ?", (range_.start, range_.end)))
    if filters.hours:
        parts.append(
            Sql(
                f"{dialect.hour(column)} >= ? AND {dialect.hour(column)} < ?",
                (filters.hours.start, filters.hours.end),
            )
        )
    return parts
