"""Limits on a Postgres source: the count and size estimate are DuckDB's, and check_limits
(which finds the source from the table's Airflow connection) skips or warns as on DuckDB."""

from __future__ import annotations

import logging
import re

import pytest
from tests.unit.engine.helpers import ROOT

from ferry import engine
from ferry.checks import check_limits
from ferry.exceptions import ExportSkipped
from ferry.sources import source_for
from ferry.spec.loader import load_project
from ferry.sql import DUCKDB, POSTGRES

from .conftest import on_postgres, plan_for

pytestmark = pytest.mark.integration

HIGH_VALUE = {"all": [{"field": "lifetime_value", "op": "gt", "value": 500}]}


@pytest.fixture
def pg_project(demo_in_postgres, postgres, monkeypatch):
    """The demo project with its tables on the pg_warehouse connection, defined as Airflow
    finds it (AIRFLOW_CONN_PG_WAREHOUSE)."""
    monkeypatch.setenv(*postgres.connection("pg_warehouse"))
    return on_postgres(load_project(ROOT / "include"))


def export(limits: dict) -> dict:
    return {"id": "limited", "source": {"table": "customer_profile"},
            "fields": ["profile_id", "city", "state", "notes"], "limits": limits,
            "filters": {"where": [{"field": "lifetime_value", "op": "gt", "value": 500}]},
            "format": {"type": "csv", "compression": "gzip"}}  # fmt: skip


def test_count_and_size_are_the_same_as_from_duckdb(pg_project, demo_in_postgres, tmp_path):
    duck = plan_for(load_project(ROOT / "include"), tmp_path / "d", export({}), DUCKDB)
    from_duckdb = engine.count(duck, source=demo_in_postgres)
    pg = plan_for(pg_project, tmp_path / "p", export({}), POSTGRES)
    from_postgres = engine.count(pg, source=source_for(pg.connection))
    assert from_postgres == from_duckdb
    assert 0 < from_postgres[0] < 20_000 and from_postgres[1] > 0


@pytest.mark.parametrize(
    "limits, reason",
    [
        ({"max_rows": 1000}, "rows is over the maximum of 1,000 rows (export limited)"),
        ({"max_bytes": "10KB"}, "bytes is over the maximum of 10,000 bytes (export limited)"),
    ],
)
def test_over_a_maximum_the_export_is_skipped_with_the_reason(
    limits, reason, pg_project, tmp_path, caplog
):
    plan = plan_for(pg_project, tmp_path, export(limits), POSTGRES)
    with pytest.raises(ExportSkipped, match=re.escape(reason)):
        check_limits(plan, log=logging.getLogger("test.limits"), record=False)
    assert "Skipping export limited: " in caplog.text and "nothing is delivered" in caplog.text


def test_over_a_warning_size_it_warns_and_goes_on(pg_project, tmp_path, caplog):
    plan = plan_for(pg_project, tmp_path, export({"warn_rows": 100, "warn_bytes": "1KB"}))
    caplog.set_level(logging.INFO)
    found = check_limits(plan, log=logging.getLogger("test.limits"), record=False)
    assert 100 < found["rows"] < 20_000
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"Large export limited: {found['rows']:,} rows is over the warning size of 100 rows "
        "(export limited)",
        f"Large export limited: {found['estimated_bytes']:,} bytes is over the warning size of "
        "1,000 bytes (export limited)",
    ]
