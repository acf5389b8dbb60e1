"""A small event table with known times, and the export plans that chunk it by time.

Row ids and their times (UTC); created_tz holds the same instants written at -05:00 and
day the same dates, so every column splits the rows alike. Stored in reverse key order.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from ferry.engine import extract
from ferry.manifest import Manifest
from ferry.plan import ExportPlan, build_plan
from ferry.run_info import RunInfo
from ferry.spec import models
from ferry.spec.loader import Project, load_project
from ferry.sql import DUCKDB, Dialect
from ferry.staging import run_location

TABLES = """\
tables:
  event:
    key: id
    columns:
      id: {type: BIGINT}
      created_at: {type: TIMESTAMP}
      created_tz: {type: TIMESTAMPTZ}
      day: {type: DATE}
      note: {type: VARCHAR}
"""
TIMES = {
    1: "2026-01-26 05:10:00",  # Monday of ISO week 5
    2: "2026-01-25 23:59:59",  # the Sunday before: week 4
    3: None,
    4: "2026-01-26 05:59:59.999",
    5: "2026-02-01 00:00:00",  # Sunday: still week 5, but February
    6: "2026-02-02 00:00:00",  # Monday: week 6
    7: "2025-12-29 10:00:00",  # Monday: ISO week 1 of 2026, December 2025
    8: "2026-01-26 06:00:00",
    9: None,
    10: "2026-01-31 12:00:00",
}
# what a user expects: file set label -> ids, in key order
EXPECTED = {
    "hour": {
        "2025-12-29T10": [7], "2026-01-25T23": [2], "2026-01-26T05": [1, 4],
        "2026-01-26T06": [8], "2026-01-31T12": [10], "2026-02-01T00": [5],
        "2026-02-02T00": [6], "undated": [3, 9],
    },
    "day": {
        "2025-12-29": [7], "2026-01-25": [2], "2026-01-26": [1, 4, 8], "2026-01-31": [10],
        "2026-02-01": [5], "2026-02-02": [6], "undated": [3, 9],
    },
    "week": {
        "2026-W01": [7], "2026-W04": [2], "2026-W05": [1, 4, 5, 8, 10], "2026-W06": [6],
        "undated": [3, 9],
    },
    "month": {"2025-12": [7], "2026-01": [1, 2, 4, 8, 10], "2026-02": [5, 6], "undated": [3, 9]},
}  # fmt: skip


def event_rows() -> list[tuple]:
    rows = []
    for key, text in TIMES.items():
        moment = dt.datetime.fromisoformat(text) if text else None
        at_minus_five = moment and (moment - dt.timedelta(hours=5)).isoformat() + "-05:00"
        rows.append((key, moment, at_minus_five, moment and moment.date(), f"row {key}"))
    return rows


def event_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE event (id BIGINT, created_at TIMESTAMP, created_tz TIMESTAMPTZ, "
            "day DATE, note VARCHAR)"
        )
        con.executemany("INSERT INTO event VALUES (?, ?, ?, ?, ?)", event_rows()[::-1])
    return path


def event_project(folder: Path, tables: str = TABLES) -> Project:
    include = folder / "include"
    (include / "warehouse").mkdir(parents=True, exist_ok=True)
    (include / "exports").mkdir(exist_ok=True)
    (include / "warehouse" / "tables.yaml").write_text(tables)
    project = load_project(include)
    assert not project.errors, project.errors
    return project


def chunked_plan(
    project: Project, staging: Path, fmt: dict, dialect: Dialect = DUCKDB, **definition
) -> ExportPlan:
    spec = models.ExportSpec.model_validate(
        {"id": "chunked", "name": "Chunked", "source": {"table": "event"},
         "fields": ["id", "note"], "format": fmt, "destinations": [{"type": "download"}],
         **definition}
    )  # fmt: skip
    project.exports[spec.id] = spec
    run = RunInfo(export_id=spec.id, run_id="manual__2026-02-03")
    return build_plan(project, spec.id, run, run_location(str(staging), spec.id, "r"), dialect)


def run_chunked(project: Project, source, staging: Path, fmt: dict, **definition) -> Manifest:
    dialect = definition.pop("dialect", DUCKDB)
    plan = chunked_plan(project, staging, fmt, dialect, **definition)
    return extract(plan, source=source, pii_key=None)
