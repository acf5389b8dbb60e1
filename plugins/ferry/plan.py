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
from ferry.run_info import RunInfo, naive_utc
from ferry.spec import models
from ferry.spec.columns import OutputColumn, output_columns
from ferry.spec.loader import Project
from ferry.sql import Sql, compile_condition, compile_rule, quote

if TYPE_CHECKING:
    from ferry.staging.location import RunLocation

PEOPLE_OPEN = ("email", "download")  # destinations whose files people open in spreadsheets


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
    staging_dir: Path = field(default=Path("."))  # local: staging itself; remote: a cache
    staging_url: str = ""  # the run's remote prefix (ferry.staging); "" when staged locally

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


def build_plan(project: Project, export_id: str, run: RunInfo, location: RunLocation) -> ExportPlan:
    """Resolve an export's table, columns and row filter for one run staged at location.

    location is where the run is staged (ferry.staging.run_location, from FERRY_STAGING).
    """
    export = project.exports[export_id]
    table_name = project.table_of(export)
    table = project.tables[table_name]
    columns, excluded = output_columns(export, table)
    return ExportPlan(
        export=export,
        target=project.targets.get(export.target or ""),
        segment=_segment_of(project, export),
        run=run,
        table=table_name,
        key=table.key,
        columns=columns,
        where=row_filter(project, export, run),
        excluded_pii=excluded,
        staging_dir=location.folder,
        staging_url=location.url,
    )


def row_filter(project: Project, export: models.ExportSpec, run: RunInfo) -> Sql:
    """Everything that chooses rows: segment, window or on-demand dates, fields, ids."""
    table = project.tables[project.table_of(export)]
    parts = [_segment_filter(project, export, run)]
    parts.append(_time_filter(export.filters, run))
    parts += [compile_condition(c, table.columns, run.now) for c in export.filters.where]
    if run.ids:
        key_type = canonical_type(table.columns[table.key].type)
        placeholders = ", ".join([f"CAST(? AS {key_type})"] * len(run.ids))
        parts.append(Sql(f"{quote(table.key)} IN ({placeholders})", tuple(run.ids)))
    return Sql.join(parts)


def _segment_of(project: Project, export: models.ExportSpec) -> models.SegmentSpec | None:
    if not isinstance(export.source, models.SegmentSource):
        return None
    return project.segments[export.source.segment]


def _segment_filter(project: Project, export: models.ExportSpec, run: RunInfo) -> Sql:
    segment = _segment_of(project, export)
    if segment is None:
        return Sql("TRUE")
    segment_table = project.table_for_segment_type(segment.type)
    rule = compile_rule(segment.rules, project.tables[segment_table].columns, run.now)
    if not export.contacts_of_accounts:
        return rule
    key = quote(project.tables[segment_table].key)
    subquery = f"SELECT {key} FROM {quote(segment_table)} WHERE {rule.text}"
    return Sql(f"{key} IN ({subquery})", rule.params)


def _time_filter(filters: models.Filters, run: RunInfo) -> Sql:
    """On-demand dates override the window; the run's interval applies otherwise."""
    column = filters.window.column if filters.window else filters.date_column
    if column and (run.date_from or run.date_to):
        low, high = run.date_from or dt.date.min, run.date_to or dt.date.max
        return Sql(f"CAST({quote(column)} AS DATE) BETWEEN ? AND ?", (low, high))
    parts = []
    start, end = naive_utc(run.data_interval_start), naive_utc(run.data_interval_end)
    if filters.window and start and end and start < end:
        parts.append(Sql(f"{quote(column)} >= ? AND {quote(column)} < ?", (start, end)))
    parts += _calendar_filters(filters)
    return Sql.join(parts)


def _calendar_filters(filters: models.Filters) -> list[Sql]:
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
                f"hour({column}) >= ? AND hour({column}) < ?",
                (filters.hours.start, filters.hours.end),
            )
        )
    return parts
