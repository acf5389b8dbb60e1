"""Exports written into a copy of include/ that has a tiny target, for the tests of the
checks (ferry.checks) and of `ferry preview` (ferry.preview).

Expected rows are computed in Python from the warehouse's own tables (see query).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb

from ferry import pipeline
from ferry.definitions import current_project
from ferry.run_info import RunInfo
from include_copy import copy_include

NOT_ELIGIBLE = (
    "The following segment is not eligible for this export destination: '{name}'. "
    "Please choose only segments of type {kind} and try again."
)
EXPORT = """\
id: {id}
name: Test export {id}
kind: segment
source: {{segment: {segment}}}
target: {target}
destinations: [{{type: download}}]
"""
TINY_TARGET = """\
  tiny_crm:
    name: Tiny CRM
    segment_types: [customer_profile, contact]
    required_fields: [email]
    max_rows: 3000
    warn_rows: 1000
"""
WITH_EMAIL = "fields: [email]\npii: {email: keep}\n"


def include_with_tiny_target(folder: Path) -> Path:
    """A copy of include/ in folder whose targets.yaml also has tiny_crm."""
    target = copy_include(folder)
    with (target / "targets.yaml").open("a") as targets:
        targets.write(TINY_TARGET)
    return target


def add_export(include: Path, export_id: str, segment: str, target: str, extra: str = "") -> str:
    text = EXPORT.format(id=export_id, segment=segment, target=target) + textwrap.dedent(extra)
    (include / "exports" / f"{export_id}.yaml").write_text(text)
    assert not current_project().errors, current_project().errors
    return export_id


def plan_of(export_id: str, run_id: str = "manual__test"):
    return pipeline.plan_for(RunInfo(export_id=export_id, run_id=run_id))


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()
