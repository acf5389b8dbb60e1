"""A small warehouse full of values that break naive writers, and plans that read it.

The table has the columns of tables.yaml's customer_profile, so plans come from the real
loader and plan builder; values cycle through NASTY so every one meets every writer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec.loader import Project, load_project
from ferry.sql import DUCKDB
from ferry.staging import run_location

from .helpers import ROOT, export_spec, nasty_warehouse


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Path:
    return nasty_warehouse(tmp_path_factory.mktemp("warehouse") / "fixture.duckdb")


@pytest.fixture(scope="session")
def project() -> Project:
    return load_project(ROOT / "include")


@pytest.fixture
def make_plan(project, tmp_path):
    """Build the plan of an export defined by keyword arguments, staged under tmp_path."""

    def make(
        run_id: str = "manual__2026-01-15", staging: Path | None = None, dialect=DUCKDB,
        **overrides,
    ):  # fmt: skip
        spec = export_spec(**overrides)
        project.exports[spec.id] = spec
        run = RunInfo(export_id=spec.id, run_id=run_id)
        location = run_location(str(staging or tmp_path / "staging"), spec.id, run.safe_run_id)
        return build_plan(project, spec.id, run, location, dialect)

    return make
