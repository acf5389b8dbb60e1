"""A tiny warehouse whose every row is written down here, and plans that read it.

For the tests of which rows a run selects (window, dates, hours, on-demand dates and ids)
and of values written under bound WHERE values or another time zone: the expected rows
are read off the table below, never computed by Ferry's own functions.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ferry.engine import extract
from ferry.plan import ExportPlan, build_plan
from ferry.run_info import RunInfo
from ferry.spec import models
from ferry.spec.loader import Project, load_project
from ferry.staging import run_location

TABLES = """\
tables:
  visit:
    key: visit_id
    timestamp: seen_at
    columns:
      visit_id: {type: BIGINT}
      email: {type: VARCHAR, pii: true}
      phone: {type: VARCHAR, pii: true}
      state: {type: VARCHAR}
      seen_at: {type: TIMESTAMP}
      seen_tz: {type: TIMESTAMPTZ}
  coupon:
    key: code
    columns:
      code: {type: VARCHAR}
      label: {type: VARCHAR}
"""


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts)


# visit_id -> seen_at (naive UTC); seen_tz holds the same instant as a TIMESTAMPTZ
SEEN = {
    1: at(2026, 3, 9, 23, 59, 59, 999_999),  # a microsecond before 10 March
    2: at(2026, 3, 10),  # midnight starting 10 March
    3: at(2026, 3, 10, 8, 59, 59),  # hour 8
    4: at(2026, 3, 10, 9),  # hour 9
    5: at(2026, 3, 10, 16, 59, 59, 999_999),  # hour 16
    6: at(2026, 3, 10, 17),  # hour 17
    7: at(2026, 3, 10, 23, 59, 59, 999_999),  # the last moment of 10 March
    8: at(2026, 3, 11),  # midnight starting 11 March
    9: at(2026, 3, 11, 12),
    10: at(2026, 3, 12),
    11: at(2026, 3, 12, 23, 59, 59, 999_999),
    12: at(2026, 3, 13),
    13: None,
}
STATES = {1: "TX", 2: "CA", 3: "TX", 4: "NY", 5: "TX", 6: "CA", 7: "TX", 8: "TX", 9: "CA",
          10: "TX", 11: "NY", 12: "TX", 13: "TX"}  # fmt: skip
COUPONS = {"A-1": "first", "b 2": "with a space", "C'3": "with a quote", "100": "digits",
           "ÉTÉ-24": "not ascii"}  # fmt: skip


def email_of(visit_id: int) -> str:
    return f" Visitor{visit_id}@Example.com"  # a space and capitals: normalize has work


def phone_of(visit_id: int) -> str:
    return f"+1 555-010-{visit_id:04d}"


def build_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "CREATE TABLE visit (visit_id BIGINT, email VARCHAR, phone VARCHAR, state VARCHAR, "
            "seen_at TIMESTAMP, seen_tz TIMESTAMPTZ)"
        )
        for visit_id, seen in SEEN.items():
            aware = seen.replace(tzinfo=dt.UTC) if seen else None
            row = (visit_id, email_of(visit_id), phone_of(visit_id), STATES[visit_id], seen, aware)
            con.execute("INSERT INTO visit VALUES (?, ?, ?, ?, ?, ?)", row)
        con.execute("CREATE TABLE coupon (code VARCHAR, label VARCHAR)")
        con.executemany("INSERT INTO coupon VALUES (?, ?)", list(COUPONS.items()))
    return path


def build_project(folder: Path) -> Project:
    include = folder / "include"
    (include / "warehouse").mkdir(parents=True)
    (include / "exports").mkdir()
    (include / "warehouse" / "tables.yaml").write_text(TABLES)
    project = load_project(include)
    assert not project.errors, project.errors
    return project


def plan_of(project: Project, staging: Path, run: RunInfo | None = None, **export) -> ExportPlan:
    """The plan of an export of visit (keyword arguments override its YAML keys)."""
    spec = models.ExportSpec.model_validate(
        {"id": "visits", "name": "Visits", "source": {"table": "visit"},
         "fields": ["visit_id", "seen_at"], "destinations": [{"type": "download"}], **export}
    )  # fmt: skip
    project.exports[spec.id] = spec
    run = run or RunInfo(spec.id, "manual__test")
    location = run_location(str(staging), spec.id, run.safe_run_id)
    return build_plan(project, spec.id, run, location)


def delivered(plan: ExportPlan, warehouse: Path, pii_key: bytes | None = None) -> list[dict]:
    """The rows of the run's CSV files, as the csv module reads them."""
    manifest = extract(plan, source=warehouse, pii_key=pii_key)
    rows = []
    for staged in manifest.data_files:
        text = (plan.staging_dir / staged.name).read_text(encoding="utf-8")
        rows += list(csv.DictReader(io.StringIO(text, newline="")))
    return rows


def visit_ids(rows: list[dict]) -> list[int]:
    return [int(row["visit_id"]) for row in rows]


@contextlib.contextmanager
def machine_time_zone(name: str) -> Iterator[None]:
    """This process as if on a machine set to zone name: Python's and DuckDB's local time."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        with duckdb.connect() as con:  # a session that sets nothing follows the machine
            assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == name
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()
