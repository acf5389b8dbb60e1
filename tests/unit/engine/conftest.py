"""A small warehouse full of values that break naive writers, and plans that read it.

The table has the columns of tables.yaml's customer_profile, so plans come from the real
loader and plan builder; values cycle through NASTY so every one meets every writer.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec.loader import Project, load_project
from ferry.staging import run_location

from .helpers import ROOT, ROWS, export_spec, profile_row


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "fixture.duckdb"
    project = load_project(ROOT / "include")
    columns = project.tables["customer_profile"].columns
    with duckdb.connect(str(path)) as con:
        ddl = ", ".join(f'"{name}" {spec.type}' for name, spec in columns.items())
        con.execute(f"CREATE TABLE customer_profile ({ddl})")
        marks = ", ".join("?" * len(columns))
        rows = [profile_row(i) for i in range(ROWS)]
        con.executemany(f"INSERT INTO customer_profile VALUES ({marks})", rows[::-1])
    return path


@pytest.fixture(scope="session")
def project() -> Project:
    return load_project(ROOT / "include")


@pytest.fixture
def make_plan(project, tmp_path):
    """Build the plan of an export defined by keyword arguments, staged under tmp_path."""

    def make(run_id: str = "manual__2026-01-15", staging: Path | None = None, **overrides):
        spec = export_spec(**overrides)
        project.exports[spec.id] = spec
        run = RunInfo(export_id=spec.id, run_id=run_id)
        root = str(staging or tmp_path / "staging")
        return build_plan(project, spec.id, run, run_location(root, spec.id, run.safe_run_id))

    return make
